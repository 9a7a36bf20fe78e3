#include "tree/coord_index.hpp"

namespace ctb {

std::shared_ptr<const CoordIndex> make_coord_index(const MetricData& rows, size_t pivots) {
  auto index = std::make_shared<CoordIndex>();
  index->dim = rows.dim;
  index->coords = rows.coords;
  const auto add = [&](size_t n) {
    index->clouds.push_back(
        std::make_unique<CoordCloud>(CoordCloud{index->coords.data(), n, rows.dim}));
    index->trees.push_back(std::make_unique<CoordKdTree>(
        static_cast<int>(std::max<size_t>(1, rows.dim)), *index->clouds.back(),
        nanoflann::KDTreeSingleIndexAdaptorParams(16)));
  };
  add(rows.n);
  add(pivots);
  return index;
}

size_t nearest_by_coords(const CoordKdTree& index, const double* x, size_t count, size_t* out,
                         double* d2) {
  if (count == 0) return 0;
  return index.knnSearch(x, count, out, d2);
}

}  // namespace ctb
