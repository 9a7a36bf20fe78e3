// Residual backend: the low-rank factor V and the residual variances p (spec §1).
#include <fmt/format.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/metric.hpp"

namespace ctb {

namespace {

constexpr size_t kStrideMultiple = 8;
// Points per triangular solve: wide enough for Eigen's blocked TRSM to run at GEMM speed,
// small enough that a block of V (m x 256 doubles = 1 MiB at m = 512) stays near the cache.
constexpr size_t kSolveBlock = 256;

using ColMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

}  // namespace

MetricData build_residual(std::span<const double> coords, size_t dim,
                          std::span<const int64_t> inducing, const ResidualParams& params,
                          int threads) {
  const KernelParams& kernel = params.kernel;
  if (dim == 0) throw InputError("residual backend: coordinate dimension must be at least 1");
  if (coords.size() % dim != 0) {
    throw InputError(
        fmt::format("residual backend: {} coordinate values are not a multiple of dimension {}",
                    coords.size(), dim));
  }
  if (!(kernel.variance > 0.0) || !std::isfinite(kernel.variance) || !(kernel.lengthscale > 0.0) ||
      !std::isfinite(kernel.lengthscale)) {
    throw InputError("residual backend: kernel variance and lengthscale must be positive");
  }
  if (!(params.jitter >= 0.0) || !std::isfinite(params.jitter)) {
    throw InputError(fmt::format("residual backend: jitter must be >= 0 (got {})", params.jitter));
  }
  const size_t n = coords.size() / dim;
  const size_t m = inducing.size();
  if (m == 0) throw InputError("residual backend: no inducing points");
  for (size_t a = 0; a < m; ++a) {
    if (inducing[a] < 0 || static_cast<size_t>(inducing[a]) >= n) {
      throw InputError(
          fmt::format("residual backend: inducing index {} is outside 0..{}", inducing[a], n));
    }
    if (a > 0 && inducing[a] <= inducing[a - 1]) {
      throw InputError("residual backend: inducing indices must be sorted and distinct");
    }
  }
  for (double c : coords) {
    if (!std::isfinite(c)) throw InputError("residual backend: non-finite coordinate");
  }

  MetricData data;
  data.kind = MetricKind::residual;
  data.kernel = kernel;
  data.n = n;
  data.dim = dim;
  data.rank = m;
  data.v_stride =
      std::max(kStrideMultiple, (m + kStrideMultiple - 1) / kStrideMultiple * kStrideMultiple);
  data.coords.assign(coords.begin(), coords.end());
  data.ids.resize(n);
  for (size_t i = 0; i < n; ++i) data.ids[i] = static_cast<int64_t>(i);

  const double* x = data.coords.data();
  auto point = [&](int64_t i) { return x + static_cast<size_t>(i) * dim; };

  ColMatrix kmm(m, m);
  for (size_t a = 0; a < m; ++a) {
    for (size_t b = 0; b <= a; ++b) {
      const double k = kernel_value(kernel, point(inducing[a]), point(inducing[b]), dim);
      kmm(a, b) = k;
      kmm(b, a) = k;
    }
    kmm(a, a) += params.jitter * kernel.variance;
  }
  const Eigen::LLT<ColMatrix> llt(kmm);
  if (llt.info() != Eigen::Success) {
    throw InputError(fmt::format(
        "residual backend: Cholesky of K_mm failed (m = {}, jitter = {}; not positive definite; "
        "duplicate inducing points with jitter 0?)",
        m, params.jitter));
  }
  const ColMatrix lower = llt.matrixL();

  // V is stored row-major with padded rows; seen from Eigen, a block of rows is a column-major
  // m x B matrix with outer stride v_stride, so the solve writes V in place.
  data.v.assign(n * data.v_stride, 0.0);
  data.p.resize(n);
  const size_t n_blocks = (n + kSolveBlock - 1) / kSolveBlock;
  parallel_for(n_blocks, threads, params.cancel, [&](size_t block, int) {
    const size_t begin = block * kSolveBlock;
    const size_t count = std::min(kSolveBlock, n - begin);
    Eigen::Map<ColMatrix, 0, Eigen::OuterStride<>> vt(
        data.v.data() + begin * data.v_stride, static_cast<Eigen::Index>(m),
        static_cast<Eigen::Index>(count), Eigen::OuterStride<>(data.v_stride));
    for (size_t j = 0; j < count; ++j) {
      const double* xj = x + (begin + j) * dim;
      for (size_t a = 0; a < m; ++a) {
        vt(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(j)) =
            kernel_value(kernel, point(inducing[a]), xj, dim);
      }
    }
    lower.triangularView<Eigen::Lower>().solveInPlace(vt);
    for (size_t j = 0; j < count; ++j) {
      const double* vj = data.v.data() + (begin + j) * data.v_stride;
      double norm2 = 0.0;
      for (size_t a = 0; a < m; ++a) norm2 += vj[a] * vj[a];
      data.p[begin + j] = std::max(kernel.variance - norm2, 1e-9);
    }
  });
  return data;
}

}  // namespace ctb
