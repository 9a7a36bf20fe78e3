#pragma once
// Order statistics of repeated measurements.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ctb {

inline double best_of(const std::vector<double>& xs) {
  return xs.empty() ? std::numeric_limits<double>::quiet_NaN()
                    : *std::min_element(xs.begin(), xs.end());
}

/// Linear-interpolated quantile q in [0, 1] (numpy's default method).
inline double quantile_of(std::vector<double> xs, double q) {
  if (xs.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(xs.begin(), xs.end());
  const double pos = q * static_cast<double>(xs.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return xs[lo] + (xs[hi] - xs[lo]) * frac;
}

inline double median_of(const std::vector<double>& xs) { return quantile_of(xs, 0.5); }

}  // namespace ctb
