#include "gate/gate_run.hpp"

#include <bit>

#include "core/build_info.hpp"
#include "core/sha256.hpp"
#include "metric/distance_kernels.hpp"
#include "scenario/scenario.hpp"

namespace ctb::gate {

std::string answer_checksum(const KnnResult& answer) {
  // The bytes hashed are the in-memory int64 values; pin the byte order so a baseline recorded
  // here means the same on any machine this builds on.
  static_assert(std::endian::native == std::endian::little, "checksum assumes little-endian");
  return sha256_hex(answer.indices.data(), answer.indices.size() * sizeof(int64_t));
}

Measurement measurement_from(const RunResult& r) {
  Measurement m;
  m.scenario = r.scenario.name;
  m.n_queries = r.n_queries;
  if (r.recall_vs_brute) m.recall = *r.recall_vs_brute;
  m.approximate = r.approximate;
  m.query_seconds = r.query_seconds;
  if (r.brute_seconds) m.brute_seconds = *r.brute_seconds;
  m.build_seconds = {r.build_seconds};
  m.answer_checksum = r.answer.indices.empty() ? std::string() : answer_checksum(r.answer);
  for (const QueryCounters& c : r.pass_counters) {
    m.counters_stable = m.counters_stable && c == r.pass_counters.front();
  }
  if (!r.pass_counters.empty()) {
    // Counters of the last pass (all passes agree when counters_stable).
    const QueryCounters& c = r.pass_counters.back();
    c.for_each_scalar(
        [&](const char* name, uint64_t v) { m.counters[name] = static_cast<int64_t>(v); });
  }
  m.counters["tree_depth"] = r.tree_depth;
  m.counters["k"] = static_cast<int64_t>(r.scenario.k);
  return m;
}

Measurement measure_scenario(const std::string& name, const GateRunOptions& options,
                             int* threads_used) {
  const Scenario scenario = load_scenario(name);
  RunOptions run;
  run.threads = options.threads;
  run.repeat = 1;
  run.warmup = options.warmup;
  run.compare_brute = true;
  run.inject_slowdown = options.inject_slowdown;
  run.progress = options.progress;
  std::vector<Measurement> runs;
  for (size_t i = 0; i < options.repeat; ++i) {
    const RunResult result = run_scenario(scenario, run);
    if (threads_used) *threads_used = result.threads;
    runs.push_back(measurement_from(result));
  }
  return merge_runs(runs);
}

Fingerprint current_fingerprint(int threads) {
  const BuildInfo info = build_info();
  Fingerprint fp;
  fp.cpu_model = cpu_model();
  fp.simd_target = simd_target_name();
  fp.threads = threads;
  fp.compiler = info.compiler;
  fp.build_type = info.build_type;
  return fp;
}

}  // namespace ctb::gate
