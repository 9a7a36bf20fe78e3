#pragma once
// The one evaluation hook of the searches' hot loops: distances of a tile of rows, the
// perf-gate self-test's repeated work (--inject-slowdown), and the tile-size histogram.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "metric/metric.hpp"
#include "search/counters.hpp"

namespace ctb {

/// out[i] = d(q, rows[nodes[i]]) for i < count; with slowdown > 1 the work is repeated
/// (slowdown - 1) more times into `waste` (its first value kept in `sink`, so it is not
/// optimised away); counters.add_block(count).
void evaluate_nodes(const MetricData& rows, const QueryRow& q, const int32_t* nodes, size_t count,
                    double* out, double slowdown, std::vector<double>& waste, double& sink,
                    QueryCounters& counters);

}  // namespace ctb
