// Per-target body of the distance kernels, included once per Highway target by
// distance_kernels.cpp (foreach_target.h). Not compiled on its own.
//
// Bit-identity contract: whichever entry point computes a (query, row) distance, on one target
// it gets the same bits, because every step is a function of that pair alone:
//  - the V dot product has one vector accumulator per pair: MulAdd over the padded stride in
//    order, lane l summing the elements c = l (mod lanes) (cache blocking along m stores and
//    reloads the accumulator unchanged);
//  - ReduceLanes turns the accumulators of `lanes` pairs into one vector of their sums, in a
//    fixed tree over lane positions (the order of Highway's SumOfLanes, which every entry point
//    used before this kernel was blocked: on AVX2 and AVX-512 the bits did not move);
//  - r2 is a sum over the dimensions in order, of separately rounded products (equal to
//    distance_scalar's r2, so Euclidean distances match the scalar reference exactly);
//  - Finisher::FinishN is lane-wise (ExpN is hn::Exp's operations, interleaved).
// So neither the register tile, nor the batch, nor packing (which only moves operands), nor a
// lane position changes a bit. Targets differ from each other (lane count changes the order).
//
// Tried and measured, not kept: replacing the finish's per-pair sqrt(p_q p_r) and division by
// per-row and per-query 1/sqrt(p) (computed once per chunk row, multiplied per pair). No gain
// at m = 64, where the finish weighs most (block kernel 11.9-12.9 GFLOP/s before and after,
// one core, kernel-bench): the square roots and divisions overlap with the FMAs already.
#if defined(CTB_METRIC_DISTANCE_KERNELS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef CTB_METRIC_DISTANCE_KERNELS_INL_
#undef CTB_METRIC_DISTANCE_KERNELS_INL_
#else
#define CTB_METRIC_DISTANCE_KERNELS_INL_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "hwy/cache_control.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "metric/distance_kernels.hpp"
#include "metric/euclid_distance.hpp"
#include "metric/metric.hpp"

HWY_BEFORE_NAMESPACE();
namespace ctb {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<double>;
using DI = hn::RebindToSigned<DF>;
using VF = hn::Vec<DF>;
constexpr size_t kL = hn::MaxLanes(DF());

// Register tile of the GEMM-shaped kernel: kTileQ queries x kTileR rows, one vector
// accumulator each, plus kTileR row vectors and one query vector live per step.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// 24 accumulators + 4 rows + 1 query of 32 zmm; 10 loads per 24 FMAs.
constexpr size_t kTileQ = 6;
constexpr size_t kTileR = 4;
#elif HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR
// Portable fallback: no register file to fit; a small tile keeps the arrays cheap.
constexpr size_t kTileQ = 4;
constexpr size_t kTileR = 2;
#else
// AVX2 and SSE4: 12 accumulators + 2 rows + 1 query of 16 registers; 8 loads per 12 FMAs,
// and only the 2 row vectors per step come from L2 (the query panel stays in L1).
constexpr size_t kTileQ = 6;
constexpr size_t kTileR = 2;
#endif
// Groups of kL pairs finished together (interleaved, see ExpN).
constexpr size_t kG = 4;
// One query against several rows: independent accumulators to hide the MulAdd latency.
constexpr size_t kRowsOne = 8;
// Rows per chunk of the block kernel: the chunk's V rows (64 x 4 KiB at m = 512) stay in L2
// while every query tile passes over them; its accumulators are kChunk x kTileQ vectors.
constexpr size_t kChunk = 64;
// Doubles of m per cache block: a packed query tile slice (kTileQ x kKBlock doubles, 12 KiB
// on AVX2) stays in L1 while the chunk's rows stream past it, with room to spare (512 was
// measured 4-6% slower on AVX2). V rows are split into balanced blocks of whole cache lines
// (m = 512: two of 256); the accumulators are stored and reloaded between blocks, unchanged.
constexpr size_t kKBlock = 256;
// The next chunk's rows are prefetched during the last this-many query tiles of a chunk.
constexpr size_t kPrefetchTiles = 6;
// Below this many rows per call, packing the queries costs more than it saves.
constexpr size_t kPackMinRows = 96;

// Chunks are padded to whole row tiles and whole vectors.
constexpr size_t kRowAlign = std::lcm(kTileR, kL);
static_assert(kChunk % kRowAlign == 0 && kChunk % kL == 0);

// Prefetch into L2 (the next chunk's rows: L1 holds the query panel).
HWY_INLINE void PrefetchL2(const double* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 2);
#else
  hwy::Prefetch(p);
#endif
}

// A loaded operand kept in a register: without this, compilers fold the load into every FMA
// that uses it (kTileQ loads of one row per step), and the kernel becomes load-bound.
HWY_INLINE VF LoadKept(DF d, const double* HWY_RESTRICT p) {
  VF v = hn::LoadU(d, p);
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR && \
    (defined(__GNUC__) || defined(__clang__))
  asm("" : "+v"(v.raw));
#endif
  return v;
}

// The same for every entry point: the one Euclidean r2 (metric/euclid_distance.hpp).
HWY_INLINE double SquaredDistance(const double* x, const double* y, size_t dim) {
  return euclid_squared(x, y, dim);
}

// acc[(j * NQ + t) * kL] (+)= q_t . r_j over doubles [k0, k1) (multiples of 8), for NQ queries
// and the NR rows rv[j]. Queries: kPackedQ, a panel (element c of query t at
// qpanel + c * NQ + t * kL, so one pointer walks all NQ); else their own V rows qv[t]. `first`
// starts from zero. (Packing the rows as well was measured: no gain.)
// kPrefetch: the rows pf[j] are prefetched alongside, one line per row per 8 doubles (the next
// chunk's rows, or the next tile's).
template <size_t NQ, size_t NR, bool kPackedQ, bool kPrefetch>
HWY_INLINE void MicroTile(const double* HWY_RESTRICT qpanel, const double* const* qv,
                          const double* const* rv, size_t k0, size_t k1, bool first,
                          double* HWY_RESTRICT acc, const double* const* pf) {
  const DF d;
  VF a[NQ][NR];
  for (size_t t = 0; t < NQ; ++t) {
    for (size_t j = 0; j < NR; ++j) {
      a[t][j] = first ? hn::Zero(d) : hn::Load(d, acc + (j * NQ + t) * kL);
    }
  }
  const double* q[NQ];
  for (size_t t = 0; t < NQ; ++t) q[t] = kPackedQ ? qpanel + t * kL : qv[t];
  const double* r[NR];
  for (size_t j = 0; j < NR; ++j) r[j] = rv[j];
  for (size_t c = k0; c < k1; c += 8) {
    if constexpr (kPrefetch) {
      for (size_t j = 0; j < NR; ++j) {
        if (NQ > 1) {
          PrefetchL2(pf[j] + c);
        } else {
          hwy::Prefetch(pf[j] + c);
        }
      }
    }
    for (size_t u = c; u < c + 8; u += kL) {
      VF rr[NR];
      for (size_t j = 0; j < NR; ++j) {
        rr[j] = NQ > 1 ? LoadKept(d, r[j] + u) : hn::LoadU(d, r[j] + u);
      }
      for (size_t t = 0; t < NQ; ++t) {
        const double* qp = kPackedQ ? q[t] + u * NQ : q[t] + u;
        const VF qq = NR > 1 ? LoadKept(d, qp) : hn::LoadU(d, qp);
        for (size_t j = 0; j < NR; ++j) a[t][j] = hn::MulAdd(qq, rr[j], a[t][j]);
      }
    }
  }
  for (size_t t = 0; t < NQ; ++t) {
    for (size_t j = 0; j < NR; ++j) hn::Store(a[t][j], d, acc + (j * NQ + t) * kL);
  }
}

// The block kernel's tile call: packed queries or not, prefetching or not.
template <size_t NQ>
HWY_INLINE void BlockTile(const double* qpanel, const double* const* qv, const double* const* rv,
                          size_t k0, size_t k1, double* acc, const double* const* pf) {
  const bool first = k0 == 0;
  if (qpanel != nullptr) {
    if (pf != nullptr) {
      MicroTile<NQ, kTileR, true, true>(qpanel, qv, rv, k0, k1, first, acc, pf);
    } else {
      MicroTile<NQ, kTileR, true, false>(qpanel, qv, rv, k0, k1, first, acc, pf);
    }
  } else if (pf != nullptr) {
    MicroTile<NQ, kTileR, false, true>(qpanel, qv, rv, k0, k1, first, acc, pf);
  } else {
    MicroTile<NQ, kTileR, false, false>(qpanel, qv, rv, k0, k1, first, acc, pf);
  }
}

// v[0..kL) are the accumulators of kL pairs; returns the vector whose lane t is the sum of
// v[t]'s lanes (v is overwritten), in the order of Highway's SumOfLanes, which every entry
// point used before this kernel was blocked (so the bits did not move): halves first, i.e. on
// AVX2 (a0 + a2) + (a1 + a3) and on AVX-512 ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))
// (_mm512_reduce_add_pd). Level 1 halves each vector (ConcatLowerLower / UpperUpper); on
// AVX-512 level 2 halves each 256-bit half (128-bit block shuffles); the last level adds
// even and odd lanes.
HWY_INLINE VF ReduceLanes(VF* v) {
#if HWY_TARGET == HWY_SCALAR
  return v[0];
#else
  const DF d;
  for (size_t i = 0; i < kL / 2; ++i) {
    const VF x = v[2 * i];
    const VF y = v[2 * i + 1];
    v[i] = hn::Add(hn::ConcatLowerLower(d, y, x), hn::ConcatUpperUpper(d, y, x));
  }
  size_t n = kL / 2;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  static_assert(kL == 8, "AVX-512 reduction expects 8 lanes");
  for (size_t i = 0; i < n / 2; ++i) {
    const __m512d x = v[2 * i].raw;
    const __m512d y = v[2 * i + 1].raw;
    v[i] = VF{_mm512_add_pd(_mm512_shuffle_f64x2(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_f64x2(x, y, _MM_SHUFFLE(3, 1, 3, 1)))};
  }
  n /= 2;
#endif
  for (; n > 1; n /= 2) {
    for (size_t i = 0; i < n / 2; ++i) {
      const VF x = v[2 * i];
      const VF y = v[2 * i + 1];
      v[i] = hn::Add(hn::ConcatEven(d, y, x), hn::ConcatOdd(d, y, x));
    }
  }
  return v[0];
#endif
}

// Dots of kL pairs whose accumulators are at acc + i * step * kL, i < kL.
HWY_INLINE VF ReduceAt(const double* acc, size_t step) {
  const DF d;
  VF v[kL];
  for (size_t i = 0; i < kL; ++i) v[i] = hn::Load(d, acc + i * step * kL);
  return ReduceLanes(v);
}

// e^x for G vectors at once: Highway's Exp (contrib/math, 1 ulp) step by step, each step
// applied to all G before the next, so the G dependency chains (~50 cycles each) overlap
// instead of running one after another. The same operations per lane as hn::Exp, so the same
// bits; checked against it in tests (ExpMatchesHighway).
template <size_t G>
HWY_INLINE void ExpN(const VF* HWY_RESTRICT x, VF* HWY_RESTRICT y) {
  const DF d;
  const hn::Rebind<int32_t, DF> di32;
  const hn::Rebind<int64_t, DF> di64;
  using VI32 = hn::Vec<decltype(di32)>;
  VI32 q[G];
  VF r[G];
  for (size_t g = 0; g < G; ++g) {
    const VF t = hn::MulAdd(x[g], hn::Set(d, +1.442695040888963407359924681),
                            hn::Or(hn::Set(d, 0.5), hn::And(x[g], hn::Set(d, -0.0))));
    q[g] = hn::DemoteTo(di32, t);
  }
  for (size_t g = 0; g < G; ++g) {
    const VF qf = hn::PromoteTo(d, q[g]);
    r[g] = hn::MulAdd(qf, hn::Set(d, -0.6931471805596629565116018), x[g]);
  }
  for (size_t g = 0; g < G; ++g) {
    const VF qf = hn::PromoteTo(d, q[g]);
    r[g] = hn::MulAdd(qf, hn::Set(d, -0.28235290563031577122588448175e-12), r[g]);
  }
  // ExpPoly: MulAdd(Estrin(r, k0..k10), r * r, r), Estrin as in math-inl.h.
  VF x2[G], x4[G], x8[G];
  for (size_t g = 0; g < G; ++g) x2[g] = hn::Mul(r[g], r[g]);
  for (size_t g = 0; g < G; ++g) x4[g] = hn::Mul(x2[g], x2[g]);
  for (size_t g = 0; g < G; ++g) x8[g] = hn::Mul(x4[g], x4[g]);
  VF p[G];
  for (size_t g = 0; g < G; ++g) {
    const VF rg = r[g];
    const VF hi = hn::MulAdd(x2[g], hn::Set(d, +2.08860621107283687536341e-9),
                             hn::MulAdd(hn::Set(d, +2.51112930892876518610661e-8), rg,
                                        hn::Set(d, +2.75573911234900471893338e-7)));
    const VF mid = hn::MulAdd(x2[g],
                              hn::MulAdd(hn::Set(d, +2.75572362911928827629423e-6), rg,
                                         hn::Set(d, +2.4801587159235472998791e-5)),
                              hn::MulAdd(hn::Set(d, +0.000198412698960509205564975), rg,
                                         hn::Set(d, +0.00138888888889774492207962)));
    const VF lo =
        hn::MulAdd(x2[g],
                   hn::MulAdd(hn::Set(d, +0.00833333333331652721664984), rg,
                              hn::Set(d, +0.0416666666666665047591422)),
                   hn::MulAdd(hn::Set(d, +0.166666666666666851703837), rg, hn::Set(d, +0.5)));
    p[g] = hn::MulAdd(x8[g], hi, hn::MulAdd(x4[g], mid, lo));
  }
  for (size_t g = 0; g < G; ++g) p[g] = hn::Add(hn::MulAdd(p[g], x2[g], r[g]), hn::Set(d, 1.0));
  // LoadExpShortRange: p * 2^(q >> 1) * 2^(q - (q >> 1)), then 0 below -1000.
  for (size_t g = 0; g < G; ++g) {
    const VI32 e1 = hn::ShiftRight<1>(q[g]);
    const VI32 e2 = hn::Sub(q[g], e1);
    const VI32 bias = hn::Set(di32, 0x3FF);
    const VF s1 = hn::BitCast(d, hn::ShiftLeft<52>(hn::PromoteTo(di64, hn::Add(e1, bias))));
    const VF s2 = hn::BitCast(d, hn::ShiftLeft<52>(hn::PromoteTo(di64, hn::Add(e2, bias))));
    y[g] = hn::IfThenElseZero(hn::Ge(x[g], hn::Set(d, -1000.0)), hn::Mul(hn::Mul(p[g], s1), s2));
  }
}

// Constants of the lane-wise finish, set once per call.
struct Finisher {
  bool residual = false;
  bool rbf = true;
  double variance_s, rbf_scale_s, matern_scale_s;

  explicit Finisher(const MetricData& data) {
    residual = data.kind == MetricKind::residual;
    const KernelParams& kp = data.kernel;
    rbf = kp.type == KernelType::rbf;
    variance_s = kp.variance;
    rbf_scale_s = -0.5 / (kp.lengthscale * kp.lengthscale);
    matern_scale_s = std::sqrt(5.0) / kp.lengthscale;
  }

  // d from the dot V_q.V_r, r2 = |x_q - x_r|^2 and pp = p_q p_r, lane by lane, G vectors
  // interleaved (see ExpN).
  // Signed residual correlation rho (clamped to [-1, 1]) from the dot V_q.V_r, r2 =
  // |x_q - x_r|^2 and pp = p_q p_r, lane by lane, G vectors interleaved (see ExpN). Residual
  // data only. The distance is sqrt(max(0, 1 - |rho|)) of exactly these bits (FinishN).
  template <size_t G>
  HWY_INLINE void CorrelationN(const VF* dot, const VF* r2, const VF* pp, VF* rho) const {
    const DF d;
    const VF variance = hn::Set(d, variance_s);
    const VF one = hn::Set(d, 1.0);
    VF k[G];
    VF arg[G];
    VF a[G];
    if (rbf) {
      for (size_t g = 0; g < G; ++g) arg[g] = hn::Mul(r2[g], hn::Set(d, rbf_scale_s));
    } else {
      for (size_t g = 0; g < G; ++g) {
        a[g] = hn::Mul(hn::Sqrt(r2[g]), hn::Set(d, matern_scale_s));
        arg[g] = hn::Neg(a[g]);
      }
    }
    VF denom[G];
    for (size_t g = 0; g < G; ++g) denom[g] = hn::Sqrt(hn::Max(pp[g], hn::Set(d, 1e-18)));
    ExpN<G>(arg, k);
    if (rbf) {
      for (size_t g = 0; g < G; ++g) k[g] = hn::Mul(variance, k[g]);
    } else {
      for (size_t g = 0; g < G; ++g) {
        const VF poly =
            hn::Add(hn::Add(one, a[g]), hn::Mul(hn::Mul(a[g], a[g]), hn::Set(d, 1.0 / 3.0)));
        k[g] = hn::Mul(hn::Mul(variance, poly), k[g]);
      }
    }
    for (size_t g = 0; g < G; ++g) {
      const VF r = hn::Div(hn::Sub(k[g], dot[g]), denom[g]);
      rho[g] = hn::Min(hn::Max(r, hn::Set(d, -1.0)), one);
    }
  }

  // d from the dot V_q.V_r, r2 = |x_q - x_r|^2 and pp = p_q p_r, lane by lane.
  template <size_t G>
  HWY_INLINE void FinishN(const VF* dot, const VF* r2, const VF* pp, VF* out) const {
    const DF d;
    if (!residual) {
      for (size_t g = 0; g < G; ++g) out[g] = hn::Sqrt(r2[g]);
      return;
    }
    const VF one = hn::Set(d, 1.0);
    CorrelationN<G>(dot, r2, pp, out);
    for (size_t g = 0; g < G; ++g)
      out[g] = hn::Sqrt(hn::Max(hn::Zero(d), hn::Sub(one, hn::Abs(out[g]))));
  }

  // The distance (kSigned = false) or the signed correlation (kSigned = true).
  template <bool kSigned, size_t G>
  HWY_INLINE void OutputN(const VF* dot, const VF* r2, const VF* pp, VF* out) const {
    if constexpr (kSigned) {
      CorrelationN<G>(dot, r2, pp, out);
    } else {
      FinishN<G>(dot, r2, pp, out);
    }
  }

  HWY_INLINE VF Finish(VF dot, VF r2, VF pp) const {
    VF out;
    FinishN<1>(&dot, &r2, &pp, &out);
    return out;
  }
};

// Distance 0 between equal dataset ids (a point and itself), lane by lane.
HWY_INLINE VF ZeroSelf(VF dist, int64_t qid, const int64_t* ids) {
  const DF d;
  const DI di;
  const auto same = hn::Eq(hn::LoadU(di, ids), hn::Set(di, qid));
  return hn::IfThenZeroElse(hn::RebindMask(d, same), dist);
}

// Distance 0 (or correlation 1) between equal dataset ids.
template <bool kSigned>
HWY_INLINE VF SelfValue(VF v, int64_t qid, const int64_t* ids) {
  if constexpr (kSigned) {
    const DF d;
    const DI di;
    const auto same = hn::Eq(hn::LoadU(di, ids), hn::Set(di, qid));
    return hn::IfThenElse(hn::RebindMask(d, same), hn::Set(d, 1.0), v);
  } else {
    return ZeroSelf(v, qid, ids);
  }
}

// Stores the first n (<= kL) lanes of v at p.
HWY_INLINE void StoreFirst(VF v, size_t n, double* p) {
  const DF d;
  if (n == kL) {
    hn::StoreU(v, d, p);
  } else {
    HWY_ALIGN double tmp[kL];
    hn::Store(v, d, tmp);
    std::memcpy(p, tmp, n * sizeof(double));
  }
}

using AlignedIds = std::vector<int64_t, CacheAlignedAllocator<int64_t>>;

// Working memory of the block kernel, grown on demand.
struct BlockScratch {
  AlignedDoubles panel;   // packed query tiles (queries x stride)
  AlignedDoubles acc;     // 2 x kChunk x kTileQ accumulators: the tile being computed and
                          // the one being finished
  AlignedDoubles coords;  // the chunk's coordinates, dimension-major (dim x kChunk)
  AlignedDoubles p;       // the chunk's p (padded with 1)
  AlignedIds ids;         // the chunk's ids (padded with -2, which no query has)
  AlignedDoubles zero;    // one zero V row, standing in for rows past the chunk's end
  AlignedDoubles out;     // a chunk of distances (queries x kChunk), for scans
  std::vector<const double*> rv, next;  // the chunk's V rows, the next chunk's

  void reserve(const MetricData& data, size_t nq, bool pack, bool chunk_out) {
    const size_t stride = data.v_stride;
    if (pack && panel.size() < nq * stride) panel.resize(nq * stride);
    if (acc.size() < 2 * kChunk * kTileQ * kL) acc.resize(2 * kChunk * kTileQ * kL);
    if (coords.size() < data.dim * kChunk) coords.resize(data.dim * kChunk);
    if (p.size() < kChunk) p.resize(kChunk);
    if (ids.size() < kChunk) ids.resize(kChunk);
    if (zero.size() < stride) zero.assign(stride, 0.0);
    if (chunk_out && out.size() < nq * kChunk) out.resize(nq * kChunk);
    rv.resize(kChunk);
    next.resize(kChunk);
  }
};

BlockScratch& thread_scratch() {
  thread_local BlockScratch s;
  return s;
}

// Query tiles of a block: kTileQ at a time, the rest in tiles of 4, 2 and 1.
template <class F>
HWY_INLINE void ForEachQueryTile(size_t nq, F f) {
  size_t i = 0;
  for (; i + kTileQ <= nq; i += kTileQ) f(i, std::integral_constant<size_t, kTileQ>());
  if constexpr (kTileQ > 4) {
    if (i + 4 <= nq) {
      f(i, std::integral_constant<size_t, 4>());
      i += 4;
    }
  }
  if constexpr (kTileQ > 2) {
    if (i + 2 <= nq) {
      f(i, std::integral_constant<size_t, 2>());
      i += 2;
    }
  }
  for (; i < nq; ++i) f(i, std::integral_constant<size_t, 1>());
}

// Copies the V rows of queries [i0, i0 + NQ) into the step-major panel layout: element c of
// query t at base + c * NQ + t * kL (c a multiple of kL, plus the lane).
template <size_t NQ>
HWY_INLINE void PackTile(const QueryRow* queries, size_t stride, double* HWY_RESTRICT base) {
  const DF d;
  for (size_t c = 0; c < stride; c += kL) {
    for (size_t t = 0; t < NQ; ++t) {
      hn::Store(hn::LoadU(d, queries[t].v + c), d, base + c * NQ + t * kL);
    }
  }
}

// A query tile whose accumulators are complete and whose distances are being written, a few
// groups of kL rows at a time between the next tile's micro-kernel calls: the finish is
// bound by the divider (two square roots and a division per vector) and the micro-kernels by
// the FMA units, so interleaved they overlap.
struct PendingTile {
  const double* acc = nullptr;
  size_t i0 = 0;  // first query
  size_t nq = 0;  // queries (0: none pending)
  size_t t = 0;   // next group: query t of the tile ...
  size_t j = 0;   // ... rows [j, j + kL)
};

// Several queries against rows row_of(0..count): the GEMM-shaped kernel. Distances of chunk
// [c0, c0 + n) go to dst[i * ld + j] (dst = out + c0 with ld = out_ld when `out` is given, else
// a scratch chunk with ld = kChunk), then visit(c0, n, dst, ld) is called. kDotsOnly stores
// the reduced dot products instead of distances (the micro-benchmark's GEMM part).
template <bool kDotsOnly, class RowOf, class Visit>
void BlockKernel(const MetricData& data, const QueryRow* queries, size_t nq, size_t count,
                 RowOf row_of, double* out, size_t out_ld, BlockScratch& s, Visit visit) {
  if (nq == 0 || count == 0) return;
  const DF d;
  const bool residual = data.kind == MetricKind::residual;
  if (kDotsOnly && !residual) return;
  const size_t stride = residual ? data.v_stride : 0;
  const size_t dim = data.dim;
  const bool pack = residual && nq > 1 && count >= kPackMinRows;
  s.reserve(data, nq, pack, out == nullptr);
  const Finisher fin(data);

  // Cache blocks along m: balanced, whole cache lines.
  const size_t n_kblocks = std::max<size_t>(1, (stride + kKBlock - 1) / kKBlock);
  const size_t kblock = (stride / 8 + n_kblocks - 1) / n_kblocks * 8;
  if (pack) {
    ForEachQueryTile(nq, [&](size_t i0, auto nt) {
      PackTile<decltype(nt)::value>(queries + i0, stride, s.panel.data() + i0 * stride);
    });
  }
  size_t n_qtiles = 0;
  ForEachQueryTile(nq, [&](size_t, auto) { ++n_qtiles; });
  const size_t pf_tiles = std::min(n_qtiles, kPrefetchTiles);
  const size_t pf_first = n_qtiles - pf_tiles;

  for (size_t c0 = 0; c0 < count; c0 += kChunk) {
    const size_t n = std::min(kChunk, count - c0);
    // Rows past n up to a whole number of tiles and vectors are padding: a zero V row,
    // coordinates 0, p = 1 and an id no query has; computed, never stored.
    const size_t padded = (n + kRowAlign - 1) / kRowAlign * kRowAlign;
    const size_t n_tiles = padded / kTileR;
    const size_t n_next = std::min(kChunk, count - std::min(count, c0 + kChunk));
    for (size_t j = 0; j < padded; ++j) {
      const bool real = j < n;
      const size_t row = real ? static_cast<size_t>(row_of(c0 + j)) : 0;
      if (residual) {
        s.rv[j] = real ? data.v_row(row) : s.zero.data();
        s.next[j] = j < n_next ? data.v_row(static_cast<size_t>(row_of(c0 + kChunk + j))) : s.rv[j];
      }
      if constexpr (!kDotsOnly) {
        for (size_t k = 0; k < dim; ++k) {
          s.coords[k * kChunk + j] = real ? data.coord_row(row)[k] : 0.0;
        }
        s.p[j] = real && residual ? data.p[row] : 1.0;
        s.ids[j] = real ? data.ids[row] : -2;
      }
    }
    double* dst = out != nullptr ? out + c0 : s.out.data();
    const size_t ld = out != nullptr ? out_ld : kChunk;

    // Writes groups of the pending tile until `budget` groups are done (or all are), kG at a
    // time through the interleaved finish.
    PendingTile pending;
    auto finish_groups = [&](size_t budget) {
      while (pending.nq > 0 && budget > 0) {
        VF dot[kG], r2[kG], pp[kG], dist[kG];
        double* o[kG];
        size_t jj[kG], lanes[kG];
        int64_t qid[kG];
        size_t m = 0;
        for (; m < kG && pending.nq > 0 && budget > 0; ++m, --budget) {
          const QueryRow& q = queries[pending.i0 + pending.t];
          const size_t j = pending.j;
          o[m] = dst + (pending.i0 + pending.t) * ld + j;
          jj[m] = j;
          lanes[m] = std::min(kL, n - j);
          qid[m] = q.id;
          dot[m] = residual ? ReduceAt(pending.acc + (j * pending.nq + pending.t) * kL, pending.nq)
                            : hn::Zero(d);
          if constexpr (!kDotsOnly) {
            VF sum = hn::Zero(d);
            for (size_t k = 0; k < dim; ++k) {
              const VF diff =
                  hn::Sub(hn::Set(d, q.coords[k]), hn::Load(d, &s.coords[k * kChunk + j]));
              sum = hn::Add(sum, hn::Mul(diff, diff));
            }
            r2[m] = sum;
            pp[m] = residual ? hn::Mul(hn::Set(d, q.p), hn::Load(d, &s.p[j])) : hn::Set(d, 1.0);
          }
          pending.j += kL;
          if (pending.j >= n) {
            pending.j = 0;
            if (++pending.t == pending.nq) pending.nq = 0;
          }
        }
        if constexpr (kDotsOnly) {
          for (size_t g = 0; g < m; ++g) StoreFirst(dot[g], lanes[g], o[g]);
        } else {
          for (size_t g = m; g < kG; ++g) {  // a partial batch computes copies, discarded
            dot[g] = dot[0];
            r2[g] = r2[0];
            pp[g] = pp[0];
          }
          fin.FinishN<kG>(dot, r2, pp, dist);
          for (size_t g = 0; g < m; ++g) {
            StoreFirst(ZeroSelf(dist[g], qid[g], &s.ids[jj[g]]), lanes[g], o[g]);
          }
        }
      }
    };
    const size_t tile_groups = (n + kL - 1) / kL;

    size_t qtile = 0;
    ForEachQueryTile(nq, [&](size_t i0, auto nt) {
      constexpr size_t NQ = decltype(nt)::value;
      double* acc = s.acc.data() + (qtile % 2) * kChunk * kTileQ * kL;
      if (residual) {
        const double* qv[NQ];
        for (size_t t = 0; t < NQ; ++t) qv[t] = queries[i0 + t].v;
        const double* panel = pack ? s.panel.data() + i0 * stride : nullptr;
        // The previous tile's groups, spread over this tile's last pass over the rows.
        const size_t per_call =
            pending.nq == 0
                ? 0
                : ((pending.nq * tile_groups + n_tiles - 1) / n_tiles + kG - 1) / kG * kG;
        for (size_t k0 = 0; k0 < stride; k0 += kblock) {
          const size_t k1 = std::min(stride, k0 + kblock);
          const bool last = k1 == stride;
          for (size_t j = 0; j < padded; j += kTileR) {
            // Each tile of the next chunk is prefetched by one of the last query tiles: late
            // enough that the streaming query panel does not evict it from L2 first, spread
            // over several tiles so the misses overlap the arithmetic.
            const bool prefetch =
                n_next > 0 && qtile >= pf_first && (j / kTileR) % pf_tiles == qtile - pf_first;
            BlockTile<NQ>(panel, qv, &s.rv[j], k0, k1, acc + j * NQ * kL,
                          prefetch ? &s.next[j] : nullptr);
            if (last) finish_groups(per_call);
          }
        }
      }
      finish_groups(~size_t{0});
      pending = PendingTile{acc, i0, NQ, 0, 0};
      ++qtile;
    });
    finish_groups(~size_t{0});
    visit(c0, n, dst, ld);
  }
}

// Distances (or, kSigned, signed correlations) of one query to `count` rows given by row_of(j).
template <bool kSigned = false, class RowOf>
void OneQuery(const MetricData& data, const QueryRow& q, size_t count, RowOf row_of,
              double* HWY_RESTRICT out) {
  const DF d;
  const bool residual = data.kind == MetricKind::residual;
  const size_t stride = data.v_stride;
  const Finisher fin(data);
  HWY_ALIGN double acc[kChunk * kL];
  HWY_ALIGN double r2s[kChunk];
  HWY_ALIGN double ps[kChunk];
  alignas(64) int64_t ids[kChunk];
  const VF qp = hn::Set(d, q.p);
  const double* qv = q.v;
  const double* rv[kRowsOne];
  const double* next[kRowsOne];
  for (size_t s = 0; s < count; s += kChunk) {
    const size_t n = std::min(kChunk, count - s);
    const size_t padded = (n + kL - 1) / kL * kL;
    if (residual) {
      size_t j = 0;
      if (n >= kRowsOne) {
        for (size_t t = 0; t < kRowsOne; ++t) rv[t] = data.v_row(row_of(s + t));
      }
      for (; j + kRowsOne <= n; j += kRowsOne) {
        // The next tile's rows are prefetched (a V row is one 4 KiB page, where hardware
        // prefetchers stop); the last full tile prefetches its own rows again, harmlessly.
        const bool has_next = j + 2 * kRowsOne <= n;
        for (size_t t = 0; t < kRowsOne; ++t) {
          next[t] = has_next ? data.v_row(row_of(s + j + kRowsOne + t)) : rv[t];
        }
        MicroTile<1, kRowsOne, false, true>(nullptr, &qv, rv, 0, stride, true, acc + j * kL, next);
        for (size_t t = 0; t < kRowsOne; ++t) rv[t] = next[t];
      }
      for (; j < n; ++j) {
        const double* row = data.v_row(row_of(s + j));
        MicroTile<1, 1, false, false>(nullptr, &qv, &row, 0, stride, true, acc + j * kL, nullptr);
      }
      for (j = n; j < padded; ++j) hn::Store(hn::Zero(d), d, acc + j * kL);
    }
    for (size_t j = 0; j < padded; ++j) {
      const bool real = j < n;
      const size_t row = real ? static_cast<size_t>(row_of(s + j)) : 0;
      r2s[j] = real ? SquaredDistance(q.coords, data.coord_row(row), data.dim) : 0.0;
      ps[j] = real && residual ? data.p[row] : 1.0;
      ids[j] = real ? data.ids[row] : -2;
    }
    for (size_t j0 = 0; j0 < padded; j0 += kG * kL) {
      VF dot[kG], r2[kG], pp[kG], dist[kG];
      for (size_t g = 0; g < kG; ++g) {
        // Past `padded` the batch recomputes the last group (discarded).
        const size_t j = std::min(j0 + g * kL, padded - kL);
        dot[g] = residual ? ReduceAt(acc + j * kL, 1) : hn::Zero(d);
        r2[g] = hn::Load(d, r2s + j);
        pp[g] = residual ? hn::Mul(qp, hn::Load(d, ps + j)) : hn::Set(d, 1.0);
      }
      fin.OutputN<kSigned, kG>(dot, r2, pp, dist);
      for (size_t g = 0; g < kG && j0 + g * kL < padded; ++g) {
        const size_t j = j0 + g * kL;
        StoreFirst(SelfValue<kSigned>(dist[g], q.id, ids + j), std::min(kL, n - j), out + s + j);
      }
    }
  }
}

}  // namespace

void DistancesToRowsImpl(const MetricData& data, const QueryRow& q, const int32_t* rows,
                         size_t count, double* out) {
  OneQuery(
      data, q, count, [rows](size_t j) { return static_cast<size_t>(rows[j]); }, out);
}

void DistancesToRangeImpl(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                          double* out) {
  OneQuery(
      data, q, end - begin, [begin](size_t j) { return begin + j; }, out);
}

void DistancesBlockImpl(const MetricData& data, const QueryRow* queries, size_t n_queries,
                        size_t begin, size_t end, double* out) {
  BlockKernel<false>(
      data, queries, n_queries, end - begin, [begin](size_t j) { return begin + j; }, out,
      end - begin, thread_scratch(), [](size_t, size_t, const double*, size_t) {});
}

void DistancesBlockRowsImpl(const MetricData& data, const QueryRow* queries, size_t n_queries,
                            const int32_t* rows, size_t count, double* out) {
  BlockKernel<false>(
      data, queries, n_queries, count, [rows](size_t j) { return static_cast<size_t>(rows[j]); },
      out, count, thread_scratch(), [](size_t, size_t, const double*, size_t) {});
}

void DistancesBlockScanImpl(const MetricData& data, const QueryRow* queries, size_t n_queries,
                            size_t begin, size_t end, BlockChunkFn fn, void* context) {
  // Own scratch: the visitor may call the kernels again.
  BlockScratch s;
  BlockKernel<false>(
      data, queries, n_queries, end - begin, [begin](size_t j) { return begin + j; }, nullptr, 0, s,
      [&](size_t c0, size_t n, const double* dist, size_t ld) {
        fn(context, begin + c0, begin + c0 + n, dist, ld);
      });
}

template <bool kSigned>
void FromDots(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
              const double* dots, double* out) {
  const DF d;
  const Finisher fin(data);
  const VF qp = hn::Set(d, q.p);
  constexpr size_t kBatch = kG * kL;
  HWY_ALIGN double dot[kBatch];
  HWY_ALIGN double r2[kBatch];
  HWY_ALIGN double pr[kBatch];
  alignas(64) int64_t ids[kBatch];
  for (size_t j = begin; j < end; j += kBatch) {
    const size_t n = std::min(kBatch, end - j);
    for (size_t l = 0; l < kBatch; ++l) {
      const bool real = l < n;
      dot[l] = real ? dots[j - begin + l] : 0.0;
      r2[l] = real ? SquaredDistance(q.coords, data.coord_row(j + l), data.dim) : 0.0;
      pr[l] = real ? data.p[j + l] : 1.0;
      ids[l] = real ? data.ids[j + l] : -2;
    }
    VF vdot[kG], vr2[kG], vpp[kG], dist[kG];
    for (size_t g = 0; g < kG; ++g) {
      vdot[g] = hn::Load(d, dot + g * kL);
      vr2[g] = hn::Load(d, r2 + g * kL);
      vpp[g] = hn::Mul(qp, hn::Load(d, pr + g * kL));
    }
    fin.OutputN<kSigned, kG>(vdot, vr2, vpp, dist);
    for (size_t g = 0; g < kG && g * kL < n; ++g) {
      StoreFirst(SelfValue<kSigned>(dist[g], q.id, ids + g * kL), std::min(kL, n - g * kL),
                 out + (j - begin) + g * kL);
    }
  }
}

void DistancesFromDotsImpl(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                           const double* dots, double* out) {
  FromDots<false>(data, q, begin, end, dots, out);
}

void CorrelationsToRowsImpl(const MetricData& data, const QueryRow& q, const int32_t* rows,
                            size_t count, double* out) {
  OneQuery<true>(
      data, q, count, [rows](size_t j) { return static_cast<size_t>(rows[j]); }, out);
}

void DotsBlockImpl(const MetricData& data, const QueryRow* queries, size_t n_queries, size_t begin,
                   size_t end, double* out) {
  BlockKernel<true>(
      data, queries, n_queries, end - begin, [begin](size_t j) { return begin + j; }, out,
      end - begin, thread_scratch(), [](size_t, size_t, const double*, size_t) {});
}

void CorrelationsBlockImpl(const MetricData& data, const QueryRow* queries, size_t n_queries,
                           size_t begin, size_t end, double* out) {
  const size_t len = end - begin;
  BlockKernel<true>(
      data, queries, n_queries, len, [begin](size_t j) { return begin + j; }, out, len,
      thread_scratch(), [](size_t, size_t, const double*, size_t) {});
  for (size_t i = 0; i < n_queries; ++i)
    FromDots<true>(data, queries[i], begin, end, out + i * len, out + i * len);
}

int64_t ChosenTargetImpl() { return HWY_TARGET; }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ctb
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
