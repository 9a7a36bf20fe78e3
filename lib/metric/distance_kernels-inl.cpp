// Per-target body of the distance kernels, included once per Highway target by
// distance_kernels.cpp (foreach_target.h). Not compiled on its own.
//
// Bit-identity contract: whichever entry point computes a (query, row) distance, the V dot
// product uses one vector accumulator, MulAdd over the padded stride in order, then the same
// SumOfLanes; r2 is a scalar sum over the dimensions in order; everything after the dot runs
// lane-wise in FinishChunk, so neither the tile shape nor a lane position changes a bit.
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

#include "hwy/cache_control.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "metric/euclid_distance.hpp"
#include "metric/metric.hpp"

HWY_BEFORE_NAMESPACE();
namespace ctb {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<double>;
using VF = hn::Vec<DF>;

// Pairs finished per FinishChunk call; a multiple of every lane count, so padding a partial
// chunk to whole vectors never leaves the buffers.
constexpr size_t kChunk = 64;

// Register tile of the GEMM-shaped block: queries x rows accumulators plus one load per
// query and row must fit the register file (32 zmm on AVX-512, 16 elsewhere).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr size_t kTileQ = 4;
constexpr size_t kTileR = 4;
#else
constexpr size_t kTileQ = 2;
constexpr size_t kTileR = 4;
#endif
// One query against several rows: enough independent accumulators to hide MulAdd latency.
constexpr size_t kRowsOne = 8;

// The same for every entry point: the one Euclidean r2 (metric/euclid_distance.hpp).
HWY_INLINE double SquaredDistance(const double* x, const double* y, size_t dim) {
  return euclid_squared(x, y, dim);
}

// dots[i * ld + j] = q_i . r_j, one accumulator per pair. When `next` is given, the rows of
// the following tile are prefetched alongside (one line per row per step): a V row is one
// 4 KiB page, where hardware prefetchers stop, so each new row would otherwise start with a
// demand miss to memory.
template <size_t NQ, size_t NR>
HWY_INLINE void DotTile(const double* const* qv, const double* const* rv, size_t stride,
                        double* HWY_RESTRICT dots, size_t ld, const double* const* next = nullptr) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  VF acc[NQ][NR];
  for (size_t i = 0; i < NQ; ++i) {
    for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::Zero(d);
  }
  for (size_t c = 0; c < stride; c += lanes) {
    if (next != nullptr && c % 8 == 0) {
      for (size_t j = 0; j < NR; ++j) hwy::Prefetch(next[j] + c);
    }
    VF r[NR];
    for (size_t j = 0; j < NR; ++j) r[j] = hn::LoadU(d, rv[j] + c);
    for (size_t i = 0; i < NQ; ++i) {
      const VF q = hn::LoadU(d, qv[i] + c);
      for (size_t j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(q, r[j], acc[i][j]);
    }
  }
  for (size_t i = 0; i < NQ; ++i) {
    for (size_t j = 0; j < NR; ++j) dots[i * ld + j] = hn::GetLane(hn::SumOfLanes(d, acc[i][j]));
  }
}

// Inputs of the lane-wise finish for up to kChunk pairs.
struct PairChunk {
  HWY_ALIGN double dot[kChunk];
  HWY_ALIGN double r2[kChunk];
  HWY_ALIGN double pp[kChunk];  // p_q * p_row
  HWY_ALIGN double out[kChunk];
};

// Fills the lanes past `count` with harmless values so whole vectors can be processed.
HWY_INLINE size_t PadChunk(PairChunk& c, size_t count) {
  const size_t lanes = hn::Lanes(DF());
  const size_t padded = (count + lanes - 1) / lanes * lanes;
  for (size_t j = count; j < padded; ++j) {
    c.dot[j] = 0.0;
    c.r2[j] = 0.0;
    c.pp[j] = 1.0;
  }
  return padded;
}

HWY_INLINE void FinishChunk(const MetricData& data, PairChunk& c, size_t count) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  const size_t padded = PadChunk(c, count);
  if (data.kind == MetricKind::euclidean) {
    for (size_t j = 0; j < padded; j += lanes) {
      hn::Store(hn::Sqrt(hn::Load(d, c.r2 + j)), d, c.out + j);
    }
    return;
  }
  const KernelParams& kp = data.kernel;
  const VF variance = hn::Set(d, kp.variance);
  const VF one = hn::Set(d, 1.0);
  const VF zero = hn::Zero(d);
  const VF minus_one = hn::Set(d, -1.0);
  const VF p_floor = hn::Set(d, 1e-18);
  const bool rbf = kp.type == KernelType::rbf;
  const VF rbf_scale = hn::Set(d, -0.5 / (kp.lengthscale * kp.lengthscale));
  const VF matern_scale = hn::Set(d, std::sqrt(5.0) / kp.lengthscale);
  const VF third = hn::Set(d, 1.0 / 3.0);
  for (size_t j = 0; j < padded; j += lanes) {
    const VF r2 = hn::Load(d, c.r2 + j);
    VF k;
    if (rbf) {
      k = hn::Mul(variance, hn::Exp(d, hn::Mul(r2, rbf_scale)));
    } else {
      const VF a = hn::Mul(hn::Sqrt(r2), matern_scale);
      const VF poly = hn::Add(hn::Add(one, a), hn::Mul(hn::Mul(a, a), third));
      k = hn::Mul(hn::Mul(variance, poly), hn::Exp(d, hn::Neg(a)));
    }
    const VF denom = hn::Sqrt(hn::Max(hn::Load(d, c.pp + j), p_floor));
    VF rho = hn::Div(hn::Sub(k, hn::Load(d, c.dot + j)), denom);
    rho = hn::Min(hn::Max(rho, minus_one), one);
    hn::Store(hn::Sqrt(hn::Max(zero, hn::Sub(one, hn::Abs(rho)))), d, c.out + j);
  }
}

// Dots of one query against `count` rows given by row_of(j), written to dots[0..count).
template <class RowOf>
HWY_INLINE void DotsOneQuery(const MetricData& data, const double* qv, size_t count, RowOf row_of,
                             double* HWY_RESTRICT dots) {
  const size_t stride = data.v_stride;
  const double* rv[kRowsOne];
  const double* next[kRowsOne];
  size_t j = 0;
  if (j + kRowsOne <= count) {
    for (size_t t = 0; t < kRowsOne; ++t) rv[t] = data.v_row(row_of(j + t));
  }
  for (; j + kRowsOne <= count; j += kRowsOne) {
    // The last full tile prefetches its own rows again: harmless, and keeps one code path.
    const bool has_next = j + 2 * kRowsOne <= count;
    for (size_t t = 0; t < kRowsOne; ++t) {
      next[t] = has_next ? data.v_row(row_of(j + kRowsOne + t)) : rv[t];
    }
    DotTile<1, kRowsOne>(&qv, rv, stride, dots + j, 0, next);
    for (size_t t = 0; t < kRowsOne; ++t) rv[t] = next[t];
  }
  for (; j < count; ++j) {
    const double* row = data.v_row(row_of(j));
    DotTile<1, 1>(&qv, &row, stride, dots + j, 0);
  }
}

// Distances of one query to `count` rows given by row_of(j).
template <class RowOf>
HWY_INLINE void DistancesOneQuery(const MetricData& data, const QueryRow& q, size_t count,
                                  RowOf row_of, double* HWY_RESTRICT out) {
  PairChunk chunk;
  const bool residual = data.kind == MetricKind::residual;
  for (size_t s = 0; s < count; s += kChunk) {
    const size_t n = std::min(kChunk, count - s);
    auto chunk_row = [&](size_t j) { return row_of(s + j); };
    if (residual) DotsOneQuery(data, q.v, n, chunk_row, chunk.dot);
    for (size_t j = 0; j < n; ++j) {
      const size_t row = chunk_row(j);
      chunk.r2[j] = SquaredDistance(q.coords, data.coord_row(row), data.dim);
      chunk.pp[j] = residual ? q.p * data.p[row] : 1.0;
      if (!residual) chunk.dot[j] = 0.0;
    }
    FinishChunk(data, chunk, n);
    for (size_t j = 0; j < n; ++j) {
      out[s + j] = q.id == data.ids[chunk_row(j)] ? 0.0 : chunk.out[j];
    }
  }
}

// Residual dots of NQ queries against rows [s, s + n) into dots[i * kChunk + j]. With
// `prefetch`, each row tile prefetches the next (the first pass over a chunk of rows).
template <size_t NQ>
HWY_INLINE void DotsTileQueries(const MetricData& data, const QueryRow* queries, size_t s, size_t n,
                                bool prefetch, double* HWY_RESTRICT dots) {
  const double* qv[NQ];
  for (size_t i = 0; i < NQ; ++i) qv[i] = queries[i].v;
  const size_t stride = data.v_stride;
  size_t j = 0;
  for (; j + kTileR <= n; j += kTileR) {
    const double* rv[kTileR];
    const double* next[kTileR];
    for (size_t t = 0; t < kTileR; ++t) {
      rv[t] = data.v_row(s + j + t);
      next[t] = data.v_row(std::min(s + j + kTileR + t, data.n - 1));
    }
    DotTile<NQ, kTileR>(qv, rv, stride, dots + j, kChunk, prefetch ? next : nullptr);
  }
  for (; j < n; ++j) {
    const double* rv = data.v_row(s + j);
    DotTile<NQ, 1>(qv, &rv, stride, dots + j, kChunk);
  }
}

// Finishes query `q` against rows [s, s + n) whose dots are in `dots` (residual only).
HWY_INLINE void FinishQueryRows(const MetricData& data, const QueryRow& q, size_t s, size_t n,
                                const double* dots, PairChunk& chunk, double* HWY_RESTRICT out) {
  const bool residual = data.kind == MetricKind::residual;
  for (size_t j = 0; j < n; ++j) {
    chunk.dot[j] = residual ? dots[j] : 0.0;
    chunk.r2[j] = SquaredDistance(q.coords, data.coord_row(s + j), data.dim);
    chunk.pp[j] = residual ? q.p * data.p[s + j] : 1.0;
  }
  FinishChunk(data, chunk, n);
  for (size_t j = 0; j < n; ++j) out[j] = q.id == data.ids[s + j] ? 0.0 : chunk.out[j];
}

}  // namespace

void DistancesToRowsImpl(const MetricData& data, const QueryRow& q, const int32_t* rows,
                         size_t count, double* out) {
  DistancesOneQuery(
      data, q, count, [rows](size_t j) { return static_cast<size_t>(rows[j]); }, out);
}

void DistancesToRangeImpl(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                          double* out) {
  DistancesOneQuery(
      data, q, end - begin, [begin](size_t j) { return begin + j; }, out);
}

void DistancesBlockImpl(const MetricData& data, const QueryRow* queries, size_t n_queries,
                        size_t begin, size_t end, double* out) {
  const size_t width = end - begin;
  const bool residual = data.kind == MetricKind::residual;
  PairChunk chunk;
  HWY_ALIGN double dots[kTileQ * kChunk];
  // Row chunks outside, query tiles inside: a chunk of rows (kChunk V rows) stays in L2 while
  // every query tile passes over it.
  for (size_t s = begin; s < end; s += kChunk) {
    const size_t n = std::min(kChunk, end - s);
    size_t i = 0;
    for (; i + kTileQ <= n_queries; i += kTileQ) {
      if (residual) DotsTileQueries<kTileQ>(data, queries + i, s, n, i == 0, dots);
      for (size_t t = 0; t < kTileQ; ++t) {
        FinishQueryRows(data, queries[i + t], s, n, dots + t * kChunk, chunk,
                        out + (i + t) * width + (s - begin));
      }
    }
    for (; i < n_queries; ++i) {
      if (residual) DotsTileQueries<1>(data, queries + i, s, n, i == 0, dots);
      FinishQueryRows(data, queries[i], s, n, dots, chunk, out + i * width + (s - begin));
    }
  }
}

int64_t ChosenTargetImpl() { return HWY_TARGET; }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace ctb
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
