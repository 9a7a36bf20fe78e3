#include "sweep/sweep_run.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <optional>

#include "bench/progress.hpp"
#include "bench/runner.hpp"
#include "bench/stats.hpp"
#include "bench/tree_engine.hpp"
#include "sweep/pareto.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb {
namespace {

using Clock = std::chrono::steady_clock;

struct Truth {
  KnnResult answer;
  std::vector<double> brute_seconds;  // timed passes (--compare-brute), else empty
};

// The indices of `points` grouped by `key`, groups in order of first appearance.
template <class KeyFn>
std::vector<std::vector<size_t>> group_by(const std::vector<size_t>& members, KeyFn key) {
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> pos;
  for (const size_t i : members) {
    auto [it, inserted] = pos.try_emplace(key(i), groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

}  // namespace

SweepResult run_sweep(const std::vector<SweepPoint>& points, const std::vector<std::string>& fields,
                      const SweepOptions& options) {
  SweepResult out;
  out.fields = fields;
  out.sweep_id = make_run_id();
  if (!points.empty()) out.scenario = points.front().scenario.name;
  out.points.resize(points.size());
  Progress progress(options.progress);

  std::vector<size_t> all(points.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  for (const auto& inputs_group : group_by(all, [&](size_t i) { return points[i].inputs_key; })) {
    const Scenario& first = points[inputs_group.front()].scenario;
    const PreparedInputs in = prepare_inputs(first, &progress);
    std::map<std::string, Truth> truths;
    for (const auto& build_group :
         group_by(inputs_group, [&](size_t i) { return points[i].build_key; })) {
      const Scenario& build_scenario = points[build_group.front()].scenario;
      const Engine engine = resolve_engine(build_scenario.query.engine, build_scenario.metric);
      std::vector<BuildBatchStats> batches;
      int64_t depth = 0;
      double build_seconds = 0;
      size_t build_id = 0;
      TreeEnginePtr tree;
      std::optional<TreeStats> stats;
      if (engine != Engine::brute) {
        build_id = out.builds++;
        progress.status(fmt::format("sweep {}: building the {} index {} ({})", out.scenario,
                                    to_string(engine), build_id + 1,
                                    to_string(build_scenario.build.strategy)));
        const auto t0 = Clock::now();
        tree =
            build_index_engine(in.data, engine, build_scenario.build, in.threads, &batches, &depth);
        build_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        stats = tree_engine_stats(*tree);
      }

      for (const size_t i : build_group) {
        const SweepPoint& p = points[i];
        RunResult r;
        r.scenario = p.scenario;
        r.engine = engine;
        r.threads = in.threads;
        r.n_points = in.dataset.n;
        r.dim = in.dataset.dim;
        r.n_queries = in.dataset.n_queries();
        r.data_seconds = in.data_seconds;
        r.backend_seconds = in.backend_seconds;
        r.build_seconds = build_seconds;
        r.build_batches = batches;
        r.tree_depth = depth;
        r.tree_stats = stats;
        r.approximate = p.scenario.query.survivor_cap > 0 || p.scenario.query.low_yield_stop > 0;
        r.sweep_id = out.sweep_id;
        r.sweep_set = p.set;
        progress.status(fmt::format("sweep {}: point {}/{}", out.scenario, i + 1, points.size()));
        if (tree) {
          run_tree_passes(*tree, in.queries, tree_query_knobs(p.scenario, in.threads), p.scenario,
                          r, false, &progress);
        } else {
          run_brute_passes(in.data, in.queries, p.scenario, in.threads, r, &progress);
        }

        auto it = truths.find(p.truth_key);
        if (it == truths.end()) {
          Truth t;
          const size_t passes = options.compare_brute ? p.scenario.repeat : 1;
          t.brute_seconds = time_brute_passes(
              in.data, in.queries, p.scenario.k, p.scenario.query.predecessor, in.threads, passes,
              &t.answer, &progress, options.compare_brute ? p.scenario.warmup : 0);
          if (!options.compare_brute) t.brute_seconds.clear();
          it = truths.emplace(p.truth_key, std::move(t)).first;
          ++out.exact_answers;
        }
        const Truth& truth = it->second;
        r.recall_vs_brute = recall_at_k(r.answer, truth.answer);
        if (!truth.brute_seconds.empty()) r.brute_seconds = truth.brute_seconds;

        SweepPointResult& pr = out.points[i];
        pr.set = p.set;
        pr.engine = to_string(engine);
        pr.build_id = build_id;
        pr.build_seconds = build_seconds;
        pr.tree_depth = depth;
        if (stats) {
          pr.branching_mean = stats->branching_mean;
          pr.branching_max = stats->branching_max;
          pr.waste = stats->waste;
        }
        const double nq = static_cast<double>(r.n_queries);
        pr.qps_best = nq / best_of(r.query_seconds);
        pr.qps_median = nq / median_of(r.query_seconds);
        if (!r.pass_counters.empty()) {
          const QueryCounters& c = r.pass_counters.back();
          pr.distance_evals_per_query = static_cast<double>(c.distance_evals) /
                                        static_cast<double>(std::max<uint64_t>(1, c.queries));
        } else {
          // brute: every row (at most: predecessor queries read only the earlier rows)
          pr.distance_evals_per_query = static_cast<double>(r.n_points);
        }
        pr.recall = *r.recall_vs_brute;
        pr.approximate = r.approximate;
        if (r.brute_seconds) {
          const double brute_best = best_of(*r.brute_seconds);
          pr.speedup_vs_brute = brute_best / best_of(r.query_seconds);
          pr.brute_qps = nq / brute_best;
        }
        if (!options.telemetry.empty()) {
          for (std::string& w : append_run_telemetry(r, options.telemetry)) {
            out.warnings.push_back(std::move(w));
          }
        }
      }
    }
  }
  progress.clear();
  std::vector<std::pair<double, double>> rq;
  for (const SweepPointResult& p : out.points) rq.emplace_back(p.recall, p.qps_best);
  const std::vector<bool> front = pareto_front(rq);
  for (size_t i = 0; i < out.points.size(); ++i) out.points[i].pareto = front[i];
  return out;
}

}  // namespace ctb
