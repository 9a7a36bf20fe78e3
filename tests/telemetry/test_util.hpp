#pragma once
// Shared helpers for the telemetry tests: a per-test temp directory, file I/O and a small
// synthetic run of ours.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "common/temp_dir.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb::telemetry_test {

using TempDir = ctb::test_support::TempDir;

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline bool shared_available() { return std::filesystem::exists(CTB_SHARED_DIR "/spec"); }

/// The gold32k configuration (ref-telemetry.md §2.8): 32768 points, d=3, 1024 queries, k=50,
/// batch 512, natural order.
inline RunInfo gold_like_info() {
  RunInfo info;
  info.scenario = "gold32k";
  info.metric = "residual";
  info.engine = "covertree";
  info.n_points = 32768;
  info.dim = 3;
  info.n_queries = 1024;
  info.k = 50;
  info.threads = 2;
  info.build_strategy = "euclidean_hybrid";
  info.batch_order = "natural";
  info.batch_size = 512;
  info.repeat = 3;
  info.warmup = 1;
  info.data_seed = 42;
  info.query_seed = 7;
  info.inducing_seed = 9;
  info.data_source = "generated";
  info.kernel = "rbf";
  info.variance = 1.0;
  info.lengthscale = 1.0;
  info.inducing_count = 512;
  info.jitter = 1e-6;
  info.cpu_model = "Test CPU";
  info.compiler = "GNU 12";
  info.git_revision = "abc123";
  info.hostname = "testhost";
  info.build_seconds = 1.25;
  info.query_seconds_best = 0.5;
  info.query_seconds_median = 0.55;
  info.qps_best = 2048;
  return info;
}

/// A writer holding `batches` build batches and `passes` query passes (the first a warm-up).
inline TelemetryWriter synthetic_run(size_t batches = 4, size_t passes = 3,
                                     const std::string& run_id = "ctb-20250101-000000-abcdef") {
  TelemetryWriter w(gold_like_info(), run_id);
  for (size_t i = 0; i < batches; ++i) {
    BuildBatchStats b;
    b.batch_index = i;
    b.candidates = 512;
    b.selected = i == 0 ? 512 : 6 + i;
    b.dominated = b.candidates - b.selected;
    b.mis_iterations = 3;
    b.traversal_ms = 100.0 + static_cast<double>(i);
    b.conflict_graph_ms = 8.5;
    b.mis_ms = 0.25;
    b.batch_ms = 110.0 + static_cast<double>(i);
    b.rss_bytes = 300000000 + i * 4096;
    b.rss_delta_bytes = i == 0 ? 95539200 : 4096;
    b.level = 3 - static_cast<int64_t>(i);
    b.build_distance_evals = 262144 + i * 1000;
    w.add_build_batch(b);
  }
  for (size_t p = 0; p < passes; ++p) {
    QueryPassStats q;
    q.pass_index = p;
    q.warmup = p == 0;
    q.query_ms = 500.0 + 10.0 * static_cast<double>(p);
    q.counters.queries = 1024;
    q.counters.distance_evals = 1000000;
    q.counters.frontier_levels = 20000;
    q.counters.frontier_expanded = 50000;
    q.counters.pruned_by_radius = 7000;
    q.counters.pruned_by_parent = 300;
    q.counters.subtrees_pruned = 7300;
    q.counters.yields = 90000;
    q.counters.add_block(64);
    q.counters.add_block(3);
    q.recall = 1.0;
    w.add_query_pass(q);
  }
  return w;
}

}  // namespace ctb::telemetry_test
