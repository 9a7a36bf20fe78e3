#include "bench/tree_engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>

#include "bench/runner.hpp"
#include "core/error.hpp"
#include "fmt/format.h"
#include "telemetry/telemetry.hpp"
#include "tree/cover_tree.hpp"
#include "tree/dense_scan.hpp"
#include "tree/euclid_knn.hpp"
#include "tree/hilbert_index.hpp"
#include "tree/tree_knn.hpp"

namespace ctb {

struct TreeEngine {
  CoverTree tree;          // Euclidean data: holds the box tree; empty for the pivot index
  const MetricData* data;  // the rows it was built from (dataset order; the caller keeps them)
  std::unique_ptr<HilbertIndex> pivot;  // residual data: the Hilbert-bound pivot index
  bool pivots_forced = false;           // build.pivots was a number, not `auto`
};

void TreeEngineDeleter::operator()(TreeEngine* engine) const { delete engine; }

namespace {

constexpr size_t kBoxProbes = 16;     // queries the box index's batch plan probes with
constexpr double kBoxEvalCost = 3.0;  // a box-tree evaluation in block-kernel ones (measured:
                                      // euclid-d16-64k, 84% of N evaluated at 0.45x brute)

// Resident set size now, from /proc/self/statm (0 where unavailable).
int64_t rss_bytes_now() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages_total = 0;
  int64_t pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * 4096;
}

// One telemetry "batch" per cover-tree build level: the level's candidates go through the same
// select (independent set) / dominate step the reference runs per insertion batch.
void level_batches(const CoverTree& tree, int64_t rss_before, int64_t rss_after,
                   std::vector<BuildBatchStats>& batches) {
  batches.clear();
  for (const BuildLevelStats& level : tree.build_levels) {
    BuildBatchStats b;
    b.batch_index = batches.size();
    b.level = level.level;
    b.candidates = level.candidates;
    b.selected = level.selected;
    b.dominated = level.dominated;
    b.build_distance_evals = level.distance_evals;
    b.mis_iterations = 1;  // one greedy pass per group and level
    b.batch_ms = level.ms;
    b.traversal_ms = level.ms;
    b.rss_bytes = static_cast<uint64_t>(rss_after);
    b.rss_delta_bytes = batches.empty() ? rss_after - rss_before : 0;
    batches.push_back(b);
  }
}

}  // namespace

TreeEnginePtr build_tree_engine(const MetricData& data, const BuildSpec& build, int threads,
                                std::vector<BuildBatchStats>* batches, int64_t* depth,
                                const CancelToken* cancel) {
  const int64_t rss_before = rss_bytes_now();
  // Euclidean data: only the box tree its queries use (tree/euclid_knn.hpp).
  BuildOptions options = tree_build_options(build, threads);
  options.cancel = cancel;
  TreeEnginePtr engine(new TreeEngine{});
  engine->data = &data;
  if (data.kind == MetricKind::euclidean) {
    engine->tree = build_euclid_tree(data, options);
  } else {
    HilbertIndexParams hp = hilbert_index_params(build, threads);
    engine->pivots_forced = build.pivots > 0;
    hp.cancel = cancel;
    engine->pivot = std::make_unique<HilbertIndex>(build_hilbert_index(data, hp));
  }
  const int64_t rss_after = rss_bytes_now();
  if (depth != nullptr)
    *depth = engine->pivot         ? 0
             : engine->tree.euclid ? engine->tree.euclid->depth
                                   : engine->tree.depth();
  if (batches != nullptr) level_batches(engine->tree, rss_before, rss_after, *batches);
  return engine;
}

TreeQueryKnobs tree_query_knobs(const Scenario& scenario, int threads) {
  TreeQueryKnobs knobs;
  knobs.k = scenario.k;
  knobs.predecessor = scenario.query.predecessor;
  knobs.threads = threads;
  knobs.survivor_cap = scenario.query.survivor_cap;
  knobs.low_yield_stop = scenario.query.low_yield_stop;
  knobs.dense_fallback_evals = scenario.query.dense_fallback_evals;
  knobs.seed_rows = scenario.query.seed_rows;
  knobs.pivot_candidates = scenario.query.pivot_candidates;
  knobs.bound_pivots = scenario.query.bound_pivots;
  knobs.child_order = scenario.query.child_order;
  knobs.frontier_block = scenario.query.frontier_block;
  return knobs;
}

BuildOptions tree_build_options(const BuildSpec& build, int threads) {
  BuildOptions options;
  options.strategy = build.strategy;
  options.batch_order = build.batch_order;
  options.batch_size = build.batch_size;
  options.base = build.base;
  options.threads = threads;
  return options;
}

TreeQueryOptions tree_query_options(const TreeQueryKnobs& knobs) {
  TreeQueryOptions options;
  options.k = knobs.k;
  options.predecessor = knobs.predecessor;
  options.threads = knobs.threads;
  options.survivor_cap = knobs.survivor_cap;
  options.low_yield_stop = knobs.low_yield_stop;
  options.inject_slowdown = knobs.inject_slowdown;
  options.dense_fallback_evals = knobs.dense_fallback_evals;
  options.child_order = knobs.child_order;
  options.frontier_block = knobs.frontier_block;
  options.cancel = knobs.cancel;
  return options;
}

HilbertIndexParams hilbert_index_params(const BuildSpec& build, int threads) {
  HilbertIndexParams params;
  params.pivots = build.pivots;
  params.threads = threads;
  return params;
}

HilbertSearchOptions hilbert_search_options(const TreeQueryKnobs& knobs) {
  HilbertSearchOptions o;
  o.k = knobs.k;
  o.predecessor = knobs.predecessor;
  o.threads = knobs.threads;
  o.seed_rows = knobs.seed_rows;
  o.pivot_candidates = knobs.pivot_candidates;
  o.bound_pivots = knobs.bound_pivots;
  o.scan_after = knobs.dense_fallback_evals;
  o.inject_slowdown = knobs.inject_slowdown;
  o.cancel = knobs.cancel;
  return o;
}

TreeStats tree_engine_stats(const TreeEngine& engine) {
  if (!engine.pivot) return tree_stats(engine.tree);
  const HilbertIndex& ix = *engine.pivot;
  TreeStats st;
  st.build_pivots_ms = ix.order_ms + ix.rows_ms + ix.groups_ms + ix.coords_ms;
  st.pivots = ix.pivots;
  st.pivot_list = ix.n;  // whole rows
  st.bytes = ix.memory_bytes();
  st.index = "pivot";
  st.pivot_rule =
      engine.pivots_forced
          ? fmt::format("forced: build.pivots = {}", ix.pivots)
          : fmt::format(
                "auto: N / 16 = {}, within [64, 2048], a multiple of 32, "
                "at most 2 GiB of int16 rows -> {} pivots x {} rows ({:.1f} MiB)",
                ix.n / 16, ix.pivots, ix.n, static_cast<double>(ix.pivots * ix.n * 2) / 1048576.0);
  return st;
}

KnnResult query_tree_engine(const TreeEngine& engine, std::span<const QueryRow> queries,
                            const TreeQueryKnobs& knobs, QueryCounters* counters,
                            std::vector<uint64_t>* per_query_evals,
                            std::span<const double> kth_bound) {
  if (engine.pivot) {
    HilbertSearchOptions o = hilbert_search_options(knobs);
    o.kth_bound = kth_bound;
    if (per_query_evals != nullptr) {
      per_query_evals->assign(queries.size(), 0);
      o.per_query_evals = per_query_evals->data();
    }
    return hilbert_knn(*engine.pivot, *engine.data, queries, o, counters);
  }
  TreeQueryOptions options = tree_query_options(knobs);
  options.dataset_rows = engine.data;
  if (per_query_evals != nullptr) {
    per_query_evals->assign(queries.size(), 0);
    options.per_query_evals = per_query_evals->data();
  }
  if (!engine.tree.euclid || knobs.dense_fallback_evals == std::numeric_limits<size_t>::max() ||
      queries.size() < 4 * kBoxProbes) {
    return tree_knn(engine.tree, queries, options, counters);
  }
  // The box index's batch plan: every stride-th query probes the index; when its counted
  // distance evaluations (each ~kBoxEvalCost block-kernel ones: traversal, gathered leaves)
  // cost no less than the scans the probes would need, the rest of the batch is scanned
  // (dense_scan: the brute force's blocked kernel). Counts, never timings: reproducible.
  const size_t stride = queries.size() / kBoxProbes;
  std::vector<size_t> probe_idx, rest_idx;
  for (size_t i = 0; i < queries.size(); ++i) (i % stride == 0 ? probe_idx : rest_idx).push_back(i);
  const auto subset = [&](const std::vector<size_t>& idx) {
    std::vector<QueryRow> rows;
    rows.reserve(idx.size());
    for (size_t i : idx) rows.push_back(queries[i]);
    return rows;
  };
  const auto run_box = [&](const std::vector<size_t>& idx, KnnResult& out, QueryCounters& c,
                           bool probe) {
    const std::vector<QueryRow> rows = subset(idx);
    std::vector<uint64_t> evals(idx.size(), 0);
    TreeQueryOptions o = options;
    o.per_query_evals = evals.data();
    // A probe that has already gathered what a scan costs stops walking the tree (its query is
    // answered by the exact scan): where the index loses, the probes cost a few scans, not the
    // whole walk of a tree that prunes nothing (measured on euclid-d16-64k: 0.83x -> see README).
    if (probe && o.dense_fallback_evals == 0)
      o.dense_fallback_evals = std::max<size_t>(
          1, static_cast<size_t>(static_cast<double>(engine.data->n) / kBoxEvalCost));
    const KnnResult r = tree_knn(engine.tree, rows, o, &c);
    for (size_t i = 0; i < idx.size(); ++i) {
      std::copy_n(r.indices.begin() + static_cast<long>(i * r.k), r.k,
                  out.indices.begin() + static_cast<long>(idx[i] * out.k));
      std::copy_n(r.distances.begin() + static_cast<long>(i * r.k), r.k,
                  out.distances.begin() + static_cast<long>(idx[i] * out.k));
      if (per_query_evals != nullptr) (*per_query_evals)[idx[i]] = evals[i];
    }
  };
  KnnResult out;
  out.resize(queries.size(), knobs.k);
  QueryCounters total;
  run_box(probe_idx, out, total, true);
  const size_t n = engine.data->n;
  double scan_cost = 0.0;
  for (size_t i : probe_idx)
    scan_cost += knobs.predecessor ? static_cast<double>(std::clamp<int64_t>(queries[i].id, 0, n))
                                   : static_cast<double>(n);
  if (kBoxEvalCost * static_cast<double>(total.distance_evals) < scan_cost) {
    QueryCounters c;
    run_box(rest_idx, out, c, false);
    total += c;
  } else {
    DenseScanOptions ds;
    ds.k = knobs.k;
    ds.predecessor = knobs.predecessor;
    ds.threads = knobs.threads;
    ds.inject_slowdown = knobs.inject_slowdown;
    ds.cancel = knobs.cancel;
    ds.per_query_evals = per_query_evals != nullptr ? per_query_evals->data() : nullptr;
    QueryCounters c;
    dense_scan(*engine.data, queries, rest_idx, ds, c, out);
    c.scans_for_cost += rest_idx.size();
    total += c;
  }
  total.queries = queries.size();
  if (counters != nullptr) *counters = total;
  return out;
}

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TreeEnginePtr build_index_engine(const MetricData& data, Engine engine, const BuildSpec& build,
                                 int threads, std::vector<BuildBatchStats>* batches, int64_t* depth,
                                 const CancelToken* cancel) {
  if (engine == Engine::automatic || engine == Engine::brute) {
    throw InputError(
        fmt::format("build_index_engine: engine '{}' names no index to build", to_string(engine)));
  }
  const std::string problem = engine_metric_problem(engine, data.kind);
  if (!problem.empty()) throw InputError(fmt::format("engine: {}", problem));
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t rss_before = rss_bytes_now();
  TreeEnginePtr built;
  if (engine == Engine::cover_tree) {
    // build_euclid_tree makes only the box tree; build_cover_tree makes the cover tree and,
    // for Euclidean data, the box tree too (tree/cover_tree.cpp): dropped here so tree_knn
    // runs the cover tree's best-first search. Its build time lands in the "other" phase.
    BuildOptions options = tree_build_options(build, threads);
    options.cancel = cancel;
    CoverTree tree = build_cover_tree(data, options);
    tree.euclid.reset();
    built.reset(new TreeEngine{});
    built->tree = std::move(tree);
    built->data = &data;
    const int64_t rss_after = rss_bytes_now();
    if (depth != nullptr) *depth = built->tree.depth();
    if (batches != nullptr) level_batches(built->tree, rss_before, rss_after, *batches);
  } else {
    built = build_tree_engine(data, build, threads, batches, depth, cancel);
  }
  const double total_ms = ms_since(t0);
  if (batches != nullptr) {
    for (BuildBatchStats& b : *batches) b.build_phase = "nets_level";
    const int64_t rss_after = rss_bytes_now();
    const double box_ms = engine == Engine::box ? total_ms : 0.0;
    std::vector<BuildPhase> phases;
    if (built->pivot) {
      // The pivot index: its own phases, then what they leave (the caller's share).
      const HilbertIndex& ix = *built->pivot;
      phases = {{"hilbert_order", ix.order_ms, std::nullopt},
                {"pivot_rows", ix.rows_ms, ix.build_evals},
                {"group_ranges", ix.groups_ms, std::nullopt},
                {"coord_index", ix.coords_ms, std::nullopt}};
      double accounted = 0.0;
      for (const BuildPhase& p : phases) accounted += p.ms;
      phases.push_back({"other", std::max(0.0, total_ms - accounted), std::nullopt});
    } else {
      phases = index_build_phases(built->tree, engine, total_ms, box_ms);
    }
    for (const BuildPhase& phase : phases) {
      BuildBatchStats b;
      b.batch_index = batches->size();
      b.build_phase = phase.name;
      b.batch_ms = phase.ms;
      // The reference's build total is traversal + conflict graph + MIS (diff's
      // build_total_ms): a phase's time is carried as traversal so that total is the build's.
      b.traversal_ms = phase.ms;
      b.build_distance_evals = phase.distance_evals;
      b.rss_bytes = static_cast<uint64_t>(rss_after);
      b.rss_delta_bytes = batches->empty() ? rss_after - rss_before : 0;
      batches->push_back(b);
    }
  }
  return built;
}

std::vector<BuildPhase> index_build_phases(const CoverTree& tree, Engine engine, double total_ms,
                                           double box_index_ms) {
  std::vector<BuildPhase> phases;
  double accounted = 0.0;
  const auto add = [&](std::string name, double ms, std::optional<uint64_t> evals) {
    ms = std::max(0.0, ms);
    accounted += ms;
    phases.push_back(BuildPhase{std::move(name), ms, evals});
  };
  if (tree.size() > 0) {
    // The nets: their levels are rows of their own; what the levels do not cover (the batch
    // order, the breadth-first layout, the rows permuted into node order) is one phase.
    double levels_ms = 0.0;
    for (const BuildLevelStats& level : tree.build_levels) levels_ms += level.ms;
    accounted += levels_ms;
    add("nets_layout", tree.build_nets_ms - levels_ms, std::nullopt);
    add("radii", tree.build_radii_ms, std::nullopt);
  }
  if (engine == Engine::box) add("box_index", box_index_ms, std::nullopt);
  add("other", total_ms - accounted, std::nullopt);
  return phases;
}

const CoverTree& tree_engine_tree(const TreeEngine& engine) { return engine.tree; }

const HilbertIndex* tree_engine_pivot_index(const TreeEngine& engine) { return engine.pivot.get(); }

}  // namespace ctb
