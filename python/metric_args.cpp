#include "metric_args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bench/knn_job.hpp"
#include "core/parallel.hpp"

namespace ctb::python {

namespace {

KernelParams read_kernel(const py::handle& kernel) {
  KernelParams params;
  if (kernel.is_none()) return params;  // with v_matrix: RBF(1, 1), covertreex's choice too
  if (!py::hasattr(kernel, "name") || !py::hasattr(kernel, "lengthscale") ||
      !py::hasattr(kernel, "variance")) {
    throw py::type_error(
        fmt::format("kernel: expected covertree_bench.kernels.RBF or Matern52, got {}",
                    py::str(py::type::handle_of(kernel)).cast<std::string>()));
  }
  const auto name = py::str(kernel.attr("name")).cast<std::string>();
  if (name == "rbf") {
    params.type = KernelType::rbf;
  } else if (name == "matern52") {
    params.type = KernelType::matern52;
  } else {
    throw py::value_error(fmt::format("kernel: unknown kernel '{}' (rbf or matern52)", name));
  }
  params.lengthscale = kernel.attr("lengthscale").cast<double>();
  params.variance = kernel.attr("variance").cast<double>();
  if (!(params.lengthscale > 0) || !std::isfinite(params.lengthscale)) {
    throw py::value_error(
        fmt::format("kernel.lengthscale: must be finite and > 0 (got {})", params.lengthscale));
  }
  if (!(params.variance > 0) || !std::isfinite(params.variance)) {
    throw py::value_error(
        fmt::format("kernel.variance: must be finite and > 0 (got {})", params.variance));
  }
  return params;
}

// Our kernels are stationary, k(x, x) = variance: a kernel_diag (covertreex's argument) must
// say the same, or the user's V and p belong to another kernel.
void check_kernel_diag(const py::handle& kernel_diag, size_t n, double variance) {
  const Doubles diag = as_doubles(kernel_diag, "kernel_diag");
  if (diag.values.size() != n || diag.shape.size() != 1) {
    throw py::value_error(fmt::format("kernel_diag must have n = {} entries, got shape {}", n,
                                      shape_string(diag.shape)));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!(std::abs(diag.values[i] - variance) <= 1e-9 * variance)) {
      throw py::value_error(fmt::format(
          "kernel_diag: entry {} is {} but the kernel's variance is {} (stationary kernels only: "
          "pass kernel= with that variance)",
          i, diag.values[i], variance));
    }
  }
}

}  // namespace

int read_threads(const py::handle& threads, int default_threads) {
  if (threads.is_none()) return default_threads;
  const auto t = threads.cast<int64_t>();
  if (t < 1 || t > 4096) {
    throw py::value_error(fmt::format("threads: must be between 1 and 4096 (got {})", t));
  }
  return static_cast<int>(t);
}

MetricArgs read_metric_args(const py::handle& coords, const py::handle& kernel,
                            const py::handle& v_matrix, const py::handle& p_diag,
                            const py::handle& kernel_diag, const py::handle& inducing_count,
                            const py::handle& seed, double jitter) {
  MetricArgs args;
  args.coords = as_doubles(coords, "coords");
  args.dim = points_dim(args.coords.shape, "coords");
  args.n = args.coords.shape[0];
  const bool residual = !kernel.is_none() || !v_matrix.is_none();
  args.kind = residual ? MetricKind::residual : MetricKind::euclidean;
  if (!residual) {
    if (!p_diag.is_none() || !kernel_diag.is_none() || !inducing_count.is_none()) {
      throw py::value_error(
          "p_diag/kernel_diag/inducing_count: only for a residual tree (give kernel= or "
          "v_matrix=)");
    }
    return args;
  }
  args.residual.kernel = read_kernel(kernel);
  args.residual.jitter = jitter;
  if (!v_matrix.is_none()) {
    if (p_diag.is_none()) throw py::value_error("p_diag: needed with v_matrix");
    if (!inducing_count.is_none()) {
      throw py::value_error("inducing_count: not with v_matrix (V fixes the inducing points)");
    }
    args.v = as_doubles(v_matrix, "v_matrix");
    args.p = as_doubles(p_diag, "p_diag");
    if (!kernel_diag.is_none())
      check_kernel_diag(kernel_diag, args.n, args.residual.kernel.variance);
    return args;
  }
  if (!p_diag.is_none()) throw py::value_error("p_diag: only with v_matrix");
  if (!kernel_diag.is_none()) throw py::value_error("kernel_diag: only with v_matrix");
  if (!inducing_count.is_none()) {
    const auto m = inducing_count.cast<int64_t>();
    if (m < 1) {
      throw py::value_error(fmt::format(
          "inducing_count: must be between 1 and the number of points {} (got {})", args.n, m));
    }
    args.inducing_count = static_cast<size_t>(m);
    args.inducing_count_given = true;
  }
  const auto s = seed.cast<int64_t>();
  if (s < 0) throw py::value_error(fmt::format("seed: must be >= 0 (got {})", s));
  args.seed = static_cast<uint64_t>(s);
  return args;
}

MetricData build_metric(const MetricArgs& args, int threads, const CancelToken* cancel,
                        std::vector<std::string>* warnings) {
  check_points_finite(args.coords.values, args.dim, "coords");
  if (args.kind == MetricKind::euclidean) return make_euclidean(args.coords.values, args.dim);
  if (args.v) {
    UserVp vp;
    vp.v = args.v->values;
    vp.v_shape = args.v->shape;
    vp.p = args.p->values;
    vp.p_shape = args.p->shape;
    vp.v_label = "v_matrix";
    vp.p_label = "p_diag";
    return residual_from_user_vp(args.coords.values, args.dim, vp, args.residual.kernel, warnings);
  }
  // As the CLI: the default m is capped at n, an explicit one must fit.
  const size_t m =
      args.inducing_count_given ? args.inducing_count : std::min(args.inducing_count, args.n);
  const std::vector<int64_t> inducing =
      choose_inducing_points(args.n, m, args.seed, "inducing_count");
  ResidualParams params = args.residual;
  params.cancel = cancel;
  return build_residual(args.coords.values, args.dim, inducing, params, threads);
}

}  // namespace ctb::python
