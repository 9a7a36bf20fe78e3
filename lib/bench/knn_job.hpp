#pragma once
// The Vecchia neighbour-selection job on a user's own data: points from NPY or CSV, the
// residual metric from kernel hyper-parameters (we choose inducing points) or from the user's
// own V and p, exact k-NN for all points, their predecessors, or listed queries.
#include <cstdint>
#include <string>
#include <vector>

#include "core/build_strategy.hpp"
#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"

namespace ctb {

enum class KnnQueryMode { all_points, all_predecessors, listed };

struct KnnJob {
  std::string points_path;  // .npy (float64/float32, n x d) or .csv
  MetricKind metric = MetricKind::residual;
  KernelParams kernel;          // residual: kernel type, variance, lengthscale
  double jitter = 1e-6;         // residual: relative to variance
  size_t inducing_count = 512;  // residual: m (capped at n when not given explicitly)
  bool inducing_count_given = false;
  uint64_t inducing_seed = 0;  // residual: sort(default_rng(seed).choice(n, m))
  std::string v_matrix_path;   // residual: user's own V (n x m), with p_diag_path
  std::string p_diag_path;     // residual: user's own p (n)
  KnnQueryMode mode = KnnQueryMode::all_points;
  std::string queries_path;  // mode listed: int64 dataset indices
  BuildStrategy build_strategy = BuildStrategy::euclidean_hybrid;  // how the tree is built
  size_t k = 1;
  int threads = 0;       // 0 = all cores
  bool progress = true;  // status line on a terminal
};

struct KnnJobResult {
  KnnResult answer;  // rows in the order of the queries (dataset order for all)
  size_t n = 0;
  size_t dim = 0;
  double load_seconds = 0;
  double backend_seconds = 0;
  double build_seconds = 0;
  double query_seconds = 0;
  QueryCounters counters;
  std::vector<std::string> warnings;  // e.g. a user's p inconsistent with their V and kernel
};

/// Runs the job. Throws InputError naming the file/option on bad input.
KnnJobResult run_knn_job(const KnnJob& job);

}  // namespace ctb
