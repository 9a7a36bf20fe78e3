#include "bench/knn_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "bench/memory_estimate.hpp"
#include "bench/progress.hpp"
#include "bench/runner.hpp"
#include "bench/tree_engine.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "data/csv.hpp"
#include "data/npy.hpp"
#include "data/numpy_rng.hpp"
#include "fmt/format.h"

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
  if (array.shape.size() == 1) {
    table.n = array.shape[0];
    table.dim = 1;
  } else if (array.shape.size() == 2) {
    table.n = array.shape[0];
    table.dim = array.shape[1];
  } else {
    throw InputError(path + ": --points must be a 2-D array (n x d), got " +
                     std::to_string(array.shape.size()) + " dimensions");
  }
  if (table.n == 0 || table.dim == 0) throw InputError(path + ": --points is empty");
  table.values = array.as_f64();
  for (size_t i = 0; i < table.values.size(); ++i) {
    if (!std::isfinite(table.values[i])) {
      throw InputError(
          fmt::format("{}: point {} has a NaN or infinite coordinate", path, i / table.dim));
    }
  }
  return table;
}

}  // namespace

KnnJobResult run_knn_job(const KnnJob& job) {
  KnnJobResult result;
  Progress progress(job.progress);
  const int threads = job.threads > 0 ? job.threads : hardware_threads();

  progress.status("knn: loading points");
  auto t0 = Clock::now();
  const PointTable points = load_points(job.points_path);
  result.n = points.n;
  result.dim = points.dim;
  if (job.k < 1 || job.k > points.n) {
    throw InputError(fmt::format("--k: must be between 1 and the number of points {} (got {})",
                                 points.n, job.k));
  }

  std::vector<int64_t> query_ids;
  if (job.mode == KnnQueryMode::listed) {
    const NpyArray q = read_npy(job.queries_path);
    query_ids = q.as_i64(job.queries_path + ": --queries");
    for (size_t i = 0; i < query_ids.size(); ++i) {
      if (query_ids[i] < 0 || query_ids[i] >= static_cast<int64_t>(points.n)) {
        throw InputError(fmt::format("{}: --queries entry {} is {}, outside [0, {})",
                                     job.queries_path, i, query_ids[i], points.n));
      }
    }
  } else {
    query_ids.resize(points.n);
    for (size_t i = 0; i < points.n; ++i) query_ids[i] = static_cast<int64_t>(i);
  }

  MetricData data;
  if (job.metric == MetricKind::euclidean) {
    data = make_euclidean(points.values, points.dim);
    result.load_seconds = seconds_since(t0);
  } else if (!job.v_matrix_path.empty()) {
    const NpyArray v = read_npy(job.v_matrix_path);
    const NpyArray p = read_npy(job.p_diag_path);
    if (v.shape.size() != 2 || v.shape[0] != points.n) {
      throw InputError(fmt::format("{}: --v-matrix must be n x m with n = {} points",
                                   job.v_matrix_path, points.n));
    }
    if (p.size() != points.n || p.shape.size() > 2) {
      throw InputError(
          fmt::format("{}: --p-diag must have n = {} entries", job.p_diag_path, points.n));
    }
    if (v.dtype != NpyDtype::f8 && v.dtype != NpyDtype::f4) {
      throw InputError(job.v_matrix_path + ": --v-matrix must be float64 or float32");
    }
    const std::vector<double> vv = v.as_f64();
    const std::vector<double> pp = p.as_f64();
    for (size_t i = 0; i < vv.size(); ++i) {
      if (!std::isfinite(vv[i])) {
        throw InputError(fmt::format("{}: row {} has a NaN or infinite value", job.v_matrix_path,
                                     i / v.shape[1]));
      }
    }
    for (size_t i = 0; i < pp.size(); ++i) {
      if (!std::isfinite(pp[i]) || pp[i] <= 0) {
        throw InputError(fmt::format("{}: entry {} is {} (p must be finite and > 0)",
                                     job.p_diag_path, i, pp[i]));
      }
    }
    result.load_seconds = seconds_since(t0);
    t0 = Clock::now();
    data = residual_from_vp(points.values, points.dim, vv, v.shape[1], pp, job.kernel);
    result.backend_seconds = seconds_since(t0);
    // The residual correlation is a metric (and pruning exact) only when p is the diagonal of
    // the residual covariance k(x,x) - V V^T; say so when the user's arrays disagree.
    size_t worst = 0;
    double worst_gap = 0;
    double worst_expected = 0;
    for (size_t i = 0; i < points.n; ++i) {
      const double* row = data.v_row(i);
      double norm2 = 0;
      for (size_t c = 0; c < data.rank; ++c) norm2 += row[c] * row[c];
      const double expected = std::max(job.kernel.variance - norm2, 1e-9);
      const double gap = std::abs(pp[i] - expected);
      if (gap > worst_gap) {
        worst_gap = gap;
        worst = i;
        worst_expected = expected;
      }
    }
    if (worst_gap > 1e-6 * job.kernel.variance) {
      result.warnings.push_back(fmt::format(
          "{}: p[{}] = {:.6g} but variance - |V[{}]|^2 = {:.6g}: p is not the residual diagonal "
          "of this kernel and V, so the residual correlation may not be a metric and the "
          "neighbours may not be exact",
          job.p_diag_path, worst, pp[worst], worst, worst_expected));
    }
  } else {
    result.load_seconds = seconds_since(t0);
    const size_t m =
        job.inducing_count_given ? job.inducing_count : std::min(job.inducing_count, points.n);
    if (m < 1 || m > points.n) {
      throw InputError(fmt::format(
          "--inducing: must be between 1 and the number of points {} (got {})", points.n, m));
    }
    BuildSpec spec;
    check_memory(estimate_memory(points.n, points.dim, m, query_ids.size(), job.k, true, spec),
                 available_memory_bytes(), job.points_path);
    progress.status(fmt::format("knn: residual backend (V, p), m = {}", m));
    t0 = Clock::now();
    NumpyRng rng(job.inducing_seed);
    std::vector<int64_t> inducing =
        rng.choice_without_replacement(static_cast<int64_t>(points.n), m);
    std::sort(inducing.begin(), inducing.end());
    ResidualParams params;
    params.kernel = job.kernel;
    params.jitter = job.jitter;
    data = build_residual(points.values, points.dim, inducing, params, threads);
    result.backend_seconds = seconds_since(t0);
  }

  std::vector<QueryRow> queries;
  queries.reserve(query_ids.size());
  for (const int64_t id : query_ids) queries.push_back(query_row(data, static_cast<size_t>(id)));

  progress.status(fmt::format("knn: building tree over {} points", points.n));
  t0 = Clock::now();
  std::vector<BuildBatchStats> batches;
  int64_t depth = 0;
  BuildSpec build;
  build.strategy = job.build_strategy;
  const TreeEnginePtr tree = build_tree_engine(data, build, threads, &batches, &depth);
  result.build_seconds = seconds_since(t0);

  progress.status(fmt::format("knn: {} queries, k = {}", queries.size(), job.k));
  TreeQueryKnobs knobs;
  knobs.k = job.k;
  knobs.predecessor = job.mode == KnnQueryMode::all_predecessors;
  knobs.threads = threads;
  t0 = Clock::now();
  result.answer = query_tree_engine(*tree, queries, knobs, &result.counters);
  result.query_seconds = seconds_since(t0);
  progress.clear();
  return result;
}

}  // namespace ctb
