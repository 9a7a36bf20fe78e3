#pragma once
// A scenario's inputs made concrete: points, queries and inducing indices, generated with the
// NumPy-compatible streams or read from NPY files.
#include <cstdint>
#include <vector>

#include "scenario/scenario.hpp"

namespace ctb {

struct Dataset {
  size_t n = 0;
  size_t dim = 0;
  std::vector<double> points;  // n x dim
  // Residual scenarios (and "all"): queries are dataset indices.
  std::vector<int64_t> query_ids;
  // Euclidean scenarios with fresh query points: n_queries x dim (query_ids empty).
  std::vector<double> query_points;
  std::vector<int64_t> inducing;  // sorted dataset indices (residual only)

  size_t n_queries() const {
    return query_ids.empty() ? query_points.size() / (dim ? dim : 1) : query_ids.size();
  }
};

/// Generates or loads the scenario's data. Throws InputError naming the file/field on bad
/// NPY inputs (shape, dtype, NaN/Inf coordinates, query index out of range).
Dataset materialize(const Scenario& scenario);

}  // namespace ctb
