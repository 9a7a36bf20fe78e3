#pragma once
// Small random metric data for the metric tests (not the gold data: these must be fast).
#include <cstdint>
#include <random>
#include <vector>

#include "metric/metric.hpp"

namespace ctb::testing {

inline std::vector<double> random_coords(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> coords(n * dim);
  for (double& c : coords) c = unit(gen);
  return coords;
}

/// Every `step`-th point is inducing: few enough that p stays far from its floor, so SIMD and
/// scalar distances differ only by ordinary rounding.
inline std::vector<int64_t> every_nth(size_t n, size_t step) {
  std::vector<int64_t> idx;
  for (size_t i = 0; i < n; i += step) idx.push_back(static_cast<int64_t>(i));
  return idx;
}

inline MetricData residual_data(size_t n, size_t dim, size_t step, KernelType type, uint64_t seed) {
  ResidualParams params;
  params.kernel.type = type;
  params.kernel.variance = 1.3;
  params.kernel.lengthscale = 0.25;
  const std::vector<double> coords = random_coords(n, dim, seed);
  const std::vector<int64_t> inducing = every_nth(n, step);
  return build_residual(coords, dim, inducing, params, 2);
}

}  // namespace ctb::testing
