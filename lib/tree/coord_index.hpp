#pragma once
// k-d trees over a tree's node coordinates: one over every node (the residual search's
// Euclidean seeds: residual neighbours are spatially local, spec §9) and one over the pivots
// (answers are pivot indices).
#include <cstddef>
#include <memory>
#include <vector>

#include "metric/metric.hpp"
#include "tree/coord_kdtree.hpp"

namespace ctb {

struct CoordIndex {
  size_t dim = 0;
  std::vector<double> coords;        // n x dim, node order (a copy: the index outlives moves)
  std::vector<double> pivot_coords;  // P x dim, pivot order
  std::vector<std::unique_ptr<CoordCloud>> clouds;
  std::vector<std::unique_ptr<CoordKdTree>> trees;  // [0] all nodes, [1] the pivots

  const CoordKdTree& all_nodes() const { return *trees[0]; }
  const CoordKdTree& pivots() const { return *trees[1]; }
};

/// The index over `rows` (node order) and over the nodes `pivot_nodes`.
std::shared_ptr<const CoordIndex> make_coord_index(const MetricData& rows,
                                                   const std::vector<int32_t>& pivot_nodes);

/// Up to `count` nodes nearest to `x` by coordinates (ascending (distance, node)) into `out`;
/// returns how many. `d2` is scratch of `count` doubles.
size_t nearest_by_coords(const CoordKdTree& index, const double* x, size_t count, size_t* out,
                         double* d2);

}  // namespace ctb
