#pragma once
// The residual pivot index of engine v3: exact k-NN under the residual correlation through the
// Hilbert-embedding bound (spec §13). Build and layout here; the search in hilbert_search.cpp;
// why it is built this way in hilbert_index.cpp.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/cancel.hpp"
#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"

namespace ctb {

struct CoordIndex;  // tree/coord_index.hpp

struct HilbertIndexParams {
  size_t pivots = 0;         // P pivots with whole signed rows; 0 = auto (hilbert_pivot_count)
  size_t group_size = 16;    // points per leaf group (consecutive in the Hilbert order)
  size_t super_groups = 16;  // leaf groups per super group (the first, coarse pass)
  int threads = 1;
  const CancelToken* cancel = nullptr;  // set by another thread: the build throws Cancelled
};

/// The rule behind `build.pivots: auto`: N / 16 pivots (a pivot per ~16 points leaves few
/// candidates, spec §13), at least 64 and at most 2,048, a multiple of 32, and no more than
/// fit 2 GiB of quantised rows (2 bytes per pivot and point); never more than N.
size_t hilbert_pivot_count(size_t n);

/// The rule for a shard of `rows` of a data set of n points (docs/mpi.md): the shard gets the
/// pivot-row budget one process spends on the whole set (P x rows up to hilbert_pivot_count(n)
/// x n int16 entries, so the same memory and build work per rank), at most a quarter of its
/// rows, within the 2 GiB cap. A shard holds fewer rows, so its pivots are denser, which is what
/// pays: both ranks bound every query, and a denser pivot set leaves fewer points live.
size_t hilbert_pivot_count(size_t n, size_t rows);

/// Signed correlations are stored as int16: rho ~ q / kRhoScale, |rho - q / kRhoScale| <=
/// kRhoStep (half a step, plus the rounding of the product).
inline constexpr double kRhoScale = 32767.0;
inline constexpr double kRhoStep = 0.5 / 32767.0 + 1e-15;

struct HilbertIndex {
  size_t n = 0;                          // rows (dataset order, ids 0..n-1)
  size_t pivots = 0;                     // P
  size_t group_size = 0;                 // G
  size_t super_size = 0;                 // points per super group (G * super_groups)
  size_t groups = 0;                     // ceil(n / G)
  size_t supers = 0;                     // ceil(n / super_size)
  std::vector<int32_t> order;            // position -> row: the Hilbert order of the coordinates
  std::vector<int32_t> position;         // row -> position
  std::vector<int32_t> pivot_row;        // pivot a -> row
  std::vector<double> gram;              // P x P: rho(pivot a, pivot b), full precision
  std::vector<double> pivot_inv_sqrt_p;  // 1 / sqrt(p) of each pivot (rounding slack)
  std::vector<int16_t> rho;              // P x n: quantised rho(pivot a, order[pos]) at a * n + pos
  std::vector<int16_t> group_lo, group_hi;  // P x groups: range of the quantised rho per group
  std::vector<int16_t> super_lo, super_hi;  // P x supers
  std::vector<double> pos_inv_sqrt_p;       // per position: 1 / sqrt(p) of order[pos]
  std::vector<double> group_inv_sqrt_p;     // per group: max 1 / sqrt(p) over its points
  std::vector<double> super_inv_sqrt_p;     // per super group
  double max_inv_sqrt_p = 0.0;              // over every row
  double rho_error = 0.0;  // coefficient c: |computed rho_ij - rho_ij| <= c e_i e_j + 4 eps
  size_t rank = 0;         // m
  std::shared_ptr<const CoordIndex> coords;  // k-d trees over every row and over the pivots
  // Build phases (milliseconds): ordering, pivot rows (P x N correlations), group ranges,
  // coordinate k-d trees.
  double order_ms = 0.0, rows_ms = 0.0, groups_ms = 0.0, coords_ms = 0.0;
  uint64_t build_evals = 0;  // correlations computed at build (P x N)
  size_t memory_bytes() const;
};

/// Builds the index over residual `data` (rows in dataset order, ids 0..n-1); `data` must
/// outlive every search of the index.
HilbertIndex build_hilbert_index(const MetricData& data, const HilbertIndexParams& params);

struct HilbertSearchOptions {
  size_t k = 1;
  bool predecessor = false;  // query with dataset id i returns only ids j < i (spec §2)
  int threads = 1;
  size_t seed_rows = 128;        // Euclidean-nearest rows evaluated first (seed the k-th bound)
  size_t pivot_candidates = 24;  // Euclidean-nearest pivots whose signed rho is computed
  size_t bound_pivots = 16;      // of those, the residual-nearest that form the bound
  // Plan: a query whose bound leaves more than this many candidates is answered by the blocked
  // scan instead (0 = automatic: a gathered evaluation costs ~5 block-kernel ones, spec §12,
  // so n / 5).
  size_t scan_after = 0;
  // Plan the batch too: scan every query when N is too small for the index to pay (tests of
  // the search itself turn this off).
  bool plan_batch = true;
  double inject_slowdown = 1.0;  // perf-gate self-test: repeat the distance work
  const CancelToken* cancel = nullptr;
  uint64_t* per_query_evals = nullptr;  // optional, queries.size() entries
  // Optional, queries.size() entries: an upper bound on each query's k-th distance known from
  // elsewhere (another shard's answer; +inf = none). A bounded query skips the seeds; its answer
  // holds every row of its true top k within the bound (rows beyond it may be left out, -1 /
  // +inf padded): all a merge with the other answer needs.
  std::span<const double> kth_bound;
  // A bounded query starts from a k-th distance as tight as a seeded one, so its pivots only
  // bound: fewer of them cost less algebra than they lose in pruning (2-rank gold32k: 12 / 8
  // gave 12.7-12.8k q/s against 11.9-12.1k with 24 / 16, and 16 / 10 12.5-12.9k).
  size_t bounded_pivot_candidates = 12;  // pivot_candidates of a bounded query
  size_t bounded_bound_pivots = 8;       // bound_pivots of a bounded query
};

/// What the plan step did in one call (the summary's `plan`).
struct HilbertPlan {
  uint64_t index_queries = 0;    // answered by the bound search
  uint64_t scan_queries = 0;     // answered by the blocked scan
  uint64_t scan_small_pred = 0;  // of them: predecessor queries with few predecessors
  uint64_t scan_no_seed = 0;     // of them: fewer than k admissible seeds
  uint64_t scan_cost = 0;        // of them: the bound left more candidates than scan_after
  uint64_t scan_batch = 0;       // of them: N too small for the index (the whole batch)
};

/// Exact k-NN of `queries` (rows into `data`, the rows the index was built from, or fresh rows
/// of the same metric) through the index: the same answer as brute_force_knn.
KnnResult hilbert_knn(const HilbertIndex& index, const MetricData& data,
                      std::span<const QueryRow> queries, const HilbertSearchOptions& options,
                      QueryCounters* counters = nullptr, HilbertPlan* plan = nullptr);

}  // namespace ctb
