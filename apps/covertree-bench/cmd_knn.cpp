// `covertree-bench knn`: exact neighbour sets for a user's own points (Vecchia conditioning
// sets with --all-predecessors).
#include <cstdio>

#include "bench/knn_job.hpp"
#include "commands.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"
#include "fmt/format.h"
#include "metric/distance_kernels.hpp"
#include "mpi_world.hpp"

namespace ctb::cli {
namespace {

struct KnnArgs {
  KnnJob job;
  std::string metric = "residual";
  std::string kernel = "rbf";
  std::string build_strategy = "euclidean-hybrid";
  std::string engine;
  std::string out_indices;
  std::string out_distances;
  bool all_predecessors = false;
  std::string simd = "best";
  bool quiet = false;
};

}  // namespace

CommandRunner add_knn_command(CLI::App& app) {
  auto args = std::make_shared<KnnArgs>();
  auto* cmd = app.add_subcommand(
      "knn",
      "Exact k-NN of your own points (NPY or CSV) under the residual correlation or Euclidean\n"
      "metric. Every point against all points by default (a point finds itself at distance 0);\n"
      "--all-predecessors gives Vecchia conditioning sets (point i against points j < i).\n"
      "Example: covertree-bench knn --points X.npy --k 30 --inducing 200 --all-predecessors \\\n"
      "           --out-indices I.npy --out-distances D.npy");
  cmd->add_option("--points", args->job.points_path,
                  "Points: .npy (float64/float32, n x d) or .csv (one point per line, no header)")
      ->required();
  cmd->add_option("--k", args->job.k, "Neighbours per query")
      ->required()
      ->check(CLI::Range(size_t{1}, size_t{1} << 31));
  cmd->add_option("--out-indices,--save-neighbors", args->out_indices,
                  "Write neighbour indices here (int64 Q x k NPY; -1 pads missing neighbours)")
      ->required();
  cmd->add_option("--out-distances,--save-distances", args->out_distances,
                  "Write neighbour distances here (float64 Q x k NPY; +inf pads)");
  cmd->add_option("--metric", args->metric, "residual or euclidean")
      ->check(CLI::IsMember({"residual", "euclidean"}))
      ->capture_default_str();
  cmd->add_option("--kernel", args->kernel, "Residual kernel: rbf or matern52")
      ->check(CLI::IsMember({"rbf", "matern52"}))
      ->capture_default_str();
  cmd->add_option("--lengthscale", args->job.kernel.lengthscale, "Kernel lengthscale (> 0)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--variance", args->job.kernel.variance, "Kernel variance sigma^2 (> 0)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--jitter", args->job.jitter,
                  "Added to K_mm's diagonal, relative to the variance (>= 0)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  auto* inducing = cmd->add_option("--inducing", args->job.inducing_count,
                                   "Inducing points m chosen as the scenarios do (default 512, at "
                                   "most n)")
                       ->check(CLI::Range(size_t{1}, size_t{1} << 31));
  cmd->add_option("--inducing-seed", args->job.inducing_seed,
                  "Seed of the inducing-point choice (numpy default_rng)")
      ->capture_default_str();
  auto* v_matrix = cmd->add_option("--v-matrix", args->job.v_matrix_path,
                                   "Your own V (n x m NPY) instead of --inducing; needs --p-diag");
  auto* p_diag =
      cmd->add_option("--p-diag", args->job.p_diag_path,
                      "Your own p (n NPY), with --v-matrix: at least variance - |V_i|^2 (a "
                      "nugget is fine)");
  v_matrix->needs(p_diag);
  p_diag->needs(v_matrix);
  inducing->excludes(v_matrix);
  auto* predecessors = cmd->add_flag("--all-predecessors", args->all_predecessors,
                                     "Point i against points j < i only (Vecchia); rows with "
                                     "fewer than k predecessors are padded with -1 / +inf");
  auto* queries = cmd->add_option("--queries", args->job.queries_path,
                                  "Only these queries: int64 NPY of dataset indices");
  predecessors->excludes(queries);
  add_engine_option(cmd, &args->engine);
  cmd->add_option("--build-strategy", args->build_strategy,
                  "How the cover tree's nets are formed: euclidean-hybrid (in the coordinates) "
                  "or pure-residual (in the residual metric itself). Only the cover-tree engine "
                  "(--engine cover-tree) searches the nets; the default pivot engine does not "
                  "(it changes only its build time)")
      ->check(CLI::IsMember({"euclidean-hybrid", "pure-residual"}))
      ->capture_default_str();
  cmd->add_option("--threads,-t", args->job.threads, "Worker threads (default: all cores)")
      ->check(CLI::Range(1, 4096));
  add_simd_option(cmd, &args->simd);
  cmd->add_flag("--quiet,-q", args->quiet, "Print no summary");
  cmd->add_option("--fail-rank", args->job.fail_rank,
                  "Test option: rank R (under mpirun; 0 in one process) raises an error after its "
                  "build (docs/mpi.md)")
      ->check(CLI::Range(0, 1 << 20));

  return [args, inducing] {
    apply_simd_option(args->simd);
    KnnJob& job = args->job;
    require_writable_output(args->out_indices, "--out-indices");
    require_writable_output(args->out_distances, "--out-distances");
    job.metric = args->metric == "euclidean" ? MetricKind::euclidean : MetricKind::residual;
    job.kernel.type = args->kernel == "matern52" ? KernelType::matern52 : KernelType::rbf;
    job.build_strategy = args->build_strategy == "pure-residual" ? BuildStrategy::pure_residual
                                                                 : BuildStrategy::euclidean_hybrid;
    if (const std::optional<Engine> engine = engine_option(args->engine)) job.engine = *engine;
    job.inducing_count_given = inducing->count() > 0;
    if (job.metric == MetricKind::euclidean &&
        (job.inducing_count_given || !job.v_matrix_path.empty())) {
      throw InputError("--inducing/--v-matrix: only for --metric residual");
    }
    job.mode = args->all_predecessors     ? KnnQueryMode::all_predecessors
               : job.queries_path.empty() ? KnnQueryMode::all_points
                                          : KnnQueryMode::listed;
    job.collective = mpi_world();
    if (world_rank() != 0) job.progress = false;
    const KnnJobResult r = run_knn_job(job);
    if (world_rank() != 0) return 0;  // rank 0 writes the outputs
    for (const std::string& w : r.warnings)
      std::fprintf(stderr, "covertree-bench: warning: %s\n", w.c_str());
    const std::vector<size_t> shape{r.answer.n_queries, r.answer.k};
    write_npy(args->out_indices, shape, r.answer.indices.data());
    if (!args->out_distances.empty()) {
      write_npy(args->out_distances, shape, r.answer.distances.data());
    }
    if (!args->quiet) {
      const double total = r.load_seconds + r.backend_seconds + r.build_seconds + r.query_seconds;
      std::fputs(fmt::format("knn: {} points x {} dims, {} queries, k = {}: load {:.3f} s, "
                             "backend {:.3f} s, build {:.3f} s, query {:.3f} s, total {:.3f} s "
                             "({:.1f} distance evaluations per query; {} engine, SIMD {}{})\n",
                             r.n, r.dim, r.answer.n_queries, r.answer.k, r.load_seconds,
                             r.backend_seconds, r.build_seconds, r.query_seconds, total,
                             static_cast<double>(r.counters.distance_evals) /
                                 static_cast<double>(std::max<size_t>(1, r.answer.n_queries)),
                             to_string(r.engine), simd_target_name(),
                             r.world_size > 1 ? fmt::format("; {} ranks", r.world_size) : "")
                     .c_str(),
                 stdout);
    }
    return 0;
  };
}

}  // namespace ctb::cli
