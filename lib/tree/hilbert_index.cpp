// The residual pivot index, engine v3: whole signed pivot rows, grouped in the Hilbert order of
// the coordinates, searched with the Hilbert-embedding bound (spec §13).
//
// Why. The residual covariance k(x, y) - V_x.V_y is positive semi-definite, so the correlation
// is an inner product of unit vectors e_i of a Hilbert space: rho_ij = <e_i, e_j>. Let E hold
// the query's n nearest pivots as columns, r_j = E^T e_j (point j's signed correlations to
// them) and G = E^T E (their Gram matrix). For ANY coefficient vector beta,
//   rho_qj = beta^T r_j + <e_q - E beta, e_j>,   |<e_q - E beta, e_j>| <= s(beta) |e_j|,
//   s(beta)^2 = |e_q - E beta|^2 = 1 - 2 beta^T r_q + beta^T G beta,
// so |rho_qj| <= |beta^T r_j| + s(beta) (the cheap form). With beta = G^-1 r_q (the projection of
// e_q on span E) s is the distance of e_q from that span, the smallest possible. The full form
// also projects e_j: for any gamma, <e_q - E beta, e_j> = gamma^T (r_q - G beta)
//   + <e_q - E beta, e_j - E gamma>, the last term at most s(beta) s_j(gamma), which is small
// for points near the pivots' span (the n-simplex bound of Connor et al. when beta, gamma are
// the exact projections). Both hold for any beta, gamma, so the linear algebra may be as
// approximate as it likes: only the EVALUATION of the bound needs a rounding budget. A point
// may enter the top k only if its bound reaches 1 - kth^2 (d = sqrt(1 - |rho|)).
//
// Rounding, carried into the bound (hilbert_search.cpp adds these terms):
//  - stored rows are int16: |r_j - r~_j| <= kRhoStep per entry, so |beta^T r_j| errs by at most
//    |beta|_1 kRhoStep;
//  - a computed correlation errs by at most c e_a e_b + 4 eps (e = 1 / sqrt(p), c = rho_error:
//    the dot product of m terms, each below the kernel variance, errs by m eps sigma^2, the
//    kernel term by a few eps sigma^2; times 2 for safety). It applies to G, r_q and to the
//    search's own distance (a point is needed only if its COMPUTED distance reaches kth);
//  - |e_j|^2 = (k - V.V) / p_j may exceed 1 by the rounding of p_j: c e_j^2.
// A point whose p exceeds the residual diagonal (a user's nugget, the 1e-9 floor) has |e_j| < 1:
// the bounds still hold.
//
// Layout, so that a query does not touch all N points: points in Hilbert order, cut into groups
// of G consecutive points, and super groups of 16 groups; per pivot and (super) group the range
// of the quantised rho. beta^T r over a group's box is bounded by summing, per pivot, the end of
// the range that maximises (or minimises) it: one coarse pass over the super groups, one over
// the groups of the live super groups, then the cheap form per point, the full form on its
// survivors, and the distances of what is left, most promising first.
//
// Pivots: P spread evenly along the Hilbert order (every N/P-th position): spread in space and
// in proportion to the points, so every query has near pivots; P x N correlations with the
// block kernel at build. Measured against the engine-v2 pivot lists (P = M = 2,048 with the
// chord triangle bound): see the README's performance table.
#include "tree/hilbert_index.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/build_strategy.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/coord_index.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {
namespace {

constexpr size_t kPivotBatch = 128;               // pivots whose rows are computed together
constexpr size_t kRowChunk = 4096;                // rows per task of a batch
constexpr size_t kMaxRowBytes = size_t{2} << 30;  // the auto rule's budget for quantised rows

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int16_t quantise(double rho) {
  return static_cast<int16_t>(std::lrint(std::clamp(rho, -1.0, 1.0) * kRhoScale));
}

}  // namespace

size_t hilbert_pivot_count(size_t n) {
  size_t p = std::clamp<size_t>(n / 16, 64, 2048);
  p = (p + 31) / 32 * 32;
  while (p > 32 && p * n * sizeof(int16_t) > kMaxRowBytes) p -= 32;
  return std::min(p, n);
}

size_t hilbert_pivot_count(size_t n, size_t rows) {
  if (rows == 0 || rows >= n) return hilbert_pivot_count(std::max(n, rows));
  const size_t budget = hilbert_pivot_count(n) * n;  // int16 entries one process would hold
  size_t p = std::max<size_t>(64, std::min(budget / rows, rows / 4)) / 32 * 32;
  while (p > 32 && p * rows * sizeof(int16_t) > kMaxRowBytes) p -= 32;
  return std::clamp<size_t>(p, 1, rows);
}

size_t HilbertIndex::memory_bytes() const {
  return order.size() * 4 + position.size() * 4 + pivot_row.size() * 4 + gram.size() * 8 +
         pivot_inv_sqrt_p.size() * 8 + rho.size() * 2 + (group_lo.size() + group_hi.size()) * 2 +
         (super_lo.size() + super_hi.size()) * 2 + group_inv_sqrt_p.size() * 8 +
         super_inv_sqrt_p.size() * 8 + pos_inv_sqrt_p.size() * 8 +
         n * 8 * 2 /* coordinate k-d tree copy and index */;
}

HilbertIndex build_hilbert_index(const MetricData& data, const HilbertIndexParams& params) {
  if (data.kind != MetricKind::residual)
    throw InputError("build_hilbert_index: residual metric data only");
  const size_t n = data.n;
  if (n >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw InputError("build_hilbert_index: too many points for 32-bit row ids");
  for (size_t r = 0; r < n; ++r)
    if (data.ids[r] != static_cast<int64_t>(r))
      throw InputError("build_hilbert_index: rows must be in dataset order (ids 0..n-1)");
  HilbertIndex ix;
  ix.n = n;
  ix.rank = data.rank;
  if (n == 0) return ix;
  const int threads = std::max(1, params.threads);
  const size_t P = params.pivots > 0 ? std::min(params.pivots, n) : hilbert_pivot_count(n);
  const size_t G = std::clamp<size_t>(params.group_size, 1, 64);  // the search's tiles
  ix.pivots = P;
  ix.group_size = G;
  ix.super_size = G * std::clamp<size_t>(params.super_groups, 1, 64);
  ix.groups = (n + G - 1) / G;
  ix.supers = (n + ix.super_size - 1) / ix.super_size;
  // c: m products below sigma^2 each, the kernel term, the division; doubled.
  ix.rho_error = 2.0 * static_cast<double>(data.rank + 16) *
                 std::numeric_limits<double>::epsilon() * std::max(1.0, data.kernel.variance);

  auto t0 = std::chrono::steady_clock::now();
  ix.order = batch_order_permutation(data, BatchOrder::hilbert);
  ix.position.assign(n, 0);
  for (size_t pos = 0; pos < n; ++pos)
    ix.position[static_cast<size_t>(ix.order[pos])] = static_cast<int32_t>(pos);
  ix.pivot_row.resize(P);
  std::vector<int32_t> pivot_of_row(n, -1);
  for (size_t a = 0; a < P; ++a) {
    const size_t pos = std::min(n - 1, (2 * a + 1) * n / (2 * P));
    ix.pivot_row[a] = ix.order[pos];
    pivot_of_row[static_cast<size_t>(ix.order[pos])] = static_cast<int32_t>(a);
  }
  ix.pivot_inv_sqrt_p.resize(P);
  for (size_t a = 0; a < P; ++a)
    ix.pivot_inv_sqrt_p[a] = 1.0 / std::sqrt(data.p[static_cast<size_t>(ix.pivot_row[a])]);
  ix.order_ms = ms_since(t0);

  // Pivot rows: batches of pivots share every loaded row (block kernel); each task writes its
  // own rows' entries, so the index is the same for any thread count. Measured on gold32k
  // (2,048 pivots, 2 threads): batches of 32 pivots 1.36-1.83 s, 128 1.21-1.65 s (10-17% less
  // in pairs), 256 1.24 s (a batch reads V once); rows gathered in the Hilbert order so the
  // stored rows are written in order instead of scattered: 1.40-1.79 s (the gather costs the
  // kernel more), not kept.
  t0 = std::chrono::steady_clock::now();
  ix.rho.assign(P * n, 0);
  ix.gram.assign(P * P, 0.0);
  const size_t chunks = (n + kRowChunk - 1) / kRowChunk;
  struct Scratch {
    std::vector<double> out;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(threads));
  std::vector<QueryRow> qs;
  for (size_t a0 = 0; a0 < P; a0 += kPivotBatch) {
    const size_t nb = std::min(kPivotBatch, P - a0);
    qs.resize(nb);
    for (size_t i = 0; i < nb; ++i)
      qs[i] = query_row(data, static_cast<size_t>(ix.pivot_row[a0 + i]));
    parallel_for(chunks, threads, params.cancel, [&](size_t c, int worker) {
      Scratch& s = scratch[static_cast<size_t>(worker)];
      const size_t b = c * kRowChunk, e = std::min(n, b + kRowChunk), len = e - b;
      s.out.resize(nb * len);
      correlations_block(data, qs, b, e, s.out.data());
      for (size_t i = 0; i < nb; ++i) {
        const double* o = s.out.data() + i * len;
        int16_t* dst = ix.rho.data() + (a0 + i) * n;
        for (size_t j = 0; j < len; ++j) {
          const size_t row = b + j;
          dst[static_cast<size_t>(ix.position[row])] = quantise(o[j]);
          const int32_t pb = pivot_of_row[row];
          if (pb >= 0) ix.gram[(a0 + i) * P + static_cast<size_t>(pb)] = o[j];
        }
      }
    });
  }
  // The Gram matrix symmetric to the bit (either triangle computed the same pair).
  for (size_t a = 0; a < P; ++a) {
    ix.gram[a * P + a] = 1.0;
    for (size_t b = 0; b < a; ++b) ix.gram[b * P + a] = ix.gram[a * P + b];
  }
  ix.build_evals = static_cast<uint64_t>(P) * n;
  ix.rows_ms = ms_since(t0);

  // Group ranges and the rounding factor of each group.
  t0 = std::chrono::steady_clock::now();
  ix.group_lo.resize(P * ix.groups);
  ix.group_hi.resize(P * ix.groups);
  ix.super_lo.resize(P * ix.supers);
  ix.super_hi.resize(P * ix.supers);
  const size_t per_super = ix.super_size / G;
  parallel_for(P, threads, params.cancel, [&](size_t a, int) {
    const int16_t* r = ix.rho.data() + a * n;
    for (size_t g = 0; g < ix.groups; ++g) {
      const size_t b = g * G, e = std::min(n, b + G);
      int16_t lo = r[b], hi = r[b];
      for (size_t pos = b + 1; pos < e; ++pos) {
        lo = std::min(lo, r[pos]);
        hi = std::max(hi, r[pos]);
      }
      ix.group_lo[a * ix.groups + g] = lo;
      ix.group_hi[a * ix.groups + g] = hi;
    }
    for (size_t sg = 0; sg < ix.supers; ++sg) {
      const size_t gb = sg * per_super, ge = std::min(ix.groups, gb + per_super);
      int16_t lo = ix.group_lo[a * ix.groups + gb], hi = ix.group_hi[a * ix.groups + gb];
      for (size_t g = gb + 1; g < ge; ++g) {
        lo = std::min(lo, ix.group_lo[a * ix.groups + g]);
        hi = std::max(hi, ix.group_hi[a * ix.groups + g]);
      }
      ix.super_lo[a * ix.supers + sg] = lo;
      ix.super_hi[a * ix.supers + sg] = hi;
    }
  });
  ix.group_inv_sqrt_p.assign(ix.groups, 0.0);
  ix.super_inv_sqrt_p.assign(ix.supers, 0.0);
  ix.pos_inv_sqrt_p.resize(n);
  for (size_t pos = 0; pos < n; ++pos) {
    const double e = 1.0 / std::sqrt(data.p[static_cast<size_t>(ix.order[pos])]);
    ix.pos_inv_sqrt_p[pos] = e;
    ix.group_inv_sqrt_p[pos / G] = std::max(ix.group_inv_sqrt_p[pos / G], e);
    ix.super_inv_sqrt_p[pos / ix.super_size] =
        std::max(ix.super_inv_sqrt_p[pos / ix.super_size], e);
    ix.max_inv_sqrt_p = std::max(ix.max_inv_sqrt_p, e);
  }
  ix.groups_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  ix.coords = make_coord_index(data, ix.pivot_row);
  ix.coords_ms = ms_since(t0);
  return ix;
}

}  // namespace ctb
