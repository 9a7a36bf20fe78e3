#include "tree/coord_index.hpp"

namespace ctb {

std::shared_ptr<const CoordIndex> make_coord_index(const MetricData& rows,
                                                   const std::vector<int32_t>& pivot_nodes) {
  auto index = std::make_shared<CoordIndex>();
  index->dim = rows.dim;
  index->coords = rows.coords;
  for (int32_t node : pivot_nodes) {
    const double* x = rows.coord_row(static_cast<size_t>(node));
    index->pivot_coords.insert(index->pivot_coords.end(), x, x + rows.dim);
  }
  const auto add = [&](const std::vector<double>& coords, size_t n) {
    index->clouds.push_back(std::make_unique<CoordCloud>(CoordCloud{coords.data(), n, rows.dim}));
    index->trees.push_back(std::make_unique<CoordKdTree>(
        static_cast<int>(std::max<size_t>(1, rows.dim)), *index->clouds.back(),
        nanoflann::KDTreeSingleIndexAdaptorParams(16)));
  };
  add(index->coords, rows.n);
  add(index->pivot_coords, pivot_nodes.size());
  return index;
}

size_t nearest_by_coords(const CoordKdTree& index, const double* x, size_t count, size_t* out,
                         double* d2) {
  if (count == 0) return 0;
  return index.knnSearch(x, count, out, d2);
}

}  // namespace ctb
