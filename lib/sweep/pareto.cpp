#include "sweep/pareto.hpp"

#include <cmath>

namespace ctb {

std::vector<bool> pareto_front(const std::vector<std::pair<double, double>>& pts) {
  // Quadratic, and fine: a sweep has tens of points, not thousands.
  std::vector<bool> front(pts.size(), true);
  for (size_t i = 0; i < pts.size(); ++i) {
    const auto [ri, qi] = pts[i];
    if (std::isnan(ri) || std::isnan(qi)) {
      front[i] = false;
      continue;
    }
    for (size_t j = 0; j < pts.size() && front[i]; ++j) {
      const auto [rj, qj] = pts[j];
      if (j == i || std::isnan(rj) || std::isnan(qj)) continue;
      if (rj >= ri && qj >= qi && (rj > ri || qj > qi)) front[i] = false;
    }
  }
  return front;
}

}  // namespace ctb
