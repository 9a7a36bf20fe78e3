#include "telemetry/telemetry.hpp"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <random>

#include "core/atomic_file.hpp"
#include "core/sha256.hpp"
#include "telemetry/json_line.hpp"

namespace ctb {

using nlohmann::json;

namespace {

void put_optional(json& row, const char* key, const std::optional<double>& v, double scale = 1) {
  if (v) row[key] = *v * scale;
}
template <typename T>
void put_optional_int(json& row, const char* key, const std::optional<T>& v) {
  if (v) row[key] = *v;
}
void put_nonempty(json& row, const char* key, const std::string& v) {
  if (!v.empty()) row[key] = v;
}

json row_header(const char* schema_id, const std::string& run_id, const std::string& run_hash) {
  json row = json::object();
  row["schema_id"] = schema_id;
  row["schema_version"] = kTelemetrySchemaVersion;
  row["run_id"] = run_id;
  row["run_hash"] = run_hash;
  return row;
}

}  // namespace

std::string make_run_id() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  // Two runs started in the same second still get different ids.
  std::random_device rd;
  return fmt::format("ctb-{}-{:06x}", stamp, rd() & 0xFFFFFFu);
}

json run_config_json(const RunInfo& info) {
  json c = json::object();
  c["scenario"] = info.scenario;
  c["metric"] = info.metric;
  c["engine"] = info.engine;
  c["tree_points"] = info.n_points;
  c["dimension"] = info.dim;
  c["queries"] = info.n_queries;
  c["k"] = info.k;
  c["threads"] = info.threads;
  c["build_strategy"] = info.build_strategy;
  c["batch_order_strategy"] = info.batch_order;
  c["batch_size"] = info.batch_size;
  c["predecessor"] = info.predecessor;
  c["survivor_cap"] = info.survivor_cap;
  c["low_yield_stop"] = info.low_yield_stop;
  c["repeat"] = info.repeat;
  c["warmup"] = info.warmup;
  c["data_seed"] = info.data_seed;
  put_optional_int(c, "query_seed", info.query_seed);
  put_optional_int(c, "inducing_seed", info.inducing_seed);
  c["data_source"] = info.data_source;
  if (!info.kernel.empty()) {
    c["kernel"] = info.kernel;
    c["variance"] = info.variance;
    c["lengthscale"] = info.lengthscale;
    c["inducing_count"] = info.inducing_count;
    c["jitter"] = info.jitter;
  }
  return c;
}

const std::vector<std::string>& run_config_keys() {
  static const std::vector<std::string> keys = {
      "scenario",   "metric",      "engine",       "tree_points",    "dimension",
      "queries",    "k",           "threads",      "build_strategy", "batch_order_strategy",
      "batch_size", "predecessor", "survivor_cap", "low_yield_stop", "repeat",
      "warmup",     "data_seed",   "query_seed",   "inducing_seed",  "data_source",
      "kernel",     "variance",    "lengthscale",  "inducing_count", "jitter"};
  return keys;
}

std::string compute_run_hash(const RunInfo& info) {
  const json payload = {
      {"config", run_config_json(info)}, {"schema_id", "covertree_bench.run_hash"}, {"version", 1}};
  const std::string canonical = dump_json(payload, JsonStyle::canonical);
  return sha256_hex(canonical.data(), canonical.size());
}

json make_run_row(const RunInfo& info, const std::string& run_id, const std::string& run_hash,
                  size_t build_batches, size_t query_passes) {
  json row = row_header(kRunSchemaId, run_id, run_hash);
  row.update(run_config_json(info));
  row["timestamp"] =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  put_nonempty(row, "cpu_model", info.cpu_model);
  put_nonempty(row, "simd_target", info.simd_target);
  put_nonempty(row, "compiler", info.compiler);
  put_nonempty(row, "build_type", info.build_type);
  put_nonempty(row, "build_flags", info.build_flags);
  put_nonempty(row, "git_revision", info.git_revision);
  put_nonempty(row, "hostname", info.hostname);
  put_nonempty(row, "tool_version", info.tool_version);
  put_optional(row, "build_ms", info.build_seconds, 1e3);
  put_optional(row, "backend_ms", info.backend_seconds, 1e3);
  put_optional(row, "query_ms_best", info.query_seconds_best, 1e3);
  put_optional(row, "query_ms_median", info.query_seconds_median, 1e3);
  put_optional(row, "qps_best", info.qps_best);
  put_optional(row, "recall", info.recall);
  put_optional_int(row, "peak_rss_bytes", info.peak_rss_bytes);
  put_optional_int(row, "tree_depth", info.tree_depth);
  if (info.tree_quality.is_object()) row["tree_quality"] = info.tree_quality;
  put_optional(row, "brute_ms_best", info.brute_seconds_best, 1e3);
  put_nonempty(row, "sweep_id", info.sweep_id);
  if (!info.sweep_id.empty() && info.sweep_set.is_object()) row["sweep_set"] = info.sweep_set;
  row["build_batches"] = build_batches;
  row["query_passes"] = query_passes;
  return row;
}

json make_build_batch_row(const RunInfo& info, const BuildBatchStats& b, const std::string& run_id,
                          const std::string& run_hash) {
  json row = row_header(kBuildBatchSchemaId, run_id, run_hash);
  row["batch_index"] = b.batch_index;
  // As in the reference, batch_size is the configured size; the real length is `candidates`.
  row["batch_size"] = info.batch_size;
  row["metric"] = info.metric;
  row["candidates"] = b.candidates;
  row["selected"] = b.selected;
  row["dominated"] = b.dominated;
  row["mis_iterations"] = b.mis_iterations;
  row["traversal_ms"] = b.traversal_ms;
  row["conflict_graph_ms"] = b.conflict_graph_ms;
  row["mis_ms"] = b.mis_ms;
  row["batch_ms"] = b.batch_ms;
  put_optional_int(row, "rss_bytes", b.rss_bytes);
  put_optional_int(row, "rss_delta_bytes", b.rss_delta_bytes);
  put_optional_int(row, "level", b.level);
  put_optional_int(row, "conflict_adj_pairs", b.conflict_adj_pairs);
  put_optional_int(row, "build_distance_evals", b.build_distance_evals);
  if (b.build_phase) row["build_phase"] = *b.build_phase;
  return row;
}

json make_query_pass_row(const RunInfo& info, const QueryPassStats& q, const std::string& run_id,
                         const std::string& run_hash) {
  json row = row_header(kQueryPassSchemaId, run_id, run_hash);
  const QueryCounters& c = q.counters;
  row["pass_index"] = q.pass_index;
  row["warmup"] = q.warmup;
  row["query_ms"] = q.query_ms;
  // A zero-time pass gives qps = Infinity, written as the bare token like the reference does.
  row["qps"] = static_cast<double>(c.queries) * 1e3 / q.query_ms;
  row["k"] = info.k;
  c.for_each_scalar([&](const char* name, uint64_t v) { row[name] = v; });
  json hist = json::array();
  uint64_t blocks = 0;
  for (uint64_t n : c.block_sizes) {
    hist.push_back(n);
    blocks += n;
  }
  row["block_size_hist"] = std::move(hist);
  row["blocks"] = blocks;
  put_optional(row, "recall", q.recall);
  return row;
}

json make_query_row(const QueryStats& q, const std::string& run_id, const std::string& run_hash) {
  json row = row_header(kQuerySchemaId, run_id, run_hash);
  row["query_index"] = q.query_index;
  row["query_id"] = q.query_id;
  row["pass_index"] = q.pass_index;
  row["distance_evals"] = q.distance_evals;
  row["kth_distance"] = q.kth_distance;
  return row;
}

TelemetryWriter::TelemetryWriter(RunInfo info, std::string run_id)
    : info_(std::move(info)), run_id_(run_id.empty() ? make_run_id() : std::move(run_id)) {}

void TelemetryWriter::add_build_batch(const BuildBatchStats& stats) { batches_.push_back(stats); }

void TelemetryWriter::add_query_pass(const QueryPassStats& stats) { passes_.push_back(stats); }

void TelemetryWriter::add_query(const QueryStats& stats) { queries_.push_back(stats); }

std::string TelemetryWriter::render() const {
  const std::string hash = run_hash();
  std::string out = dump_json(make_run_row(info_, run_id_, hash, batches_.size(), passes_.size()));
  out += '\n';
  for (const auto& b : batches_) {
    out += dump_json(make_build_batch_row(info_, b, run_id_, hash));
    out += '\n';
  }
  for (const auto& q : passes_) {
    out += dump_json(make_query_pass_row(info_, q, run_id_, hash));
    out += '\n';
  }
  for (const auto& q : queries_) {
    out += dump_json(make_query_row(q, run_id_, hash));
    out += '\n';
  }
  return out;
}

std::vector<std::string> TelemetryWriter::append_to(const std::filesystem::path& path) const {
  return append_lines_atomic(path, render());
}

}  // namespace ctb
