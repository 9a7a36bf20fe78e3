#pragma once
// The Pareto front of (recall, throughput) points: the configurations no other one beats on
// both at once.
#include <utility>
#include <vector>

namespace ctb {

/// front[i] is true when no point j has recall_j >= recall_i and qps_j >= qps_i with one of
/// them strictly greater (higher is better on both). Equal points are all on the front.
/// NaN points are never on it.
std::vector<bool> pareto_front(const std::vector<std::pair<double, double>>& recall_qps);

}  // namespace ctb
