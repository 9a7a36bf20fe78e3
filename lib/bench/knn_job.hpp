#pragma once
// The Vecchia neighbour-selection job on a user's own data: points from NPY or CSV, the
// residual metric from kernel hyper-parameters (we choose inducing points) or from the user's
// own V and p, exact k-NN for all points, their predecessors, or listed queries.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/build_strategy.hpp"
#include "core/collective.hpp"
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
  BuildStrategy build_strategy = BuildStrategy::euclidean_hybrid;  // the cover tree's nets
  Engine engine = Engine::automatic;  // the index that answers (--engine)
  size_t k = 1;
  int threads = 0;       // 0 = all cores
  bool progress = true;  // status line on a terminal
  // Sharded over processes (docs/mpi.md): the other ranks (nullptr or size 1: one process).
  Collective* collective = nullptr;
  int fail_rank = -1;  // --fail-rank R: rank R throws after its build (tests the error path)
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
  Engine engine = Engine::pivot;      // the index that answered (never automatic)
  std::vector<std::string> warnings;  // e.g. a user's p inconsistent with their V and kernel
  int world_size = 1;                 // processes the rows were sharded over
};

/// Runs the job. Throws InputError naming the file/option on bad input.
KnnJobResult run_knn_job(const KnnJob& job);

// Input checks and metric set-up shared by run_knn_job (the CLI) and the Python module
// (python/), so both reject bad input with the same one-line messages. `label` names the input
// in the message: the CLI passes "<file>: --flag" or "--flag", the module the argument's name.

/// The point dimension of an array of `shape` (1-D: one coordinate per point). Throws
/// InputError unless the array is 1-D or 2-D and not empty.
size_t points_dim(std::span<const size_t> shape, const std::string& label);

/// Throws InputError naming the first point (row-major, `dim` per point) that has a NaN or
/// infinite coordinate.
void check_points_finite(std::span<const double> values, size_t dim, const std::string& label);

/// Throws InputError unless 1 <= k <= n (signed: Python callers may pass a negative k).
void check_k(int64_t k, size_t n, const std::string& label);

/// Throws InputError naming the first id outside [0, n).
void check_query_ids(std::span<const int64_t> ids, size_t n, const std::string& label);

/// The scenarios' inducing points: sort(default_rng(seed).choice(n, m, replace=False)).
/// Throws InputError unless 1 <= m <= n.
std::vector<int64_t> choose_inducing_points(size_t n, size_t m, uint64_t seed,
                                            const std::string& label);

/// A user's own V and p (row-major doubles with their array shapes), named for messages.
struct UserVp {
  std::span<const double> v;
  std::vector<size_t> v_shape;  // must be n x m
  std::span<const double> p;
  std::vector<size_t> p_shape;  // n entries (n, n x 1 or 1 x n)
  std::string v_label;          // e.g. "V.npy: --v-matrix" or "v_matrix"
  std::string p_label;
};

/// Residual metric data from a user's V and p over `coords` (n x dim): checks shapes and
/// values (InputError), and appends one warning to `warnings` when some p_i is below the
/// residual diagonal variance - |V_i|^2 of `kernel` beyond rounding (then the correlation may
/// not be a metric and the neighbours may not be exact), naming how many rows and the worst.
/// p at or above the diagonal (a nugget, a floor) is exact and silent.
MetricData residual_from_user_vp(std::span<const double> coords, size_t dim, const UserVp& vp,
                                 const KernelParams& kernel, std::vector<std::string>* warnings);

}  // namespace ctb
