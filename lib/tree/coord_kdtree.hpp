#pragma once
// nanoflann's k-d tree over row-major coordinates: finds Euclidean-near pivots for the residual
// search, and is the exact low-dimensional peer that `run --compare-nanoflann` times.
#include <cstddef>
#include <nanoflann.hpp>

namespace ctb {

/// Point cloud adaptor: the first `n` rows of a row-major n x dim coordinate array.
struct CoordCloud {
  const double* coords;
  size_t n;
  size_t dim;
  size_t kdtree_get_point_count() const { return n; }
  double kdtree_get_pt(size_t i, size_t d) const { return coords[i * dim + d]; }
  template <class Bbox>
  bool kdtree_get_bbox(Bbox&) const {
    return false;
  }
};

using CoordKdTree =
    nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, CoordCloud>,
                                        CoordCloud, -1, size_t>;

}  // namespace ctb
