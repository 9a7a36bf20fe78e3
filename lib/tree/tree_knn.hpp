#pragma once
// Exact k-NN over a cover tree (best-first by lower bound, parent-pivot and radius pruning,
// dense fallback for queries whose bound cannot prune). Lives in tree/ rather than search/
// because it needs the tree, and ctb_search sits below ctb_tree in the link order.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {

struct TreeQueryOptions {
  size_t k = 1;              // neighbours per query
  bool predecessor = false;  // query with dataset id i returns only ids j < i (spec §2)
  int threads = 1;           // worker threads
  // APPROXIMATE budgets (off when 0), applied only once k candidates are held:
  size_t survivor_cap = 0;    // stop after this many distance evaluations in the tree
  size_t low_yield_stop = 0;  // stop after this many consecutive tiles with no top-k entry
  // Perf-gate self-test: > 1 repeats the distance work (factor - 1) extra times, results
  // discarded. Answers and counters are unchanged.
  double inject_slowdown = 1.0;
  // EXACT dense fallback: a query whose tree search has evaluated more than this many rows is
  // answered by a blocked scan over all rows instead (several such queries share each loaded
  // row). 0 = automatic (n / 6; Euclidean trees: never, see euclid_knn.cpp);
  // std::numeric_limits<size_t>::max() disables it.
  size_t dense_fallback_evals = 0;
  // Pruning slack (a bound must exceed the k-th distance by more than this to prune); < 0 =
  // automatic: see tree_knn.cpp (1e-4 residual). Euclidean trees prune exactly without a
  // slack and ignore it (euclid_knn.cpp).
  double prune_slack = -1.0;
  // Residual trees with pivot lists: answer by the pivot-list search (exact; see tree_knn.cpp)
  // instead of the best-first tree search. Ignored for Euclidean trees and trees without lists.
  bool use_pivot_lists = true;
  // Residual trees with home-pivot clusters: answer by the cluster search (exact; see
  // tree_knn.cpp). Takes precedence over use_pivot_lists when the tree has clusters.
  bool use_clusters = true;
  // Cluster search: every candidate row is also bounded through this many pivots nearest the
  // query (quantized pivot-row distances, one byte each). 0 = the home-pivot bound only.
  size_t cluster_bound_pivots = 8;
  // Cluster search: at checkpoints (after 256, 1024, 4096 ... member evaluations), a query
  // whose nearest two pivots' bounds still admit more than this many rows goes to the dense
  // phase. 0 = automatic (n / 4).
  size_t cluster_dense_rows = 0;
  // Pivots evaluated per query to pick the nearest one: the Euclidean-nearest by coordinates
  // (residual neighbours are spatially local, spec §9).
  size_t pivot_candidates = 8;
};

/// queries[i] is answered in row i (dataset ids, (distance, id) order) -- the same answer as
/// brute_force_knn. Query rows point into the ORIGINAL data (dataset order), not tree.rows.
/// `counters` (optional) receives the sum over queries; identical for any thread count.
KnnResult tree_knn(const CoverTree& tree, std::span<const QueryRow> queries,
                   const TreeQueryOptions& options, QueryCounters* counters = nullptr);

}  // namespace ctb
