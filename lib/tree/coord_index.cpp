#include "tree/coord_index.hpp"

#include <cmath>
#include <limits>

namespace ctb {
namespace {

/// A k-NN result set for nanoflann kept as a max-heap on (d2, node) over the caller's two
/// arrays, sorted ascending at the end: O(log k) per accepted point. nanoflann's own
/// KNNResultSet inserts into a sorted array, O(k) per point, which dominated the seed search
/// at the few hundred seeds predecessor queries ask for (22% of the gold Vecchia job's time,
/// measured with perf).
class HeapKnn {
 public:
  HeapKnn(size_t capacity, size_t* node, double* d2) : cap_(capacity), node_(node), d2_(d2) {}
  size_t size() const { return count_; }
  bool full() const { return count_ == cap_; }
  // nanoflann's name. It admits a point only when d2 < worstDist(): one ulp above the worst
  // lets a point tying it reach addPoint, which keeps the lower node.
  double worstDist() const {
    return count_ < cap_ ? std::numeric_limits<double>::max()
                         : std::nextafter(d2_[0], std::numeric_limits<double>::infinity());
  }
  bool addPoint(double d2, size_t node) {
    if (count_ < cap_) {
      size_t i = count_++;  // sift up
      while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (!before(d2_[parent], node_[parent], d2, node)) break;
        d2_[i] = d2_[parent];
        node_[i] = node_[parent];
        i = parent;
      }
      d2_[i] = d2;
      node_[i] = node;
    } else if (before(d2, node, d2_[0], node_[0])) {
      sift_down(d2, node, cap_);  // replaces the worst
    }
    return true;
  }
  /// Heap order to ascending (d2, node), in place.
  void sort() {
    for (size_t end = count_; end > 1; --end) {
      const double d = d2_[end - 1];
      const size_t nd = node_[end - 1];
      d2_[end - 1] = d2_[0];
      node_[end - 1] = node_[0];
      sift_down(d, nd, end - 1);
    }
  }

 private:
  static bool before(double da, size_t na, double db, size_t nb) {
    return da != db ? da < db : na < nb;
  }
  /// Puts (d2, node) at the root of the heap [0, end) and sifts it down.
  void sift_down(double d2, size_t node, size_t end) {
    size_t i = 0;
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= end) break;
      if (c + 1 < end && before(d2_[c], node_[c], d2_[c + 1], node_[c + 1])) ++c;
      if (!before(d2, node, d2_[c], node_[c])) break;
      d2_[i] = d2_[c];
      node_[i] = node_[c];
      i = c;
    }
    d2_[i] = d2;
    node_[i] = node;
  }
  size_t cap_;
  size_t* node_;
  double* d2_;
  size_t count_ = 0;
};

}  // namespace

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
  HeapKnn result(count, out, d2);
  index.findNeighbors(result, x, nanoflann::SearchParams());
  result.sort();
  return result.size();
}

}  // namespace ctb
