// The installed API (include/covertree_bench/covertree_bench.hpp) over the library calls the
// CLI's `knn` subcommand makes (bench/knn_job.cpp): the same input checks, metric set-up,
// index build (build_index_engine), queries (query_tree_engine) and brute-force scan. Nothing
// here searches by itself.
#include <algorithm>
#include <cmath>
#include <covertree_bench/covertree_bench.hpp>
#include <limits>
#include <optional>

#include "bench/knn_job.hpp"
#include "bench/tree_engine.hpp"
#include "core/build_info.hpp"
#include "core/build_strategy.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "data/npy.hpp"
#include "fmt/format.h"
#include "metric/metric.hpp"
#include "scenario/scenario.hpp"
#include "search/brute_force.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb {
namespace {

constexpr size_t kDefaultInducing = 512;  // as the CLI's --inducing and the Python module

int resolve_threads(int threads) { return threads > 0 ? threads : hardware_threads(); }

size_t checked_rows(std::span<const double> points, size_t dim) {
  if (dim == 0) throw InputError("points: dim must be > 0");
  if (points.empty()) throw InputError("points is empty");
  if (points.size() % dim != 0) {
    throw InputError(fmt::format("points: {} values are not a whole number of rows of dim = {}",
                                 points.size(), dim));
  }
  check_points_finite(points, dim, "points");
  return points.size() / dim;
}

void check_positive(double value, const char* name) {
  if (!(value > 0) || !std::isfinite(value)) {
    throw InputError(fmt::format("{}: must be finite and > 0 (got {})", name, value));
  }
}

MetricData euclidean_data(const EuclideanInput& input) {
  checked_rows(input.points, input.dim);
  return make_euclidean(input.points, input.dim);
}

MetricData residual_data(const ResidualInput& input, int threads,
                         std::vector<std::string>* warnings) {
  const size_t n = checked_rows(input.points, input.dim);
  check_positive(input.variance, "variance");
  check_positive(input.lengthscale, "lengthscale");
  KernelParams kernel;
  kernel.type = input.kernel == Kernel::matern52 ? KernelType::matern52 : KernelType::rbf;
  kernel.variance = input.variance;
  kernel.lengthscale = input.lengthscale;
  if (!input.v.empty() || !input.p.empty()) {
    if (input.v.empty()) throw InputError("ResidualInput.p: given without ResidualInput.v");
    if (input.rank == 0 || input.v.size() % input.rank != 0) {
      throw InputError(
          fmt::format("ResidualInput.v: {} values are not a whole number of rows of rank = {}",
                      input.v.size(), input.rank));
    }
    UserVp vp;
    vp.v = input.v;
    vp.v_shape = {input.v.size() / input.rank, input.rank};
    vp.p = input.p;
    vp.p_shape = {input.p.size()};
    vp.v_label = "ResidualInput.v";
    vp.p_label = "ResidualInput.p";
    return residual_from_user_vp(input.points, input.dim, vp, kernel, warnings);
  }
  if (!(input.jitter >= 0) || !std::isfinite(input.jitter)) {
    throw InputError(fmt::format("jitter: must be finite and >= 0 (got {})", input.jitter));
  }
  // As the CLI: the default m is capped at n, an explicit one must fit.
  const size_t m = input.inducing_count > 0 ? input.inducing_count : std::min(kDefaultInducing, n);
  const std::vector<int64_t> inducing = choose_inducing_points(n, m, input.seed, "inducing_count");
  ResidualParams params;
  params.kernel = kernel;
  params.jitter = input.jitter;
  return build_residual(input.points, input.dim, inducing, params, threads);
}

BuildStrategy read_build_strategy(const std::string& name) {
  if (name == "euclidean-hybrid") return BuildStrategy::euclidean_hybrid;
  if (name == "pure-residual") return BuildStrategy::pure_residual;
  throw InputError(
      fmt::format("build_strategy: unknown '{}' (euclidean-hybrid or pure-residual)", name));
}

Engine read_engine(const std::string& name, MetricKind metric) {
  const std::optional<Engine> engine = parse_engine(name);
  if (!engine) throw InputError(fmt::format("engine: unknown '{}' ({})", name, kEngineNames));
  const std::string problem = engine_metric_problem(*engine, metric);
  if (!problem.empty()) throw InputError(fmt::format("engine {}: {}", name, problem));
  return resolve_engine(*engine, metric);
}

// The query rows of `query` over `data` (dataset order), after checking k, ids and coords.
std::vector<QueryRow> query_rows(const MetricData& data, const KnnQuery& query) {
  check_k(static_cast<int64_t>(std::min<size_t>(query.k, std::numeric_limits<int64_t>::max())),
          data.n, "k");
  if (!query.ids.empty() && !query.coords.empty()) {
    throw InputError("queries: give ids or coords, not both");
  }
  std::vector<QueryRow> rows;
  if (!query.coords.empty()) {
    if (data.kind != MetricKind::euclidean) {
      throw InputError("coords: residual queries are dataset points (ids)");
    }
    if (query.predecessor) {
      throw InputError("predecessor: needs dataset points as queries (ids or all points)");
    }
    if (query.coords.size() % data.dim != 0) {
      throw InputError(fmt::format("coords: {} values are not a whole number of rows of dim = {}",
                                   query.coords.size(), data.dim));
    }
    check_points_finite(query.coords, data.dim, "coords");
    rows.resize(query.coords.size() / data.dim);
    for (size_t i = 0; i < rows.size(); ++i) rows[i].coords = query.coords.data() + i * data.dim;
  } else if (!query.ids.empty()) {
    check_query_ids(query.ids, data.n, "ids");
    rows.reserve(query.ids.size());
    for (const int64_t id : query.ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  } else {
    rows.reserve(data.n);
    for (size_t i = 0; i < data.n; ++i) rows.push_back(query_row(data, i));
  }
  return rows;
}

Neighbours to_neighbours(KnnResult&& answer) {
  Neighbours out;
  out.rows = answer.n_queries;
  out.k = answer.k;
  out.indices = std::move(answer.indices);
  out.distances = std::move(answer.distances);
  return out;
}

Neighbours brute_force(const MetricData& data, const KnnQuery& query, int threads) {
  const std::vector<QueryRow> rows = query_rows(data, query);
  BruteForceOptions options;
  options.k = query.k;
  options.predecessor = query.predecessor;
  options.threads = query.threads > 0 ? query.threads : threads;
  return to_neighbours(brute_force_knn(data, rows, options));
}

}  // namespace

struct Index::Impl {
  MetricData data;  // dataset order; the engine reads it in place, so it never moves
  Engine engine = Engine::box;
  TreeEnginePtr tree;  // null for the brute engine
  int threads = 1;
  std::vector<std::string> warnings;
};

namespace {

// The index over the metric rows `make(threads, &warnings)` returns.
template <class MakeData>
Index build(const MakeData& make, MetricKind metric, const IndexOptions& options) {
  auto impl = std::make_unique<Index::Impl>();
  impl->engine = read_engine(options.engine, metric);
  BuildSpec build;
  build.strategy = read_build_strategy(options.build_strategy);
  impl->threads = resolve_threads(options.threads);
  impl->data = make(impl->threads, &impl->warnings);
  if (impl->engine != Engine::brute) {
    std::vector<BuildBatchStats> batches;
    int64_t depth = 0;
    impl->tree =
        build_index_engine(impl->data, impl->engine, build, impl->threads, &batches, &depth);
  }
  return Index(std::move(impl));
}

}  // namespace

std::string version() { return project_version(); }

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

size_t Index::size() const { return impl_->data.n; }
size_t Index::dim() const { return impl_->data.dim; }
std::string Index::metric() const { return to_string(impl_->data.kind); }
std::string Index::engine() const { return to_string(impl_->engine); }
std::vector<std::string> Index::warnings() const { return impl_->warnings; }

Neighbours Index::knn(const KnnQuery& query) const {
  const Impl& impl = *impl_;
  if (!impl.tree) return brute_force(impl.data, query, impl.threads);
  const std::vector<QueryRow> rows = query_rows(impl.data, query);
  TreeQueryKnobs knobs;
  knobs.k = query.k;
  knobs.predecessor = query.predecessor;
  knobs.threads = query.threads > 0 ? query.threads : impl.threads;
  QueryCounters counters;
  return to_neighbours(query_tree_engine(*impl.tree, rows, knobs, &counters));
}

Index build_index(const EuclideanInput& input, const IndexOptions& options) {
  return build([&](int, std::vector<std::string>*) { return euclidean_data(input); },
               MetricKind::euclidean, options);
}

Index build_index(const ResidualInput& input, const IndexOptions& options) {
  return build(
      [&](int threads, std::vector<std::string>* warnings) {
        return residual_data(input, threads, warnings);
      },
      MetricKind::residual, options);
}

Neighbours brute_force_knn(const EuclideanInput& input, const KnnQuery& query) {
  return brute_force(euclidean_data(input), query, resolve_threads(query.threads));
}

Neighbours brute_force_knn(const ResidualInput& input, const KnnQuery& query) {
  const int threads = resolve_threads(query.threads);
  std::vector<std::string> warnings;
  return brute_force(residual_data(input, threads, &warnings), query, threads);
}

PointArray read_points_npy(const std::string& path) {
  const NpyArray array = read_npy(path);
  if (array.dtype != NpyDtype::f8 && array.dtype != NpyDtype::f4) {
    throw InputError(path + ": points must be float64 or float32");
  }
  PointArray out;
  out.dim = points_dim(array.shape, path);
  out.n = array.shape[0];
  out.values = array.as_f64();
  check_points_finite(out.values, out.dim, path);
  return out;
}

void write_indices_npy(const std::string& path, const Neighbours& neighbours) {
  write_npy(path, {neighbours.rows, neighbours.k}, neighbours.indices.data());
}

void write_distances_npy(const std::string& path, const Neighbours& neighbours) {
  write_npy(path, {neighbours.rows, neighbours.k}, neighbours.distances.data());
}

}  // namespace ctb
