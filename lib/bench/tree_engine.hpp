#pragma once
// The bridge between the harness and the cover-tree engine: build once, answer passes.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "metric/metric.hpp"
#include "scenario/scenario.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "tree/cover_tree.hpp"
#include "tree/tree_knn.hpp"
#include "tree/tree_stats.hpp"

namespace ctb {

struct BuildBatchStats;
struct TreeEngine;

struct TreeEngineDeleter {
  void operator()(TreeEngine* engine) const;
};
using TreeEnginePtr = std::unique_ptr<TreeEngine, TreeEngineDeleter>;

/// Builds the tree over `data` with the scenario's build options; `data` must outlive the
/// engine (predecessor queries' dense scans read it in dataset order). Fills build batches (one
/// per level) and the depth. A set `cancel` token stops the build with Cancelled.
TreeEnginePtr build_tree_engine(const MetricData& data, const BuildSpec& build, int threads,
                                std::vector<BuildBatchStats>* batches, int64_t* depth,
                                const CancelToken* cancel = nullptr);

struct TreeQueryKnobs {
  size_t k = 1;
  bool predecessor = false;
  int threads = 1;
  size_t survivor_cap = 0;    // APPROXIMATE when > 0
  size_t low_yield_stop = 0;  // APPROXIMATE when > 0
  double inject_slowdown = 1.0;
  // The scenario schema's defaults (scenario.hpp): one default per knob.
  size_t dense_fallback_evals = QueryOptionsSpec{}.dense_fallback_evals;  // 0 = automatic
  size_t seed_rows = QueryOptionsSpec{}.seed_rows;                        // Euclidean seeds
  size_t pivot_candidates = QueryOptionsSpec{}.pivot_candidates;  // nearest pivots evaluated
  size_t bound_pivots = QueryOptionsSpec{}.bound_pivots;          // pivots of the bound
  const CancelToken* cancel = nullptr;  // set by another thread: the query throws Cancelled
};

/// The scenario's query knobs (k, predecessor, budgets, fallback) on `threads` workers.
TreeQueryKnobs tree_query_knobs(const Scenario& scenario, int threads);

/// The tree module's options for a scenario's build section / query knobs: the one place the
/// schema meets the tree, shared by `run`, `knn` and `audit`.
BuildOptions tree_build_options(const BuildSpec& build, int threads);
TreeQueryOptions tree_query_options(const TreeQueryKnobs& knobs);

/// Tree-quality figures of the built tree (depth, branching, levels, build phases, pivots).
TreeStats tree_engine_stats(const TreeEngine& engine);

/// Exact k-NN (unless an approximate knob is on) of `queries` on the built tree. With
/// `per_query_evals`, also each query's distance evaluations (resized to the query count; the
/// entries sum to counters->distance_evals), collected inside the one pass, not by re-querying.
KnnResult query_tree_engine(const TreeEngine& engine, std::span<const QueryRow> queries,
                            const TreeQueryKnobs& knobs, QueryCounters* counters,
                            std::vector<uint64_t>* per_query_evals = nullptr);

}  // namespace ctb
