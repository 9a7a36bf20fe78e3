#include "metric/metric.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/error.hpp"
#include "metric/euclid_distance.hpp"

namespace ctb {

namespace {

// V rows are padded to a whole number of the widest SIMD vector (8 doubles) so kernels
// never need a tail loop; the zero padding leaves every dot product unchanged.
constexpr size_t kStrideMultiple = 8;

size_t padded_stride(size_t rank) {
  return std::max<size_t>(kStrideMultiple,
                          (rank + kStrideMultiple - 1) / kStrideMultiple * kStrideMultiple);
}

size_t checked_rows(std::span<const double> coords, size_t dim, const char* what) {
  if (dim == 0) throw InputError(fmt::format("{}: coordinate dimension must be at least 1", what));
  if (coords.size() % dim != 0) {
    throw InputError(fmt::format("{}: {} coordinate values are not a multiple of dimension {}",
                                 what, coords.size(), dim));
  }
  for (double c : coords) {
    if (!std::isfinite(c)) throw InputError(fmt::format("{}: non-finite coordinate", what));
  }
  return coords.size() / dim;
}

void check_kernel(const KernelParams& kernel, const char* what) {
  if (!(kernel.variance > 0.0) || !std::isfinite(kernel.variance)) {
    throw InputError(fmt::format("{}: kernel variance must be positive and finite (got {})", what,
                                 kernel.variance));
  }
  if (!(kernel.lengthscale > 0.0) || !std::isfinite(kernel.lengthscale)) {
    throw InputError(fmt::format("{}: kernel lengthscale must be positive and finite (got {})",
                                 what, kernel.lengthscale));
  }
}

double squared_distance(const double* x, const double* y, size_t dim) {
  return euclid_squared(x, y, dim);  // the one Euclidean r2 (metric/euclid_distance.hpp)
}

double kernel_from_r2(const KernelParams& kernel, double r2) {
  const double l = kernel.lengthscale;
  if (kernel.type == KernelType::rbf) return kernel.variance * std::exp(-0.5 * r2 / (l * l));
  const double a = std::sqrt(5.0) * std::sqrt(r2) / l;
  return kernel.variance * (1.0 + a + a * a / 3.0) * std::exp(-a);
}

std::vector<int64_t> identity_ids(size_t n) {
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  return ids;
}

}  // namespace

void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: a kernel without transparent huge pages refuses and nothing changes.
  (void)::madvise(p, bytes, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

const char* to_string(MetricKind kind) {
  switch (kind) {
    case MetricKind::residual:
      return "residual";
    case MetricKind::euclidean:
      return "euclidean";
  }
  return "unknown";
}

const char* to_string(KernelType kernel) {
  switch (kernel) {
    case KernelType::rbf:
      return "rbf";
    case KernelType::matern52:
      return "matern52";
  }
  return "unknown";
}

MetricData make_euclidean(std::span<const double> coords, size_t dim) {
  MetricData data;
  data.kind = MetricKind::euclidean;
  data.n = checked_rows(coords, dim, "euclidean metric");
  data.dim = dim;
  data.coords.assign(coords.begin(), coords.end());
  data.ids = identity_ids(data.n);
  return data;
}

double kernel_value(const KernelParams& kernel, const double* x, const double* y, size_t dim) {
  return kernel_from_r2(kernel, squared_distance(x, y, dim));
}

MetricData residual_from_vp(std::span<const double> coords, size_t dim, std::span<const double> v,
                            size_t rank, std::span<const double> p, const KernelParams& kernel) {
  MetricData data;
  data.kind = MetricKind::residual;
  data.kernel = kernel;
  check_kernel(kernel, "residual metric");
  data.n = checked_rows(coords, dim, "residual metric");
  data.dim = dim;
  if (rank == 0) throw InputError("residual metric: V must have at least one column");
  if (v.size() != data.n * rank) {
    throw InputError(fmt::format("residual metric: V has {} values, expected {} rows x {} columns",
                                 v.size(), data.n, rank));
  }
  if (p.size() != data.n) {
    throw InputError(
        fmt::format("residual metric: p has {} values, expected {}", p.size(), data.n));
  }
  for (double x : v) {
    if (!std::isfinite(x)) throw InputError("residual metric: non-finite value in V");
  }
  for (double x : p) {
    if (!(x > 0.0) || !std::isfinite(x)) {
      throw InputError("residual metric: p must be positive and finite");
    }
  }
  data.rank = rank;
  data.v_stride = padded_stride(rank);
  data.coords.assign(coords.begin(), coords.end());
  data.v.assign(data.n * data.v_stride, 0.0);
  for (size_t i = 0; i < data.n; ++i) {
    std::copy_n(v.data() + i * rank, rank, data.v.data() + i * data.v_stride);
  }
  data.p.assign(p.begin(), p.end());
  data.ids = identity_ids(data.n);
  return data;
}

MetricData permute_rows(const MetricData& data, std::span<const int32_t> order) {
  if (order.size() != data.n) {
    throw InputError(
        fmt::format("permute_rows: order has {} entries for {} rows", order.size(), data.n));
  }
  MetricData out;
  out.kind = data.kind;
  out.kernel = data.kernel;
  out.n = data.n;
  out.dim = data.dim;
  out.rank = data.rank;
  out.v_stride = data.v_stride;
  out.coords.resize(data.coords.size());
  out.ids.resize(data.n);
  const bool residual = data.kind == MetricKind::residual;
  if (residual) {
    out.v.resize(data.v.size());
    out.p.resize(data.n);
  }
  for (size_t i = 0; i < data.n; ++i) {
    const int32_t src_signed = order[i];
    if (src_signed < 0 || static_cast<size_t>(src_signed) >= data.n) {
      throw InputError(fmt::format("permute_rows: order[{}] = {} is out of range", i, src_signed));
    }
    const size_t src = static_cast<size_t>(src_signed);
    std::copy_n(data.coord_row(src), data.dim, out.coords.data() + i * data.dim);
    out.ids[i] = data.ids[src];
    if (residual) {
      std::copy_n(data.v_row(src), data.v_stride, out.v.data() + i * data.v_stride);
      out.p[i] = data.p[src];
    }
  }
  return out;
}

double distance_scalar(const MetricData& data, const QueryRow& q, size_t row) {
  if (q.id >= 0 && q.id == data.ids[row]) return 0.0;
  const double r2 = squared_distance(q.coords, data.coord_row(row), data.dim);
  if (data.kind == MetricKind::euclidean) return euclid_from_squared(r2);
  const double* vr = data.v_row(row);
  double dot = 0.0;
  for (size_t c = 0; c < data.rank; ++c) dot += q.v[c] * vr[c];
  const double k = kernel_from_r2(data.kernel, r2);
  double rho = (k - dot) / std::sqrt(std::max(q.p * data.p[row], 1e-18));
  rho = std::clamp(rho, -1.0, 1.0);
  return std::sqrt(std::max(0.0, 1.0 - std::abs(rho)));
}

}  // namespace ctb
