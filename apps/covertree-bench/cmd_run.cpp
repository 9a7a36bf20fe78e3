// `covertree-bench run`: one scenario end to end, with a human summary and optional outputs.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "bench/runner.hpp"
#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"
#include "mpi_world.hpp"
#include "peer/openblas_peer.hpp"
#include "scenario/scenario.hpp"

namespace ctb::cli {

void require_writable_output(const std::string& path, const std::string& option) {
  if (path.empty()) return;
  const std::filesystem::path p(path);
  std::filesystem::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) {
    throw InputError(option + " " + path + ": is a directory");
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    throw InputError(option + " " + path + ": directory " + dir.string() + " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw InputError(option + " " + path + ": directory " + dir.string() + " is not writable");
  }
}

namespace {

struct RunArgs {
  std::string scenario;
  std::string engine;
  int threads = 0;
  size_t repeat = 0;
  size_t warmup = 0;
  std::string build_strategy;
  std::string summary_json;
  std::string save_neighbors;
  std::string save_distances;
  std::string telemetry;
  bool compare_brute = false;
  bool compare_nanoflann = false;
  bool telemetry_queries = false;
  bool compare_openblas = false;
  std::string simd = "best";
  double inject_slowdown = 1.0;
  bool quiet = false;
  int fail_rank = -1;
};

}  // namespace

CommandRunner add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run a scenario: build the index that answers (query.engine, --engine), time warm-up +\n"
      "repeated query passes, print a summary.\n"
      "Example: covertree-bench run --scenario gold32k --compare-brute --summary-json s.json");
  cmd->add_option("--scenario,-s", args->scenario,
                  "Built-in scenario name (see `list`) or path to a .yaml/.json scenario file")
      ->required();
  add_engine_option(cmd, &args->engine);
  auto* threads = cmd->add_option("--threads,-t", args->threads,
                                  "Worker threads (default: the scenario's, else all cores)")
                      ->check(CLI::Range(1, 4096));
  auto* repeat = cmd->add_option("--repeat", args->repeat,
                                 "Timed query passes (default: the scenario's, usually 5)")
                     ->check(CLI::Range(size_t{1}, size_t{100000}));
  auto* warmup =
      cmd->add_option("--warmup", args->warmup,
                      "Untimed passes before timing (default: the scenario's, usually 1)")
          ->check(CLI::Range(size_t{0}, size_t{100000}));
  auto* strategy = cmd->add_option("--build-strategy", args->build_strategy,
                                   "Override build.strategy (how the cover tree's nets are formed; "
                                   "searched only by the cover-tree engine): euclidean-hybrid "
                                   "or pure-residual")
                       ->check(CLI::IsMember({"euclidean-hybrid", "pure-residual"}));
  cmd->add_option("--summary-json", args->summary_json, "Write the run summary as JSON here");
  cmd->add_option("--save-neighbors,--out-indices", args->save_neighbors,
                  "Write neighbour indices (int64 Q x k NPY, dataset indices) here");
  cmd->add_option("--save-distances,--out-distances", args->save_distances,
                  "Write neighbour distances (float64 Q x k NPY) here");
  cmd->add_option("--telemetry", args->telemetry,
                  "Append JSONL telemetry rows (run, build batches, query passes) to this file");
  cmd->add_flag("--telemetry-queries", args->telemetry_queries,
                "With --telemetry: also one covertree_bench.query row per query (its distance "
                "evaluations and k-th distance in the last timed pass; tree engine)");
  cmd->add_flag("--compare-brute", args->compare_brute,
                "Also time the exact brute force in-process; report brute_qps, speedup_vs_brute, "
                "recall_vs_brute");
  cmd->add_flag("--compare-nanoflann", args->compare_nanoflann,
                "Euclidean scenarios: also time nanoflann's k-d tree (nanoflann_qps, "
                "speedup_vs_nanoflann)");
  cmd->add_flag("--compare-openblas", args->compare_openblas,
                "Residual scenarios: also time an exact brute force whose V.V products are "
                "OpenBLAS cblas_dgemm calls (blocks of 256 queries x all rows, on OpenBLAS's "
                "threads), then our finishing code; report openblas_qps, speedup_vs_openblas, "
                "recall_vs_openblas (spec §2 cross-implementation rule)");
  add_simd_option(cmd, &args->simd);
  cmd->add_option("--inject-slowdown", args->inject_slowdown,
                  "Make the tree query do about FACTOR times its distance work (gate self-test)")
      ->check(CLI::Range(1.0, 1000.0));
  cmd->add_flag("--quiet,-q", args->quiet, "Print no summary (outputs are still written)");
  cmd->add_option("--fail-rank", args->fail_rank,
                  "Test option: rank R (under mpirun; 0 in one process) raises an error after its "
                  "build (docs/mpi.md)")
      ->check(CLI::Range(0, 1 << 20));

  return [args, threads, repeat, warmup, strategy] {
    require_writable_output(args->summary_json, "--summary-json");
    require_writable_output(args->save_neighbors, "--save-neighbors");
    require_writable_output(args->save_distances, "--save-distances");
    require_writable_output(args->telemetry, "--telemetry");
    if (args->telemetry_queries && args->telemetry.empty()) {
      throw InputError("--telemetry-queries: needs --telemetry PATH.jsonl to write the rows to");
    }
    apply_simd_option(args->simd);
    const Scenario scenario = load_scenario(args->scenario);
    RunOptions options;
    options.per_query_telemetry = args->telemetry_queries;
    options.engine = engine_option(args->engine);
    if (threads->count() > 0) options.threads = args->threads;
    if (repeat->count() > 0) options.repeat = args->repeat;
    if (warmup->count() > 0) options.warmup = args->warmup;
    if (strategy->count() > 0) {
      options.build_strategy = args->build_strategy == "pure-residual"
                                   ? BuildStrategy::pure_residual
                                   : BuildStrategy::euclidean_hybrid;
    }
    options.compare_brute = args->compare_brute;
    options.compare_nanoflann = args->compare_nanoflann;
    options.inject_slowdown = args->inject_slowdown;
    if (args->compare_openblas) {
      if (!openblas_available()) {
        throw InputError(
            "--compare-openblas: this binary was built without OpenBLAS (install "
            "libopenblas-dev and rebuild)");
      }
      auto peer = std::make_shared<OpenBlasPeer>();
      options.openblas_peer =
          PeerKnn{openblas_description(),
                  [peer](const MetricData& data, std::span<const QueryRow> queries,
                         const BruteForceOptions& o) { return peer->knn(data, queries, o); }};
    }
    options.collective = mpi_world();
    options.fail_rank = args->fail_rank;
    if (world_rank() != 0) options.progress = false;
    const RunResult result = run_scenario(scenario, options);
    if (world_rank() != 0) return 0;  // rank 0 writes the outputs, summary and telemetry

    const std::vector<size_t> shape{result.answer.n_queries, result.answer.k};
    if (!args->save_neighbors.empty()) {
      write_npy(args->save_neighbors, shape, result.answer.indices.data());
    }
    if (!args->save_distances.empty()) {
      write_npy(args->save_distances, shape, result.answer.distances.data());
    }
    if (!args->telemetry.empty()) {
      for (const std::string& w : append_run_telemetry(result, args->telemetry)) {
        std::fprintf(stderr, "covertree-bench: warning: %s\n", w.c_str());
      }
    }
    if (!args->summary_json.empty()) {
      write_file_atomic(args->summary_json, summary_json(result).dump(2) + "\n");
    }
    if (!args->quiet) std::fputs(summary_text(result).c_str(), stdout);
    return 0;
  };
}

}  // namespace ctb::cli
