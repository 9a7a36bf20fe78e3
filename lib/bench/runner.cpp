#include "bench/runner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <string_view>
#include <unordered_set>

#include "bench/memory_estimate.hpp"
#include "bench/progress.hpp"
#include "bench/sharded.hpp"
#include "bench/stats.hpp"
#include "bench/tree_engine.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "fmt/format.h"
#include "metric/distance_kernels.hpp"
#include "search/brute_force.hpp"
#include "tree/coord_kdtree.hpp"

namespace ctb {
namespace {

// Spec §2: another implementation's distances may differ by summation-order rounding, which
// the metric amplifies (p ~ 1e-7 at gold settings).
constexpr double kCrossImplementationTolerance = 1e-6;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The nanoflann peer: same points, same queries, same k; exact Euclidean k-NN.
KnnResult nanoflann_knn(const CoordKdTree& index, std::span<const QueryRow> queries, size_t k,
                        int threads) {
  KnnResult out;
  out.resize(queries.size(), k);
  constexpr size_t kChunk = 64;
  const size_t n_chunks = (queries.size() + kChunk - 1) / kChunk;
  parallel_for(n_chunks, threads, [&](size_t chunk, int) {
    std::vector<size_t> ids(k);
    std::vector<double> d2(k);
    const size_t end = std::min(queries.size(), (chunk + 1) * kChunk);
    for (size_t q = chunk * kChunk; q < end; ++q) {
      const size_t found = index.knnSearch(queries[q].coords, k, ids.data(), d2.data());
      for (size_t i = 0; i < found; ++i) {
        out.indices[q * k + i] = static_cast<int64_t>(ids[i]);
        out.distances[q * k + i] = std::sqrt(d2[i]);
      }
    }
  });
  return out;
}

}  // namespace

std::vector<QueryRow> make_query_rows(const MetricData& data, const Dataset& dataset) {
  std::vector<QueryRow> rows;
  if (!dataset.query_ids.empty()) {
    rows.reserve(dataset.query_ids.size());
    for (const int64_t id : dataset.query_ids)
      rows.push_back(query_row(data, static_cast<size_t>(id)));
  } else {
    const size_t nq = dataset.n_queries();
    rows.reserve(nq);
    for (size_t i = 0; i < nq; ++i) {
      QueryRow q;
      q.coords = dataset.query_points.data() + i * dataset.dim;
      q.id = -1;
      rows.push_back(q);
    }
  }
  return rows;
}

double RunResult::query_seconds_best() const { return best_of(query_seconds); }
double RunResult::query_seconds_median() const { return median_of(query_seconds); }
double RunResult::qps_best() const { return static_cast<double>(n_queries) / query_seconds_best(); }

double recall_at_k(const KnnResult& got, const KnnResult& truth) {
  size_t hits = 0;
  size_t total = 0;
  std::unordered_set<int64_t> row;
  for (size_t q = 0; q < got.n_queries && q < truth.n_queries; ++q) {
    row.clear();
    for (size_t i = 0; i < truth.k; ++i) {
      const int64_t id = truth.indices[q * truth.k + i];
      if (id >= 0) row.insert(id);
    }
    for (size_t i = 0; i < got.k; ++i) {
      const int64_t id = got.indices[q * got.k + i];
      if (id < 0) continue;
      ++total;
      hits += row.count(id);
    }
  }
  return total == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(total);
}

namespace {

void show(Progress* progress, const std::string& status) {
  if (progress != nullptr) progress->status(status);
}

}  // namespace

PreparedInputs prepare_inputs(const Scenario& scenario, Progress* progress, bool with_tree) {
  PreparedInputs in;
  in.threads = scenario.threads > 0 ? scenario.threads : hardware_threads();
  show(progress, fmt::format("{}: loading data", scenario.name));
  auto t0 = Clock::now();
  in.dataset = materialize(scenario);
  in.data_seconds = seconds_since(t0);
  const Dataset& dataset = in.dataset;
  if (scenario.k < 1 || scenario.k > dataset.n) {
    throw InputError(fmt::format("{}: field 'k': must be between 1 and n = {} (got {})",
                                 scenario.source, dataset.n, scenario.k));
  }
  // Refuse a run that cannot fit before the big allocations (V, tree rows, lists).
  check_memory(
      estimate_memory(dataset.n, dataset.dim,
                      scenario.metric == MetricKind::residual ? dataset.inducing.size() : 0,
                      dataset.n_queries(), scenario.k, with_tree, scenario.build),
      available_memory_bytes(), scenario.source);
  if (scenario.metric == MetricKind::residual) {
    show(progress, fmt::format("{}: residual backend (V, p), m = {}", scenario.name,
                               dataset.inducing.size()));
    const ResidualParams params = residual_params(scenario.residual);
    t0 = Clock::now();
    in.data = build_residual(dataset.points, dataset.dim, dataset.inducing, params, in.threads);
    in.backend_seconds = seconds_since(t0);
  } else {
    in.data = make_euclidean(dataset.points, dataset.dim);
  }
  in.queries = make_query_rows(in.data, in.dataset);
  return in;
}

void run_tree_passes(const TreeEngine& engine, std::span<const QueryRow> queries,
                     const TreeQueryKnobs& knobs, const Scenario& scenario, RunResult& result,
                     bool per_query_evals, Progress* progress) {
  const size_t passes = scenario.warmup + scenario.repeat;
  if (per_query_evals) {
    result.query_ids.clear();
    for (const QueryRow& q : queries) result.query_ids.push_back(q.id);
  }
  for (size_t pass = 0; pass < passes; ++pass) {
    const bool warm = pass < scenario.warmup;
    const bool last = pass + 1 == passes;
    show(progress, fmt::format("{}: {} pass {}/{}", scenario.name, warm ? "warm-up" : "timed",
                               warm ? pass + 1 : pass - scenario.warmup + 1,
                               warm ? scenario.warmup : scenario.repeat));
    QueryCounters counters;
    const auto t0 = Clock::now();
    KnnResult answer =
        query_tree_engine(engine, queries, knobs, &counters,
                          last && per_query_evals ? &result.per_query_evals : nullptr);
    const double seconds = seconds_since(t0);
    result.passes.push_back(PassRecord{warm, seconds, counters});
    if (!warm) {
      result.query_seconds.push_back(seconds);
      result.pass_counters.push_back(counters);
      if (last) result.answer = std::move(answer);
    }
  }
}

std::vector<double> time_brute_passes(const MetricData& data, std::span<const QueryRow> queries,
                                      size_t k, bool predecessor, int threads, size_t repeat,
                                      KnnResult* answer, Progress* progress, size_t warmup) {
  BruteForceOptions options;
  options.k = k;
  options.predecessor = predecessor;
  options.threads = threads;
  std::vector<double> times;
  for (size_t pass = 0; pass < warmup + repeat; ++pass) {
    const bool warm = pass < warmup;
    show(progress, fmt::format("brute force {} pass {}/{}", warm ? "warm-up" : "timed",
                               warm ? pass + 1 : pass - warmup + 1, warm ? warmup : repeat));
    const auto t0 = Clock::now();
    KnnResult got = brute_force_knn(data, queries, options);
    const double seconds = seconds_since(t0);
    if (warm) continue;
    times.push_back(seconds);
    if (answer != nullptr && pass + 1 == warmup + repeat) *answer = std::move(got);
  }
  return times;
}

void run_brute_passes(const MetricData& data, std::span<const QueryRow> queries,
                      const Scenario& scenario, int threads, RunResult& result,
                      Progress* progress) {
  BruteForceOptions options;
  options.k = scenario.k;
  options.predecessor = scenario.query.predecessor;
  options.threads = threads;
  const size_t passes = scenario.warmup + scenario.repeat;
  for (size_t pass = 0; pass < passes; ++pass) {
    const bool warm = pass < scenario.warmup;
    show(progress, fmt::format("{}: {} pass {}/{}", scenario.name, warm ? "warm-up" : "timed",
                               warm ? pass + 1 : pass - scenario.warmup + 1,
                               warm ? scenario.warmup : scenario.repeat));
    const auto t0 = Clock::now();
    KnnResult answer = brute_force_knn(data, queries, options);
    const double seconds = seconds_since(t0);
    result.passes.push_back(PassRecord{warm, seconds, QueryCounters{}});
    if (!warm) {
      result.query_seconds.push_back(seconds);
      if (pass + 1 == passes) result.answer = std::move(answer);
    }
  }
}

double recall_cross_implementation(const KnnResult& theirs, const KnnResult& ours, double tol,
                                   double* max_distance_error) {
  size_t hits = 0;
  size_t total = 0;
  double max_err = 0.0;
  std::unordered_set<int64_t> row;
  for (size_t q = 0; q < theirs.n_queries && q < ours.n_queries; ++q) {
    row.clear();
    double kth = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < ours.k; ++i) {
      const int64_t id = ours.indices[q * ours.k + i];
      if (id < 0) continue;
      row.insert(id);
      kth = std::max(kth, ours.distances[q * ours.k + i]);
    }
    for (size_t i = 0; i < theirs.k; ++i) {
      const int64_t id = theirs.indices[q * theirs.k + i];
      if (i < ours.k) {
        const double a = theirs.distances[q * theirs.k + i];
        const double b = ours.distances[q * ours.k + i];
        const bool padding = std::isinf(a) && std::isinf(b) && a > 0 && b > 0;
        const double err = padding ? 0.0 : std::fabs(a - b);
        max_err = std::max(max_err, std::isnan(err) ? INFINITY : err);
      }
      if (id < 0) continue;
      ++total;
      const double d = theirs.distances[q * theirs.k + i];
      if (row.count(id) != 0 || std::fabs(d - kth) <= tol) ++hits;
    }
  }
  if (max_distance_error != nullptr) *max_distance_error = max_err;
  return total == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(total);
}

RunResult run_scenario(const Scenario& scenario_in, const RunOptions& options) {
  RunResult result;
  result.scenario = scenario_in;
  Scenario& scenario = result.scenario;
  if (options.threads) scenario.threads = *options.threads;
  if (options.repeat) scenario.repeat = *options.repeat;
  if (options.warmup) scenario.warmup = *options.warmup;
  if (options.build_strategy) scenario.build.strategy = *options.build_strategy;
  apply_engine_option(scenario, options.engine);
  const Engine engine = resolve_engine(scenario.query.engine, scenario.metric);
  if (scenario.repeat < 1) throw InputError("--repeat: must be >= 1");
  if (!(options.inject_slowdown >= 1.0) || !std::isfinite(options.inject_slowdown)) {
    throw InputError("--inject-slowdown: must be a finite factor >= 1");
  }
  if (options.compare_nanoflann && scenario.metric != MetricKind::euclidean) {
    throw InputError("--compare-nanoflann: only for Euclidean scenarios (scenario '" +
                     scenario.name + "' is residual)");
  }
  if (options.per_query_telemetry && engine == Engine::brute) {
    throw InputError("--telemetry-queries: per-query counts come from the tree engine only");
  }
  if (options.openblas_peer && scenario.metric != MetricKind::residual) {
    throw InputError("--compare-openblas: only for residual scenarios (scenario '" + scenario.name +
                     "' is Euclidean: there is no V.V product to hand to DGEMM)");
  }
  result.engine = engine;
  result.approximate = scenario.query.survivor_cap > 0 || scenario.query.low_yield_stop > 0;
  if (options.collective != nullptr && options.collective->size() > 1) {
    run_scenario_sharded(result, options, *options.collective);  // sharded.cpp, docs/mpi.md
    return result;
  }
  Progress progress(options.progress);

  const PreparedInputs in = prepare_inputs(scenario, &progress, engine != Engine::brute);
  result.threads = in.threads;
  result.data_seconds = in.data_seconds;
  result.backend_seconds = in.backend_seconds;
  result.n_points = in.dataset.n;
  result.dim = in.dataset.dim;
  result.n_queries = in.dataset.n_queries();
  const MetricData& data = in.data;
  const std::vector<QueryRow>& queries = in.queries;
  const size_t k = scenario.k;
  const bool predecessor = scenario.query.predecessor;
  const size_t passes = scenario.warmup + scenario.repeat;

  BruteForceOptions brute_options;
  brute_options.k = k;
  brute_options.predecessor = predecessor;
  brute_options.threads = result.threads;

  if (engine != Engine::brute) {
    progress.status(fmt::format("{}: building the {} index ({})", scenario.name, to_string(engine),
                                to_string(scenario.build.strategy)));
    auto t0 = Clock::now();
    const TreeEnginePtr tree = build_index_engine(data, engine, scenario.build, result.threads,
                                                  &result.build_batches, &result.tree_depth);
    result.build_seconds = seconds_since(t0);
    result.tree_stats = tree_engine_stats(*tree);
    if (options.fail_rank == 0) throw std::runtime_error("--fail-rank 0: fails after the build");
    TreeQueryKnobs knobs = tree_query_knobs(scenario, result.threads);
    knobs.inject_slowdown = options.inject_slowdown;
    run_tree_passes(*tree, queries, knobs, scenario, result, options.per_query_telemetry,
                    &progress);
  } else {
    run_brute_passes(data, queries, scenario, result.threads, result, &progress);
  }

  if (options.compare_brute) {
    KnnResult truth;
    result.brute_seconds = time_brute_passes(data, queries, k, predecessor, result.threads,
                                             scenario.repeat, &truth, &progress, scenario.warmup);
    result.recall_vs_brute = recall_at_k(result.answer, truth);
  }

  if (options.compare_nanoflann) {
    progress.status(fmt::format("{}: nanoflann", scenario.name));
    const CoordCloud cloud{data.coords.data(), data.n, data.dim};
    auto t0 = Clock::now();
    CoordKdTree index(static_cast<int>(data.dim), cloud,
                      nanoflann::KDTreeSingleIndexAdaptorParams(10));
    result.nanoflann_build_seconds = seconds_since(t0);
    std::vector<double> times;
    KnnResult theirs;
    for (size_t pass = 0; pass < passes; ++pass) {
      t0 = Clock::now();
      theirs = nanoflann_knn(index, queries, k, result.threads);
      if (pass >= scenario.warmup) times.push_back(seconds_since(t0));
    }
    result.nanoflann_seconds = times;
    result.recall_vs_nanoflann = recall_at_k(result.answer, theirs);
  }
  if (options.openblas_peer) {
    // The same repetitions as ours, after ours (so OpenBLAS's idle threads never overlap
    // our timed passes).
    const PeerKnn& peer = *options.openblas_peer;
    result.openblas_description = peer.description;
    std::vector<double> times;
    KnnResult theirs;
    for (size_t pass = 0; pass < passes; ++pass) {
      progress.status(fmt::format("{}: OpenBLAS peer pass {}/{}", scenario.name, pass + 1, passes));
      const auto t0 = Clock::now();
      theirs = peer.knn(data, queries, brute_options);
      if (pass >= scenario.warmup) times.push_back(seconds_since(t0));
    }
    result.openblas_seconds = times;
    double max_err = 0.0;
    result.recall_vs_openblas =
        recall_cross_implementation(theirs, result.answer, kCrossImplementationTolerance, &max_err);
    result.openblas_max_distance_error = max_err;
  }
  progress.clear();
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

uint64_t peak_rss_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

nlohmann::json tree_quality_json(const TreeStats& st, const QueryCounters* counters) {
  nlohmann::json j;
  j["tree_depth"] = st.depth;
  j["branching_mean"] = st.branching_mean;
  j["branching_max"] = st.branching_max;
  j["nodes"] = st.nodes;
  j["base"] = st.base;
  j["waste"] = st.waste;
  j["waste_sample"] = st.waste_sample;
  nlohmann::json levels = nlohmann::json::array();
  for (const TreeLevelShape& l : st.levels) {
    levels.push_back({{"level", l.level},
                      {"nodes", l.nodes},
                      {"internal", l.internal},
                      {"branching_mean", l.branching_mean},
                      {"branching_max", l.branching_max},
                      {"radius_p10", l.radius_p10},
                      {"median_radius", l.median_radius},
                      {"radius_p90", l.radius_p90},
                      {"radius_max", l.radius_max},
                      {"waste", l.waste},
                      {"waste_pairs", l.waste_pairs}});
  }
  j["levels"] = levels;
  j["build_nets_ms"] = st.build_nets_ms;
  j["build_radii_ms"] = st.build_radii_ms;
  j["build_pivots_ms"] = st.build_pivots_ms;
  j["pivots"] = st.pivots;
  j["pivot_list"] = st.pivot_list;
  j["pivot_cover_radius"] = st.pivot_cover_radius;
  j["tree_bytes"] = st.bytes;
  if (!st.index.empty()) j["index"] = st.index;
  if (!st.pivot_rule.empty()) j["pivot_rule"] = st.pivot_rule;
  if (counters != nullptr) {
    j["dense_share"] = static_cast<double>(counters->dense_fallbacks) /
                       static_cast<double>(std::max<uint64_t>(1, counters->queries));
    const double total = static_cast<double>(std::max<uint64_t>(1, counters->distance_evals));
    j["eval_share"] = {
        {"seed", static_cast<double>(counters->seed_evals) / total},
        {"pivot", static_cast<double>(counters->pivot_evals) / total},
        {"candidate", static_cast<double>(counters->candidate_evals) / total},
        {"dense", static_cast<double>(counters->dense_evals) / total},
        {"tree", static_cast<double>(counters->distance_evals - counters->seed_evals -
                                     counters->pivot_evals - counters->candidate_evals -
                                     counters->dense_evals) /
                     total}};
  }
  return j;
}

void apply_engine_option(Scenario& scenario, const std::optional<Engine>& engine) {
  if (!engine) return;
  if (const std::string problem = engine_metric_problem(*engine, scenario.metric);
      !problem.empty()) {
    throw InputError(fmt::format("--engine {}: {}", to_string(*engine), problem));
  }
  scenario.query.engine = *engine;
  if (const EngineKnobProblem knob = engine_knob_problem(scenario); !knob.field.empty()) {
    throw InputError(fmt::format("--engine {}: {}: field '{}': {}", to_string(*engine),
                                 scenario.source, knob.field, knob.problem));
  }
}

nlohmann::json plan_json(const QueryCounters& c) {
  const uint64_t nq = std::max<uint64_t>(1, c.queries);
  const uint64_t scans = c.dense_fallbacks;
  nlohmann::json j;
  j["choice"] = scans == 0 ? "index" : scans >= c.queries ? "scan" : "mixed";
  j["scan_share"] = static_cast<double>(scans) / static_cast<double>(nq);
  std::string why;
  if (scans == 0) {
    why = "every query through the index: its bound left fewer candidates than a scan costs";
  } else {
    why = fmt::format(
        "{} of {} queries scanned: {} where the bound left more candidates than a scan costs "
        "(n / 5: a gathered evaluation costs ~5 block-kernel ones) or the batch is too small "
        "for the index, {} without k admissible seeds, {} predecessor queries with few "
        "predecessors",
        scans, c.queries, c.scans_for_cost, c.scans_without_seeds, c.scans_of_predecessors);
  }
  j["why"] = why;
  return j;
}

nlohmann::json summary_json(const RunResult& r) {
  const Scenario& s = r.scenario;
  const BuildInfo info = build_info();
  nlohmann::json j;
  j["scenario"] = s.name;
  j["scenario_source"] = s.source;
  j["engine"] = to_string(r.engine);
  j["metric"] = to_string(s.metric);
  j["n_points"] = r.n_points;
  j["dim"] = r.dim;
  j["n_queries"] = r.n_queries;
  j["k"] = s.k;
  j["threads"] = r.threads;
  j["predecessor"] = s.query.predecessor;
  j["approximate"] = r.approximate;
  if (s.metric == MetricKind::residual) {
    j["kernel"] = to_string(s.residual.kernel);
    j["inducing_count"] = s.residual.inducing_count;
  }
  j["build_strategy"] = to_string(s.build.strategy);
  j["build_base"] = s.build.base;
  j["batch_order"] = to_string(s.build.batch_order);
  j["repeat"] = s.repeat;
  j["warmup"] = s.warmup;
  j["data_seconds"] = r.data_seconds;
  j["backend_seconds"] = r.backend_seconds;
  j["build_seconds"] = r.build_seconds;
  j["query_seconds_best"] = r.query_seconds_best();
  j["query_seconds_median"] = r.query_seconds_median();
  j["query_seconds_all"] = r.query_seconds;
  j["qps_best"] = r.qps_best();
  j["qps_median"] = static_cast<double>(r.n_queries) / r.query_seconds_median();
  if (r.engine != Engine::brute) {
    j["tree_depth"] = r.tree_depth;
    // The build by phase (the telemetry build rows summed per build_phase; they cover the whole
    // build, so the ms add up to build_seconds).
    nlohmann::json phases = nlohmann::json::array();
    for (const BuildBatchStats& b : r.build_batches) {
      const std::string name = b.build_phase.value_or("nets_level");
      if (phases.empty() || phases.back()["name"] != name)
        phases.push_back({{"name", name}, {"ms", 0.0}, {"rows", 0}});
      phases.back()["ms"] = phases.back()["ms"].get<double>() + b.batch_ms;
      phases.back()["rows"] = phases.back()["rows"].get<int>() + 1;
    }
    j["build_phases"] = phases;
    if (r.tree_stats) {
      j["tree_quality"] = tree_quality_json(
          *r.tree_stats, r.pass_counters.empty() ? nullptr : &r.pass_counters.back());
    }
    if (!r.pass_counters.empty()) {
      const QueryCounters& c = r.pass_counters.back();
      const double nq = static_cast<double>(std::max<uint64_t>(1, c.queries));
      c.for_each_scalar([&](const char* name, uint64_t v) {
        if (std::string_view(name) == "queries") return;
        j[name] = v;
        j[std::string(name) + "_per_query"] = static_cast<double>(v) / nq;
      });
      j["block_sizes"] = c.block_sizes;
      j["plan"] = plan_json(c);
    }
  }
  if (r.engine == Engine::brute) {
    j["plan"] = {{"choice", "scan"}, {"scan_share", 1.0}, {"why", "the brute-force engine"}};
  }
  if (r.brute_seconds) {
    const double best = best_of(*r.brute_seconds);
    j["brute_seconds_all"] = *r.brute_seconds;
    j["brute_seconds_best"] = best;
    j["brute_qps"] = static_cast<double>(r.n_queries) / best;
    j["speedup_vs_brute"] = best / r.query_seconds_best();
    j["recall_vs_brute"] = *r.recall_vs_brute;
  }
  if (r.nanoflann_seconds) {
    const double best = best_of(*r.nanoflann_seconds);
    j["nanoflann_build_seconds"] = *r.nanoflann_build_seconds;
    j["nanoflann_seconds_all"] = *r.nanoflann_seconds;
    j["nanoflann_qps"] = static_cast<double>(r.n_queries) / best;
    j["speedup_vs_nanoflann"] = best / r.query_seconds_best();
    j["recall_vs_nanoflann"] = *r.recall_vs_nanoflann;
  }
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["world_size"] = r.world_size;
  {
    // One process: itself as rank 0.
    std::vector<RankStats> ranks = r.ranks;
    if (ranks.empty()) {
      RankStats self;
      self.rows = r.n_points;
      self.build_seconds = r.build_seconds;
      self.distance_evals = r.pass_counters.empty() ? 0 : r.pass_counters.back().distance_evals;
      self.peak_rss_bytes = r.peak_rss_bytes;
      ranks.push_back(self);
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const RankStats& x : ranks) {
      rows.push_back({{"rank", x.rank},
                      {"rows", x.rows},
                      {"build_seconds", x.build_seconds},
                      {"distance_evals", x.distance_evals},
                      {"bytes_sent", x.bytes_sent},
                      {"peak_rss_bytes", x.peak_rss_bytes}});
    }
    j["ranks"] = rows;
  }
  if (r.openblas_seconds) {
    const double best = best_of(*r.openblas_seconds);
    j["openblas"] = r.openblas_description;
    j["openblas_seconds_all"] = *r.openblas_seconds;
    j["openblas_seconds_best"] = best;
    j["openblas_qps"] = static_cast<double>(r.n_queries) / best;
    j["speedup_vs_openblas"] = best / r.query_seconds_best();
    j["recall_vs_openblas"] = *r.recall_vs_openblas;
    j["openblas_max_distance_error"] = *r.openblas_max_distance_error;
  }
  j["simd_target"] = simd_target_name();
  j["cpu_model"] = cpu_model();
  j["core_count"] = hardware_threads();
  j["compiler"] = info.compiler;
  j["compiler_flags"] = info.flags;
  j["build_type"] = info.build_type;
  j["git_revision"] = info.git_revision;
  return j;
}

std::string summary_text(const RunResult& r) {
  const Scenario& s = r.scenario;
  std::string out;
  out += fmt::format("scenario   {} ({}, {} points x {} dims, {} queries, k = {}{})\n", s.name,
                     to_string(s.metric), r.n_points, r.dim, r.n_queries, s.k,
                     s.query.predecessor ? ", predecessors only" : "");
  out += fmt::format("engine     {} on {} thread{}, SIMD {}{}\n", to_string(r.engine), r.threads,
                     r.threads == 1 ? "" : "s", simd_target_name(),
                     r.approximate ? "  [APPROXIMATE budget on]" : "");
  if (s.metric == MetricKind::residual) {
    out += fmt::format("backend    {:.3f} s (V, p; {} kernel, m = {})\n", r.backend_seconds,
                       to_string(s.residual.kernel), s.residual.inducing_count);
  }
  if (r.engine != Engine::brute) {
    out += fmt::format("build      {:.3f} s ({}, depth {})\n", r.build_seconds,
                       to_string(s.build.strategy), r.tree_depth);
    if (r.tree_stats && r.tree_stats->nodes > 0) {
      const TreeStats& t = *r.tree_stats;
      out +=
          fmt::format("tree       base {}, {} levels, branching mean {:.2f} max {}, waste {:.3f}\n",
                      t.base, t.levels.size(), t.branching_mean, t.branching_max, t.waste);
    }
  }
  out += fmt::format("query      best {:.4f} s, median {:.4f} s over {} passes -> {:.0f} q/s\n",
                     r.query_seconds_best(), r.query_seconds_median(), r.query_seconds.size(),
                     r.qps_best());
  if (!r.pass_counters.empty()) {
    const QueryCounters& c = r.pass_counters.back();
    out += fmt::format("work       {:.1f} distance evaluations per query ({:.2f}% of N)\n",
                       static_cast<double>(c.distance_evals) / static_cast<double>(c.queries),
                       100.0 * static_cast<double>(c.distance_evals) /
                           static_cast<double>(c.queries) / static_cast<double>(r.n_points));
  }
  if (r.brute_seconds) {
    const double best = best_of(*r.brute_seconds);
    out += fmt::format("brute      best {:.4f} s -> {:.0f} q/s; speed-up {:.2f}x; recall {:.6f}\n",
                       best, static_cast<double>(r.n_queries) / best, best / r.query_seconds_best(),
                       *r.recall_vs_brute);
  }
  if (r.nanoflann_seconds) {
    const double best = best_of(*r.nanoflann_seconds);
    out += fmt::format("nanoflann  best {:.4f} s -> {:.0f} q/s; speed-up {:.2f}x; recall {:.6f}\n",
                       best, static_cast<double>(r.n_queries) / best, best / r.query_seconds_best(),
                       *r.recall_vs_nanoflann);
  }
  if (r.openblas_seconds) {
    const double best = best_of(*r.openblas_seconds);
    out += fmt::format(
        "openblas   best {:.4f} s -> {:.0f} q/s; speed-up {:.2f}x; recall {:.6f} (spec §2 rule, "
        "max |delta d| {:.2g})\n",
        best, static_cast<double>(r.n_queries) / best, best / r.query_seconds_best(),
        *r.recall_vs_openblas, *r.openblas_max_distance_error);
  }
  return out;
}

}  // namespace ctb
