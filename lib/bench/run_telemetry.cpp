// Maps a finished run onto the telemetry rows (lib/telemetry owns the schema and the writer).
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "bench/runner.hpp"
#include "core/build_info.hpp"
#include "metric/distance_kernels.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

RunInfo run_info(const RunResult& r) {
  const Scenario& s = r.scenario;
  const BuildInfo build = build_info();
  RunInfo info;
  info.scenario = s.name;
  info.metric = to_string(s.metric);
  info.engine = to_string(r.engine);
  info.n_points = r.n_points;
  info.dim = r.dim;
  info.n_queries = r.n_queries;
  info.k = s.k;
  info.threads = r.threads;
  info.build_strategy = to_string(s.build.strategy);
  info.batch_order = to_string(s.build.batch_order);
  info.batch_size = s.build.batch_size;
  info.predecessor = s.query.predecessor;
  info.survivor_cap = s.query.survivor_cap;
  info.low_yield_stop = s.query.low_yield_stop;
  info.repeat = s.repeat;
  info.warmup = s.warmup;
  info.data_seed = s.data.seed;
  info.data_source = s.data.npy_path.empty() ? "generated" : s.data.npy_path;
  if (s.queries.kind == QuerySpec::Kind::generated) info.query_seed = s.queries.seed;
  if (s.metric == MetricKind::residual) {
    info.kernel = to_string(s.residual.kernel);
    info.variance = s.residual.variance;
    info.lengthscale = s.residual.lengthscale;
    info.inducing_count = s.residual.inducing_count;
    info.jitter = s.residual.jitter;
    if (s.residual.inducing_npy.empty()) info.inducing_seed = s.residual.inducing_seed;
  }
  info.cpu_model = cpu_model();
  info.simd_target = simd_target_name();
  info.compiler = build.compiler;
  info.build_type = build.build_type;
  info.build_flags = build.flags;
  info.git_revision = build.git_revision;
  info.hostname = host_name();
  info.tool_version = "covertree-bench";
  info.build_seconds = r.build_seconds;
  info.backend_seconds = r.backend_seconds;
  info.query_seconds_best = r.query_seconds_best();
  info.query_seconds_median = r.query_seconds_median();
  info.qps_best = r.qps_best();
  if (r.recall_vs_brute) info.recall = *r.recall_vs_brute;
  if (r.engine != Engine::brute) info.tree_depth = static_cast<uint64_t>(r.tree_depth);
  if (r.peak_rss_bytes > 0) info.peak_rss_bytes = r.peak_rss_bytes;
  if (r.tree_stats) {
    info.tree_quality = tree_quality_json(
        *r.tree_stats, r.pass_counters.empty() ? nullptr : &r.pass_counters.back());
  }
  if (r.brute_seconds && !r.brute_seconds->empty()) {
    info.brute_seconds_best = *std::min_element(r.brute_seconds->begin(), r.brute_seconds->end());
  }
  info.sweep_id = r.sweep_id;
  info.sweep_set = r.sweep_set;
  return info;
}

}  // namespace

std::vector<std::string> append_run_telemetry(const RunResult& r, const std::string& path) {
  TelemetryWriter writer(run_info(r));
  for (const BuildBatchStats& b : r.build_batches) writer.add_build_batch(b);
  const bool known_recall = r.recall_vs_brute.has_value();
  for (size_t i = 0; i < r.passes.size(); ++i) {
    QueryPassStats pass;
    pass.pass_index = i;
    pass.warmup = r.passes[i].warmup;
    pass.query_ms = r.passes[i].seconds * 1e3;
    pass.counters = r.passes[i].counters;
    // Recall is measured on the last timed pass's answer, which every exact pass equals.
    if (known_recall && !pass.warmup) pass.recall = *r.recall_vs_brute;
    writer.add_query_pass(pass);
  }
  // Per-query rows describe the last pass (every pass does the same per-query work).
  const size_t k = r.answer.k;
  for (size_t q = 0; q < r.per_query_evals.size(); ++q) {
    QueryStats stats;
    stats.query_index = q;
    stats.query_id = q < r.query_ids.size() ? r.query_ids[q] : -1;
    stats.pass_index = r.passes.empty() ? 0 : r.passes.size() - 1;
    stats.distance_evals = r.per_query_evals[q];
    stats.kth_distance = k > 0 && q < r.answer.n_queries ? r.answer.distances[q * k + k - 1]
                                                         : std::numeric_limits<double>::infinity();
    writer.add_query(stats);
  }
  return writer.append_to(path);
}

}  // namespace ctb
