#pragma once
// Exact k-NN over a cover tree (the `cover-tree` engine): best-first by lower bound
// (parent-pivot and radius pruning); dense fallback for queries whose
// bound cannot prune. Lives in tree/ rather than search/
// because it needs the tree, and ctb_search sits below ctb_tree in the link order.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "core/cancel.hpp"
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
  size_t low_yield_stop = 0;  // stop after this many consecutive steps with no top-k entry
  // EXACT heuristics of the best-first search (answers unchanged, see tree_knn.cpp):
  ChildOrder child_order = ChildOrder::natural;  // bound: nearest-bound children evaluated first
  size_t frontier_block = 1;  // frontier nodes expanded per step, their children one tile
  // Perf-gate self-test: > 1 repeats the distance work (factor - 1) extra times, results
  // discarded. Answers and counters are unchanged.
  double inject_slowdown = 1.0;
  // EXACT dense fallback: a query whose best-first search has evaluated more than this many
  // rows is answered by a blocked scan over all rows instead (several such queries share each
  // loaded row). 0 = automatic (n / 6; Euclidean box trees: never, see euclid_knn.cpp);
  // std::numeric_limits<size_t>::max() disables it.
  size_t dense_fallback_evals = 0;
  // Pruning slack (a bound must exceed the k-th distance by more than this to prune); < 0 =
  // automatic: see tree_knn.cpp (1e-4 residual). Euclidean trees prune exactly without a
  // slack and ignore it (euclid_knn.cpp).
  double prune_slack = -1.0;
  // The tree's rows in dataset order (ids 0..n-1), optional: predecessor queries' dense scans
  // then read only the rows before their group's largest id (about half the rows), as the
  // brute force does, instead of every row in node order.
  const MetricData* dataset_rows = nullptr;
  // Set by another thread: the query stops between tasks with Cancelled (the Python module).
  const CancelToken* cancel = nullptr;
  // Optional: queries.size() entries that receive each query's distance evaluations in this
  // call (they sum to counters->distance_evals); nullptr = not collected.
  uint64_t* per_query_evals = nullptr;
};

/// queries[i] is answered in row i (dataset ids, (distance, id) order) -- the same answer as
/// brute_force_knn. Query rows point into the ORIGINAL data (dataset order), not tree.rows.
/// `counters` (optional) receives the sum over queries; identical for any thread count.
KnnResult tree_knn(const CoverTree& tree, std::span<const QueryRow> queries,
                   const TreeQueryOptions& options, QueryCounters* counters = nullptr);

}  // namespace ctb
