#include "bench/knn_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "bench/memory_estimate.hpp"
#include "bench/progress.hpp"
#include "bench/runner.hpp"
#include "bench/sharded.hpp"
#include "bench/tree_engine.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "data/csv.hpp"
#include "data/npy.hpp"
#include "data/numpy_rng.hpp"
#include "fmt/format.h"
#include "tree/hilbert_index.hpp"

namespace ctb {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return tail == suffix;
}

PointTable load_points(const std::string& path) {
  if (has_suffix(path, ".csv") || has_suffix(path, ".txt")) return read_points_csv(path);
  const NpyArray array = read_npy(path);
  if (array.dtype != NpyDtype::f8 && array.dtype != NpyDtype::f4) {
    throw InputError(path + ": --points must be float64 or float32");
  }
  PointTable table;
  const std::string label = path + ": --points";
  table.dim = points_dim(array.shape, label);
  table.n = array.shape[0];
  table.values = array.as_f64();
  check_points_finite(table.values, table.dim, label);
  return table;
}

// Queries per round of a sharded job: each round sends the round's query rows to every rank
// and the ranks' k best to rank 0, so memory stays bounded for all-points jobs.
constexpr size_t kShardedQueryRound = 8192;

// run_knn_job over ranks (docs/mpi.md): every rank reads the points, holds and indexes its
// contiguous block of rows; rank 0 gets the merged answer.
// The queries the job names: the listed ids of --queries (checked against n), or every point.
std::vector<int64_t> job_query_ids(const KnnJob& job, size_t n) {
  std::vector<int64_t> ids;
  if (job.mode == KnnQueryMode::listed) {
    const NpyArray q = read_npy(job.queries_path);
    ids = q.as_i64(job.queries_path + ": --queries");
    check_query_ids(ids, n, job.queries_path + ": --queries");
  } else {
    ids.resize(n);
    for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  }
  return ids;
}

// The user's V and p as read from --v-matrix and --p-diag (every row); `view` is what
// residual_from_user_vp checks and uses.
struct LoadedVp {
  std::vector<double> v, p;
  std::vector<size_t> v_shape, p_shape;
  UserVp view(const KnnJob& job) const {
    UserVp vp;
    vp.v = v;
    vp.v_shape = v_shape;
    vp.p = p;
    vp.p_shape = p_shape;
    vp.v_label = job.v_matrix_path + ": --v-matrix";
    vp.p_label = job.p_diag_path + ": --p-diag";
    return vp;
  }
};

LoadedVp read_user_vp(const KnnJob& job) {
  const NpyArray v = read_npy(job.v_matrix_path);
  const NpyArray p = read_npy(job.p_diag_path);
  if (v.dtype != NpyDtype::f8 && v.dtype != NpyDtype::f4) {
    throw InputError(job.v_matrix_path + ": --v-matrix must be float64 or float32");
  }
  return {v.as_f64(), p.as_f64(), v.shape, p.shape};
}

KnnJobResult run_knn_job_sharded(const KnnJob& job, Collective& world) {
  KnnJobResult result;
  const int rank = world.rank(), size = world.size();
  result.world_size = size;
  Progress progress(job.progress && rank == 0);
  const int threads = job.threads > 0
                          ? job.threads
                          : std::max(1, hardware_threads() / std::max(1, world.local_size()));

  progress.status("knn: loading points");
  auto t0 = Clock::now();
  const PointTable points = load_points(job.points_path);
  result.n = points.n;
  result.dim = points.dim;
  check_k(static_cast<int64_t>(job.k), points.n, "--k");
  const RowRange range = shard_of(points.n, rank, size);

  std::vector<int64_t> query_ids = job_query_ids(job, points.n);

  MetricData data;
  if (job.metric == MetricKind::euclidean) {
    data = make_euclidean(std::span<const double>(points.values)
                              .subspan(range.begin * points.dim, range.size() * points.dim),
                          points.dim);
    result.load_seconds = seconds_since(t0);
  } else if (!job.v_matrix_path.empty()) {
    // The user's V is read whole on every rank (the checks and the warning see all rows), then
    // only this rank's rows are kept.
    const LoadedVp loaded = read_user_vp(job);
    const UserVp vp = loaded.view(job);
    result.load_seconds = seconds_since(t0);
    t0 = Clock::now();
    data = slice_rows(
        residual_from_user_vp(points.values, points.dim, vp, job.kernel, &result.warnings),
        range.begin, range.end);
    result.backend_seconds = seconds_since(t0);
  } else {
    result.load_seconds = seconds_since(t0);
    const size_t m =
        job.inducing_count_given ? job.inducing_count : std::min(job.inducing_count, points.n);
    BuildSpec spec;
    spec.pivots = hilbert_pivot_count(points.n, range.size());  // as the build below
    const int host = std::max(1, world.local_size());
    const MemoryEstimate e =
        times_ranks_on_host(estimate_memory(range.size(), points.dim, m,
                                            rank == 0 ? query_ids.size() : 0, job.k, true, spec),
                            host, false);
    check_memory(e, available_memory_bytes(),
                 fmt::format("{} (rank {} of {}: rows [{}, {}), {} ranks on this host)",
                             job.points_path, rank, size, range.begin, range.end, host));
    progress.status(fmt::format("knn: residual backend (V, p), m = {}", m));
    t0 = Clock::now();
    const std::vector<int64_t> inducing =
        choose_inducing_points(points.n, m, job.inducing_seed, "--inducing");
    ResidualParams params;
    params.kernel = job.kernel;
    params.jitter = job.jitter;
    data = build_residual_rows(points.values, points.dim, inducing, params, threads, range.begin,
                               range.end);
    for (int64_t& id : data.ids) id -= static_cast<int64_t>(range.begin);  // local ids
    result.backend_seconds = seconds_since(t0);
  }

  result.engine = resolve_engine(job.engine, job.metric);
  const bool predecessor = job.mode == KnnQueryMode::all_predecessors;
  TreeEnginePtr tree;
  if (result.engine != Engine::brute) {
    progress.status(fmt::format("knn: building the {} index over rows [{}, {})",
                                to_string(result.engine), range.begin, range.end));
    t0 = Clock::now();
    std::vector<BuildBatchStats> batches;
    int64_t depth = 0;
    BuildSpec build;
    build.strategy = job.build_strategy;
    // A shard gets the pivot-row budget of one process over all points (hilbert_index.hpp).
    if (job.metric == MetricKind::residual)
      build.pivots = hilbert_pivot_count(points.n, range.size());
    tree = build_index_engine(data, result.engine, build, threads, &batches, &depth);
    result.build_seconds = seconds_since(t0);
  }
  if (job.fail_rank == rank) {
    throw std::runtime_error(fmt::format(
        "--fail-rank {}: rank {} of {} raises an error after its build (the error path's test)",
        rank, rank, size));
  }

  TreeQueryKnobs knobs;
  knobs.k = job.k;
  knobs.predecessor = predecessor;
  knobs.threads = threads;
  BruteForceOptions brute;
  brute.k = job.k;
  brute.predecessor = predecessor;
  brute.threads = threads;
  if (rank == 0) result.answer.resize(query_ids.size(), job.k);
  QueryCounters local;
  t0 = Clock::now();
  for (size_t lo = 0; lo < query_ids.size(); lo += kShardedQueryRound) {
    const size_t hi = std::min(query_ids.size(), lo + kShardedQueryRound);
    progress.status(
        fmt::format("knn: queries {}..{} of {}, k = {}", lo, hi, query_ids.size(), job.k));
    SharedQueries shared;
    share_query_rows(world, data, range, std::span<const int64_t>(query_ids).subspan(lo, hi - lo),
                     nullptr, shared);
    const KnnResult merged =
        answer_sharded(world, shared.rows, range, points.n, job.k, predecessor,
                       [&](std::span<const QueryRow> qs, std::span<const double> bounds) {
                         if (result.engine == Engine::brute)
                           return brute_force_knn(data, qs, brute);
                         QueryCounters c;
                         KnnResult r = query_tree_engine(*tree, qs, knobs, &c, nullptr, bounds);
                         local += c;
                         return r;
                       });
    if (rank == 0) {
      std::copy(merged.indices.begin(), merged.indices.end(),
                result.answer.indices.begin() + static_cast<ptrdiff_t>(lo * job.k));
      std::copy(merged.distances.begin(), merged.distances.end(),
                result.answer.distances.begin() + static_cast<ptrdiff_t>(lo * job.k));
    }
  }
  result.query_seconds = seconds_since(t0);
  local.queries = query_ids.size();
  result.counters = sum_counters(world, local);
  progress.clear();
  return result;
}

}  // namespace

KnnJobResult run_knn_job(const KnnJob& job) {
  // Before any input is read: an engine the metric cannot use is a usage error.
  const std::string problem = engine_metric_problem(job.engine, job.metric);
  if (!problem.empty())
    throw InputError(fmt::format("--engine {}: {}", to_string(job.engine), problem));
  if (job.collective != nullptr && job.collective->size() > 1)
    return run_knn_job_sharded(job, *job.collective);
  KnnJobResult result;
  Progress progress(job.progress);
  const int threads = job.threads > 0 ? job.threads : hardware_threads();

  progress.status("knn: loading points");
  auto t0 = Clock::now();
  const PointTable points = load_points(job.points_path);
  result.n = points.n;
  result.dim = points.dim;
  check_k(static_cast<int64_t>(job.k), points.n, "--k");

  std::vector<int64_t> query_ids = job_query_ids(job, points.n);

  MetricData data;
  if (job.metric == MetricKind::euclidean) {
    data = make_euclidean(points.values, points.dim);
    result.load_seconds = seconds_since(t0);
  } else if (!job.v_matrix_path.empty()) {
    const LoadedVp loaded = read_user_vp(job);
    const UserVp vp = loaded.view(job);
    result.load_seconds = seconds_since(t0);
    t0 = Clock::now();
    data = residual_from_user_vp(points.values, points.dim, vp, job.kernel, &result.warnings);
    result.backend_seconds = seconds_since(t0);
  } else {
    result.load_seconds = seconds_since(t0);
    const size_t m =
        job.inducing_count_given ? job.inducing_count : std::min(job.inducing_count, points.n);
    BuildSpec spec;
    check_memory(estimate_memory(points.n, points.dim, m, query_ids.size(), job.k, true, spec),
                 available_memory_bytes(), job.points_path);
    progress.status(fmt::format("knn: residual backend (V, p), m = {}", m));
    t0 = Clock::now();
    const std::vector<int64_t> inducing =
        choose_inducing_points(points.n, m, job.inducing_seed, "--inducing");
    ResidualParams params;
    params.kernel = job.kernel;
    params.jitter = job.jitter;
    data = build_residual(points.values, points.dim, inducing, params, threads);
    result.backend_seconds = seconds_since(t0);
  }

  std::vector<QueryRow> queries;
  queries.reserve(query_ids.size());
  for (const int64_t id : query_ids) queries.push_back(query_row(data, static_cast<size_t>(id)));

  result.engine = resolve_engine(job.engine, job.metric);
  const bool predecessor = job.mode == KnnQueryMode::all_predecessors;
  if (result.engine == Engine::brute) {
    progress.status(fmt::format("knn: brute force, {} queries, k = {}", queries.size(), job.k));
    BruteForceOptions brute;
    brute.k = job.k;
    brute.predecessor = predecessor;
    brute.threads = threads;
    t0 = Clock::now();
    result.answer = brute_force_knn(data, queries, brute);
    result.query_seconds = seconds_since(t0);
    progress.clear();
    return result;
  }
  progress.status(
      fmt::format("knn: building the {} index over {} points", to_string(result.engine), points.n));
  t0 = Clock::now();
  std::vector<BuildBatchStats> batches;
  int64_t depth = 0;
  BuildSpec build;
  build.strategy = job.build_strategy;
  const TreeEnginePtr tree =
      build_index_engine(data, result.engine, build, threads, &batches, &depth);
  result.build_seconds = seconds_since(t0);
  if (job.fail_rank == 0) throw std::runtime_error("--fail-rank 0: fails after the build");

  progress.status(fmt::format("knn: {} queries, k = {}", queries.size(), job.k));
  TreeQueryKnobs knobs;
  knobs.k = job.k;
  knobs.predecessor = predecessor;
  knobs.threads = threads;
  t0 = Clock::now();
  result.answer = query_tree_engine(*tree, queries, knobs, &result.counters);
  result.query_seconds = seconds_since(t0);
  progress.clear();
  return result;
}

size_t points_dim(std::span<const size_t> shape, const std::string& label) {
  if (shape.size() != 1 && shape.size() != 2) {
    throw InputError(
        fmt::format("{} must be a 2-D array (n x d), got {} dimensions", label, shape.size()));
  }
  const size_t dim = shape.size() == 1 ? 1 : shape[1];
  if (shape[0] == 0 || dim == 0) throw InputError(label + " is empty");
  return dim;
}

void check_points_finite(std::span<const double> values, size_t dim, const std::string& label) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw InputError(
          fmt::format("{}: point {} has a NaN or infinite coordinate", label, i / dim));
    }
  }
}

void check_k(int64_t k, size_t n, const std::string& label) {
  if (k < 1 || static_cast<uint64_t>(k) > n) {
    throw InputError(
        fmt::format("{}: must be between 1 and the number of points {} (got {})", label, n, k));
  }
}

void check_query_ids(std::span<const int64_t> ids, size_t n, const std::string& label) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= static_cast<int64_t>(n)) {
      throw InputError(fmt::format("{} entry {} is {}, outside [0, {})", label, i, ids[i], n));
    }
  }
}

std::vector<int64_t> choose_inducing_points(size_t n, size_t m, uint64_t seed,
                                            const std::string& label) {
  if (m < 1 || m > n) {
    throw InputError(
        fmt::format("{}: must be between 1 and the number of points {} (got {})", label, n, m));
  }
  NumpyRng rng(seed);
  std::vector<int64_t> inducing = rng.choice_without_replacement(static_cast<int64_t>(n), m);
  std::sort(inducing.begin(), inducing.end());
  return inducing;
}

MetricData residual_from_user_vp(std::span<const double> coords, size_t dim, const UserVp& vp,
                                 const KernelParams& kernel, std::vector<std::string>* warnings) {
  const size_t n = dim > 0 ? coords.size() / dim : 0;
  if (vp.v_shape.size() != 2 || vp.v_shape[0] != n || vp.v_shape[1] == 0) {
    throw InputError(fmt::format("{} must be n x m with n = {} points", vp.v_label, n));
  }
  const size_t rank = vp.v_shape[1];
  size_t p_entries = 1;
  for (const size_t extent : vp.p_shape) p_entries *= extent;
  if (p_entries != n || vp.p_shape.size() > 2 || vp.p.size() != n || vp.v.size() != n * rank) {
    throw InputError(fmt::format("{} must have n = {} entries", vp.p_label, n));
  }
  for (size_t i = 0; i < vp.v.size(); ++i) {
    if (!std::isfinite(vp.v[i])) {
      throw InputError(fmt::format("{}: row {} has a NaN or infinite value", vp.v_label, i / rank));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(vp.p[i]) || vp.p[i] <= 0) {
      throw InputError(
          fmt::format("{}: entry {} is {} (p must be finite and > 0)", vp.p_label, i, vp.p[i]));
    }
  }
  MetricData data = residual_from_vp(coords, dim, vp.v, rank, vp.p, kernel);
  // The residual correlation is a metric (and every pruning bound valid) when the matrix it
  // normalises, k(x_i, x_j) - V_i.V_j off the diagonal and p_i on it, is positive semi-definite:
  // true for p_i = k(x_i, x_i) - |V_i|^2 (the residual covariance) and for any p_i above it (the
  // residual covariance plus a non-negative diagonal: a nugget, or our 1e-9 floor). Only p_i
  // BELOW the residual diagonal can break it; allow for rounding in how the user summed |V_i|^2
  // (1e-12 of the variance, plus a few ulps of the terms).
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  size_t below = 0;
  size_t worst = 0;
  double worst_shortfall = 0;
  double worst_diagonal = 0;
  for (size_t i = 0; i < n; ++i) {
    const double* row = data.v_row(i);
    double norm2 = 0;
    for (size_t c = 0; c < data.rank; ++c) norm2 += row[c] * row[c];
    const double diagonal = kernel.variance - norm2;
    const double slack = 1e-12 * kernel.variance + 4 * kEps * (kernel.variance + norm2);
    const double shortfall = diagonal - vp.p[i];
    if (shortfall > slack) {
      ++below;
      if (shortfall > worst_shortfall) {
        worst_shortfall = shortfall;
        worst = i;
        worst_diagonal = diagonal;
      }
    }
  }
  if (below > 0 && warnings != nullptr) {
    warnings->push_back(fmt::format(
        "{}: p[{}] = {:.6g} but variance - |V[{}]|^2 = {:.6g} (the worst of {} of {} rows where p "
        "is below the residual diagonal): the residual correlation may not be a metric and the "
        "neighbours may not be exact (p at or above variance - |V_i|^2, e.g. with a nugget, is "
        "exact)",
        vp.p_label, worst, vp.p[worst], worst, worst_diagonal, below, n));
  }
  return data;
}

}  // namespace ctb
