#include "tree/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "metric/distance_kernels.hpp"

namespace ctb {

void evaluate_nodes(const MetricData& rows, const QueryRow& q, const int32_t* nodes, size_t count,
                    double* out, double slowdown, std::vector<double>& waste, double& sink,
                    QueryCounters& counters) {
  const std::span<const int32_t> span(nodes, count);
  distances_to_rows(rows, q, span, out);
  for (double extra = slowdown - 1.0; extra > 0.0 && count > 0; extra -= 1.0) {
    const size_t len =
        extra >= 1.0 ? count
                     : std::max<size_t>(
                           1, static_cast<size_t>(std::ceil(extra * static_cast<double>(count))));
    if (waste.size() < len) waste.resize(len);
    distances_to_rows(rows, q, span.first(len), waste.data());
    sink += waste[0];
  }
  counters.add_block(count);
}

}  // namespace ctb
