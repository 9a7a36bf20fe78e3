#pragma once
// The bridge between the harness and the cover-tree engine: build once, answer passes.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "metric/metric.hpp"
#include "scenario/scenario.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "tree/cover_tree.hpp"
#include "tree/hilbert_index.hpp"
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

// Every default below is the scenario schema's (QueryOptionsSpec in scenario.hpp): one
// default per knob, checked field by field by tests/bench/test_knob_defaults.cpp.
struct TreeQueryKnobs {
  size_t k = 1;  // neighbours per query (the scenario's k has no default)
  bool predecessor = QueryOptionsSpec{}.predecessor;          // only dataset ids j < i
  int threads = 1;                                            // workers (resolved by the caller)
  size_t survivor_cap = QueryOptionsSpec{}.survivor_cap;      // APPROXIMATE when > 0
  size_t low_yield_stop = QueryOptionsSpec{}.low_yield_stop;  // APPROXIMATE when > 0
  double inject_slowdown = 1.0;  // --inject-slowdown (a flag, not a scenario field)
  size_t dense_fallback_evals = QueryOptionsSpec{}.dense_fallback_evals;  // 0 = automatic
  size_t seed_rows = QueryOptionsSpec{}.seed_rows;                        // Euclidean seeds
  size_t pivot_candidates = QueryOptionsSpec{}.pivot_candidates;  // nearest pivots evaluated
  size_t bound_pivots = QueryOptionsSpec{}.bound_pivots;          // pivots of the bound
  ChildOrder child_order = QueryOptionsSpec{}.child_order;        // cover tree, exact
  size_t frontier_block = QueryOptionsSpec{}.frontier_block;      // cover tree, exact
  const CancelToken* cancel = nullptr;  // set by another thread: the query throws Cancelled
};

/// The scenario's query knobs (k, predecessor, budgets, fallback) on `threads` workers.
TreeQueryKnobs tree_query_knobs(const Scenario& scenario, int threads);

/// The tree module's options for a scenario's build section / query knobs: the one place the
/// schema meets the tree, shared by `run`, `knn` and `audit`.
BuildOptions tree_build_options(const BuildSpec& build, int threads);
TreeQueryOptions tree_query_options(const TreeQueryKnobs& knobs);

/// The pivot index's build parameters and search options for a scenario's build section /
/// query knobs (the pivot engine's side of the same bridge).
HilbertIndexParams hilbert_index_params(const BuildSpec& build, int threads);
HilbertSearchOptions hilbert_search_options(const TreeQueryKnobs& knobs);

/// Tree-quality figures of the built tree (depth, branching, levels, build phases, pivots).
TreeStats tree_engine_stats(const TreeEngine& engine);

/// Exact k-NN (unless an approximate knob is on) of `queries` on the built tree. With
/// `per_query_evals`, also each query's distance evaluations (resized to the query count; the
/// entries sum to counters->distance_evals), collected inside the one pass, not by re-querying.
/// `kth_bound` (optional, one per query): a known upper bound on each k-th distance, from
/// another shard (HilbertSearchOptions::kth_bound); the pivot index uses it, others ignore it.
KnnResult query_tree_engine(const TreeEngine& engine, std::span<const QueryRow> queries,
                            const TreeQueryKnobs& knobs, QueryCounters* counters,
                            std::vector<uint64_t>* per_query_evals = nullptr,
                            std::span<const double> kth_bound = {});

// --- Engines by name (query.engine): the index that answers, and its whole build. -----------

/// One phase of an index's build, as the index reports it: a name, its wall time and, where
/// the index counts them, its distance evaluations. A new index reports its own phases; the
/// harness turns each into one covertree_bench.build_batch row (build_phase = name).
struct BuildPhase {
  std::string name;
  double ms = 0.0;
  std::optional<uint64_t> distance_evals;
};

/// Builds the index `engine` names (pivot, box or cover-tree; resolve automatic first, brute
/// has no index): pivot = the residual tree with its pivot lists (tree_knn's pivot search),
/// box = the Euclidean box tree (euclid_knn), cover-tree = the cover tree without pivot lists
/// or box tree, answered by the exact best-first search (both metrics). `batches` gets the
/// WHOLE build: one row per cover-tree level (if the index has nets), then one row per phase
/// of index_build_phases, so the rows' batch_ms add up to the build's wall time. Throws
/// InputError for an engine the metric cannot use.
TreeEnginePtr build_index_engine(const MetricData& data, Engine engine, const BuildSpec& build,
                                 int threads, std::vector<BuildBatchStats>* batches, int64_t* depth,
                                 const CancelToken* cancel = nullptr);

/// The phases of a built tree's build that `total_ms` (its wall time) was spent in: the nets'
/// levels (as level rows elsewhere, so here only "nets_layout", the nets' time beyond their
/// levels), "radii", "box_index",
/// and "other" (the rest of total_ms; never negative). Deterministic in count for an engine.
std::vector<BuildPhase> index_build_phases(const CoverTree& tree, Engine engine, double total_ms,
                                           double box_index_ms);

/// The tree the engine holds (audit checks what answers).
const CoverTree& tree_engine_tree(const TreeEngine& engine);

/// The pivot index of a residual `pivot` engine (nullptr for other engines).
const HilbertIndex* tree_engine_pivot_index(const TreeEngine& engine);

}  // namespace ctb
