#pragma once
// Work counters of a k-NN pass, summed over its queries. Integers only, and deterministic:
// each query's counts depend only on the tree and the query, never on threads or schedule.
// Names follow the reference's Rust ResidualQueryTelemetry where the meaning matches.
#include <array>
#include <cstdint>

namespace ctb {

struct QueryCounters {
  static constexpr int kBlockBins = 8;  // block_sizes histogram: [1,2), [2,4), ... [128, inf)

  uint64_t queries = 0;                // queries answered
  uint64_t distance_evals = 0;         // query-to-row distances computed
  uint64_t frontier_levels = 0;        // tree levels (or best-first rounds) visited
  uint64_t frontier_expanded = 0;      // nodes whose children were examined
  uint64_t pruned_by_radius = 0;       // nodes skipped: d(q,u) - radius(u) > kth
  uint64_t pruned_by_parent = 0;       // children skipped before evaluation by parent bounds
  uint64_t pruned_by_predecessor = 0;  // subtrees skipped: subtree_min_id >= query id
  uint64_t subtrees_pruned = 0;        // all subtree skips (sum of the three above)
  uint64_t predecessor_filtered = 0;   // evaluated rows rejected as not a predecessor
  uint64_t yields = 0;                 // evaluated rows that entered the top-k
  uint64_t caps_applied = 0;           // APPROXIMATE budget cut-offs (0 when exact)
  uint64_t dense_fallbacks = 0;        // queries finished by a dense scan
  // distance_evals by search phase (residual pivot search; see tree/pivot_search.cpp):
  uint64_t seed_evals = 0;       // Euclidean-nearest seed rows
  uint64_t pivot_evals = 0;      // pivots evaluated to open their windows
  uint64_t candidate_evals = 0;  // window survivors
  uint64_t dense_evals = 0;      // dense fallback scans (and direct predecessor scans)
  // Not distances: bound arithmetic of the Hilbert index (one per super group, group and point
  // whose bound was computed; tree/hilbert_search.cpp).
  uint64_t bound_evals = 0;
  // The plan's reasons for a blocked scan (Hilbert index; they sum to dense_fallbacks there):
  uint64_t scans_for_cost = 0;         // the bound left more candidates than a scan costs
  uint64_t scans_without_seeds = 0;    // fewer than k admissible seeds: no k-th bound
  uint64_t scans_of_predecessors = 0;  // predecessor queries with few predecessors
  std::array<uint64_t, kBlockBins> block_sizes{};  // histogram of evaluated tile sizes

  void add_block(uint64_t size) {
    int bin = 0;
    while (bin + 1 < kBlockBins && (uint64_t{2} << bin) <= size) ++bin;
    ++block_sizes[static_cast<size_t>(bin)];
  }

  /// Calls fn(name, value) for every scalar counter, in one fixed order: the one list every
  /// report (summary JSON, telemetry, gate) walks, so a new counter appears in all of them.
  template <class Fn>
  void for_each_scalar(Fn&& fn) const {
    fn("queries", queries);
    fn("distance_evals", distance_evals);
    fn("frontier_levels", frontier_levels);
    fn("frontier_expanded", frontier_expanded);
    fn("pruned_by_radius", pruned_by_radius);
    fn("pruned_by_parent", pruned_by_parent);
    fn("pruned_by_predecessor", pruned_by_predecessor);
    fn("subtrees_pruned", subtrees_pruned);
    fn("predecessor_filtered", predecessor_filtered);
    fn("yields", yields);
    fn("caps_applied", caps_applied);
    fn("dense_fallbacks", dense_fallbacks);
    fn("seed_evals", seed_evals);
    fn("pivot_evals", pivot_evals);
    fn("candidate_evals", candidate_evals);
    fn("dense_evals", dense_evals);
    fn("bound_evals", bound_evals);
    fn("scans_for_cost", scans_for_cost);
    fn("scans_without_seeds", scans_without_seeds);
    fn("scans_of_predecessors", scans_of_predecessors);
  }

  QueryCounters& operator+=(const QueryCounters& o) {
    queries += o.queries;
    distance_evals += o.distance_evals;
    frontier_levels += o.frontier_levels;
    frontier_expanded += o.frontier_expanded;
    pruned_by_radius += o.pruned_by_radius;
    pruned_by_parent += o.pruned_by_parent;
    pruned_by_predecessor += o.pruned_by_predecessor;
    subtrees_pruned += o.subtrees_pruned;
    predecessor_filtered += o.predecessor_filtered;
    yields += o.yields;
    caps_applied += o.caps_applied;
    dense_fallbacks += o.dense_fallbacks;
    seed_evals += o.seed_evals;
    pivot_evals += o.pivot_evals;
    candidate_evals += o.candidate_evals;
    dense_evals += o.dense_evals;
    bound_evals += o.bound_evals;
    scans_for_cost += o.scans_for_cost;
    scans_without_seeds += o.scans_without_seeds;
    scans_of_predecessors += o.scans_of_predecessors;
    for (int i = 0; i < kBlockBins; ++i) block_sizes[i] += o.block_sizes[i];
    return *this;
  }
  bool operator==(const QueryCounters&) const = default;
};

}  // namespace ctb
