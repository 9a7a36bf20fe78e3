#pragma once
// k-NN results and the bounded, sorted candidate list both engines fill.
// Order is (distance, dataset index): ties break by the lower index (spec §2).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace ctb {

/// Q x k answers in the queries' order; dataset indices. Missing neighbours (predecessor mode
/// with fewer than k predecessors) are index -1, distance +inf.
struct KnnResult {
  size_t n_queries = 0;
  size_t k = 0;
  std::vector<int64_t> indices;   // n_queries x k
  std::vector<double> distances;  // n_queries x k

  void resize(size_t q, size_t kk) {
    n_queries = q;
    k = kk;
    indices.assign(q * kk, -1);
    distances.assign(q * kk, std::numeric_limits<double>::infinity());
  }
};

/// The k best (distance, id) pairs seen so far, kept sorted ascending. k is small (<= a few
/// hundred), so insertion into a sorted array beats a heap and allocates nothing after reset.
class TopK {
 public:
  void reset(size_t k) {
    k_ = k;
    size_ = 0;
    if (dist_.size() < k) {
      dist_.resize(k);
      id_.resize(k);
    }
  }
  size_t size() const { return size_; }
  bool full() const { return size_ == k_; }
  /// Current k-th distance (+inf until k candidates are held).
  double kth() const {
    return size_ == k_ ? dist_[k_ - 1] : std::numeric_limits<double>::infinity();
  }
  /// Offers a candidate; keeps it when it is among the k smallest by (distance, id), and says
  /// whether it did (the searches count such "yields").
  bool push(double d, int64_t id) {
    if (size_ == k_) {
      const double kd = dist_[k_ - 1];
      if (d > kd || (d == kd && id >= id_[k_ - 1])) return false;
      --size_;
    }
    size_t pos = size_;
    while (pos > 0 && (dist_[pos - 1] > d || (dist_[pos - 1] == d && id_[pos - 1] > id))) {
      dist_[pos] = dist_[pos - 1];
      id_[pos] = id_[pos - 1];
      --pos;
    }
    dist_[pos] = d;
    id_[pos] = id;
    ++size_;
    return true;
  }
  double distance(size_t i) const { return dist_[i]; }
  int64_t id(size_t i) const { return id_[i]; }
  /// Writes the k slots (padding with -1/+inf) into row `q` of `out`.
  void write(KnnResult& out, size_t q) const {
    for (size_t i = 0; i < out.k; ++i) {
      out.indices[q * out.k + i] = i < size_ ? id_[i] : -1;
      out.distances[q * out.k + i] = i < size_ ? dist_[i] : std::numeric_limits<double>::infinity();
    }
  }

 private:
  size_t k_ = 0;
  size_t size_ = 0;
  std::vector<double> dist_;
  std::vector<int64_t> id_;
};

}  // namespace ctb
