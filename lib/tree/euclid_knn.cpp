// Exact Euclidean k-NN for small dimensions: a bounding-box tree with leaf buckets.
//
// Why not the cover tree's own search (issue 14): the generic search evaluates children in
// Highway tiles through the dispatched kernel (~50 ns per evaluation at d = 3, for a
// 3-number distance), bounds by balls (d(q, c) - radius, which needs every child's distance
// and a rounding slack), and its residual-sized dense fallback (n / 6) sent 431 of 512
// euclid-d8-8k queries to the dense scan. Measured before this file (2 threads, in-run):
// euclid-d3-32k 0.25-0.29x nanoflann, euclid-d8-8k 0.29-0.31x nanoflann and 0.5-0.7x brute.
// A cover-tree-based layout for the new search was not pursued because the cover tree's BUILD
// alone misses the 1m target (build <= 2x nanoflann's): at N = 1,048,576, d = 3, 2 threads,
// build_cover_tree took 15.9 s wall (6.4 CPU-s; loaded machine) against nanoflann's 1.41 s in
// the same run. This index builds in about nanoflann's time, so the harness builds only it
// for Euclidean data (build_euclid_tree); build_cover_tree still builds both.
//
// Index (EuclidIndex, euclid_knn.hpp): nodes in depth-first preorder, each with the tight
// bounding box of its points; a node splits at the median of its widest box axis, so the
// tree is balanced and its shape depends on the point count alone; leaves of at most
// leaf_size_for(d) points, whose coordinates are one contiguous structure-of-arrays block.
// Tight boxes rather than balls: in low d a box bound prunes far more than a radius bound,
// and it needs no distance to a centre, so an internal node costs 2d subtractions.
//
// Search, per query (templated on the dimension for d <= 16, so every loop is unrolled and
// nothing is dispatched): depth-first, nearer child box first, the farther one stacked with
// its box bound. Everything is compared in squared distances:
//  - a leaf scan computes r2 for all its points in one vector loop (one point per lane; each
//    point's operations are those of metric/euclid_distance.hpp, so the same bits as every
//    other Euclidean entry point), and only a point with r2 <= thr is looked at further;
//  - the top-k holds (d = sqrt(r2), id) and compares exactly like the brute force, by
//    (distance, id). sqrt maps nearby r2 to one double, so a point with r2 slightly above the
//    k-th point's may still tie the k-th distance d_k and win on its id: thr = d_k * d_k *
//    (1 + 1e-13) covers that (any r2 whose sqrt rounds to d_k or below is <= d_k^2 times
//    1 + ~2^-52, and the product d_k * d_k is off by at most 2^-53 relative; an absolute
//    floor of 1e-300 covers subnormal squares, where relative margins round away);
//  - the box bound lb2 = sum over axes of max(lo - q, q - hi, 0)^2, summed in axis order:
//    every step is a monotone rounded operation, so lb2 <= the computed r2 of every point in
//    the box (euclid_distance.hpp), and a box with lb2 > thr holds no point that could enter.
//    The prune is exact with no slack.
// Predecessor mode prunes subtrees whose smallest id >= q.id and rejects later ids in leaves.
// Queries are visited in the order of the leaf their greedy descent reaches first, so
// consecutive queries share cached nodes (matters at 1m points: 24 MiB of coordinates).
//
// Dense fallback: a leaf scan IS a dense scan with the bound check amortised over the leaf,
// so no query is cheaper answered by a full scan; automatic (dense_fallback_evals = 0) never
// falls back. An explicit threshold still works as documented (a query that evaluated more
// rows than that is answered by a full scan of every leaf), so the knob means the same for
// both metrics.
//
// Counters: distance_evals = points scanned; frontier_expanded = internal nodes whose two
// children were bounded; frontier_levels = leaves scanned; pruned_by_radius = subtrees cut
// by their box bound (the Euclidean analogue of the radius bound); pruned_by_predecessor =
// subtrees cut by min id; pruned_by_parent = 0; predecessor_filtered = scanned points with
// id >= q.id; block_sizes = one entry per leaf scan (its size).
//
// BUILD: top-down, median split by nth_element on (coordinate, position) pairs over a
// working copy of the points that is physically reordered, so every pass reads memory in
// order; the two halves of the root are built on two threads when threads >= 2 (each half's
// node range is known in advance from the point count, so the result is identical for any
// thread count). Leaf size: measured 8 to 128 by dimension (see leaf_size_for).
#include "tree/euclid_knn.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <utility>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/euclid_distance.hpp"
#include "tree/tree_knn.hpp"

namespace ctb {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Points per leaf at most (a leaf holds between half of it and all of it), by dimension: see
// leaf_size_for. kMaxLeaf bounds every choice (the scan's stack buffer).
constexpr size_t kMaxLeaf = 128;
// sqrt ties: r2 values within this relative margin of the k-th r2 may share its distance.
constexpr double kTieMargin = 1e-13;
// ... and an absolute floor: below ~1e-292 (subnormal squares) the relative margin vanishes in
// rounding, so every r2 this small gets the exact (distance, id) comparison instead.
constexpr double kTieFloor = 1e-300;
constexpr size_t kQueryChunk = 32;   // queries per parallel task
constexpr size_t kMaxFixedDim = 16;  // compile-time dimensions 1..16; larger ones use a loop

// Small d: a box bound costs little next to a leaf scan, so small leaves (more pruning) win;
// in higher d a node (two d-dimensional box bounds, branches) costs as much as scanning many
// more points. Measured (CPU time per query vs nanoflann's, same process): d = 3: leaf 8 ~ 12
// > 16 > 32; d = 8 (n = 8192, k = 8): 16: 25 us, 32: 18.5-20, 64: 16.3-17.6, 128: 16.3-16.5;
// d = 16 (n = 65536, k = 10): 32: 795-830 us, 64: 725-834, 128: 696-727. d = 4-5 (16) is
// interpolated, not measured. A leaf
// below a split holds >= 6 points for d <= 3 (half of >= 13), so an explicit
// dense_fallback_evals of 5 sends every query that scans a leaf to the full scan, which
// tests/tree/test_tree.cpp expects.
size_t leaf_size_for(size_t dim) {
  return dim <= 3 ? 12 : dim <= 5 ? 16 : dim <= 10 ? 64 : kMaxLeaf;
}

size_t subtree_nodes(size_t m, size_t leaf) {
  if (m <= leaf) return 1;
  return 1 + subtree_nodes(m / 2, leaf) + subtree_nodes(m - m / 2, leaf);
}

int32_t subtree_depth(size_t m, size_t leaf) {
  if (m <= leaf) return 1;
  return 1 + subtree_depth(m - m / 2, leaf);
}

struct BuildScratch {
  std::vector<std::pair<double, int32_t>> keys;
  std::vector<double> tmp;
  std::vector<int64_t> tmp_ids;
};

// Builds the subtree of node u over working points [b, e) (pts: row-major, current order).
void build_node(EuclidIndex& ix, std::vector<double>& pts, std::vector<int64_t>& ids, size_t u,
                size_t b, size_t e, int threads, BuildScratch& s) {
  const size_t dim = ix.dim, m = e - b;
  double* lo = ix.node_box.data() + u * 2 * dim;
  double* hi = lo + dim;
  std::copy_n(pts.data() + b * dim, dim, lo);
  std::copy_n(pts.data() + b * dim, dim, hi);
  int64_t min_id = ids[b];
  for (size_t i = b + 1; i < e; ++i) {
    const double* p = pts.data() + i * dim;
    for (size_t a = 0; a < dim; ++a) {
      lo[a] = std::min(lo[a], p[a]);
      hi[a] = std::max(hi[a], p[a]);
    }
    min_id = std::min(min_id, ids[i]);
  }
  ix.node_begin[u] = static_cast<int32_t>(b);
  ix.node_end[u] = static_cast<int32_t>(e);
  ix.node_min_id[u] = min_id;
  if (m <= ix.leaf_size) {
    ix.node_right[u] = -1;
    return;
  }
  size_t axis = 0;
  for (size_t a = 1; a < dim; ++a)
    if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
  const size_t half = m / 2;
  s.keys.resize(m);
  for (size_t i = 0; i < m; ++i) s.keys[i] = {pts[(b + i) * dim + axis], static_cast<int32_t>(i)};
  std::nth_element(s.keys.begin(), s.keys.begin() + static_cast<long>(half), s.keys.end());
  s.tmp.resize(m * dim);
  s.tmp_ids.resize(m);
  for (size_t i = 0; i < m; ++i) {
    const auto src = b + static_cast<size_t>(s.keys[i].second);
    std::copy_n(pts.data() + src * dim, dim, s.tmp.data() + i * dim);
    s.tmp_ids[i] = ids[src];
  }
  std::copy_n(s.tmp.data(), m * dim, pts.data() + b * dim);
  std::copy_n(s.tmp_ids.data(), m, ids.data() + b);
  const size_t left = u + 1, right = u + 1 + subtree_nodes(half, ix.leaf_size);
  ix.node_right[u] = static_cast<int32_t>(right);
  if (threads >= 2 && m >= 4096) {
    // The halves write disjoint node and point ranges.
    BuildScratch s2;
    std::thread t([&] { build_node(ix, pts, ids, right, b + half, e, threads / 2, s2); });
    build_node(ix, pts, ids, left, b, b + half, threads - threads / 2, s);
    t.join();
  } else {
    build_node(ix, pts, ids, left, b, b + half, 1, s);
    build_node(ix, pts, ids, right, b + half, e, 1, s);
  }
}

// The k best (distance, id) pairs, kept sorted (insertion from the end: with nearest-first
// descent most entries land near the end). Measured at d = 3, k = 50 (single thread, CPU
// time vs nanoflann): this array 1.08-1.16x; a max-heap 0.93-1.0x (sifting, and a final sort);
// an unsorted 2k buffer with nth_element 0.86-0.89x (its looser bound scans more leaves);
// binary search for the slot + block moves 0.99-1.05x against 1.31-1.40x for this linear
// insertion in the same session (branch mispredictions). One array of (distance bits, id)
// slots with integer compares instead of two arrays and double compares: ~5% less time.
class EuclidTopK {
 public:
  void reset(size_t k) {
    k_ = k;
    size_ = 0;
    thr_ = kInf;
    if (slot_.size() < k) slot_.resize(k);
  }
  bool full() const { return size_ == k_; }
  // A point with r2 > thr() cannot enter: r2 <= d_k^2 (1 + ~2^-52) for any point at distance
  // <= d_k, and the margin covers that and the rounding of d_k * d_k (see the file comment).
  double thr() const { return thr_; }
  // Offers a point at distance d (= euclid_from_squared of an r2 <= thr()); true when it
  // entered.
  bool push(double d, int64_t id) {
    const Slot e{std::bit_cast<uint64_t>(d), id};
    if (size_ == k_) {
      if (!before(e, slot_[k_ - 1])) return false;
      --size_;
    }
    size_t pos = size_;
    while (pos > 0 && before(e, slot_[pos - 1])) {
      slot_[pos] = slot_[pos - 1];
      --pos;
    }
    slot_[pos] = e;
    ++size_;
    if (size_ == k_) {
      const double kd = std::bit_cast<double>(slot_[k_ - 1].key);
      thr_ = kd * kd * (1.0 + kTieMargin) + kTieFloor;
    }
    return true;
  }
  void write(KnnResult& out, size_t q) const {
    for (size_t i = 0; i < out.k; ++i) {
      out.indices[q * out.k + i] = i < size_ ? slot_[i].id : -1;
      out.distances[q * out.k + i] = i < size_ ? std::bit_cast<double>(slot_[i].key) : kInf;
    }
  }

 private:
  // Distances are >= +0 (a sum of squares; never NaN, coordinates are finite), and for such
  // doubles the bit pattern orders like the value: integer compares, one array to shift.
  struct Slot {
    uint64_t key;  // bits of the distance
    int64_t id;
  };
  // (distance, id) order, as the brute force ranks.
  static bool before(const Slot& a, const Slot& b) {
    return a.key < b.key || (a.key == b.key && a.id < b.id);
  }
  size_t k_ = 0, size_ = 0;
  double thr_ = kInf;
  std::vector<Slot> slot_;
};

struct Params {
  size_t k;
  bool predecessor;
  size_t survivor_cap;
  size_t low_yield_stop;
  size_t dense_after;         // evaluations after which a query is answered by the full scan
  const CancelToken* cancel;  // set by another thread: stop between tasks (Cancelled)
  uint64_t* per_query_evals;  // each query's evaluations, or nullptr
  double slowdown;
};

struct StackEntry {
  int32_t node;
  double lb2;
};

// Cache-line aligned: each worker updates its own counters and top-k on every leaf, and two
// workers' scratch must not share a line (false sharing).
struct alignas(64) Scratch {
  EuclidTopK topk;
  std::vector<StackEntry> stack;
  std::vector<size_t> fallback;
  QueryCounters counters;
  double sink = 0.0;
};

// The search, for dimension D (0 = the runtime dimension).
template <size_t D>
class Searcher {
 public:
  Searcher(const EuclidIndex& ix, const Params& pr) : ix_(ix), pr_(pr), dim_(D > 0 ? D : ix.dim) {}

  size_t dim() const {
    if constexpr (D > 0) {
      return D;
    } else {
      return dim_;
    }
  }

  double box_lb2(size_t node, const double* q) const {
    const double* lo = ix_.node_box.data() + node * 2 * dim();
    const double* hi = lo + dim();
    double r2 = 0.0;
    for (size_t a = 0; a < dim(); ++a) {
      const double g = std::max(std::max(lo[a] - q[a], q[a] - hi[a]), 0.0);
      r2 += g * g;
    }
    return r2;
  }

  // r2[j] for the m points of the leaf block starting at point b (operation order of
  // euclid_squared; one point per lane).
  void leaf_r2(size_t b, size_t m, const double* q, double* r2) const {
    const double* blk = ix_.leaf_coords.data() + b * dim();
    for (size_t j = 0; j < m; ++j) r2[j] = 0.0;
    for (size_t a = 0; a < dim(); ++a) {
      const double qa = q[a];
      const double* col = blk + a * m;
      for (size_t j = 0; j < m; ++j) {
        const double t = qa - col[j];
        r2[j] += t * t;
      }
    }
  }

  // Scans leaf [b, e) into the top-k; returns true when some point entered.
  bool scan_leaf(size_t b, size_t e, const QueryRow& q, Scratch& s) const {
    const size_t m = e - b;
    double r2[kMaxLeaf];
    leaf_r2(b, m, q.coords, r2);
    waste(b, m, q.coords, s);
    QueryCounters& ct = s.counters;
    ct.add_block(m);
    const int64_t* ids = ix_.ids.data() + b;
    if (q.id >= 0) {  // d = 0 between equal ids, as every kernel defines it
      for (size_t j = 0; j < m; ++j)
        if (ids[j] == q.id) r2[j] = 0.0;
    }
    bool yielded = false;
    EuclidTopK& topk = s.topk;
    // The distances of the points that may enter, first: independent square roots overlap,
    // where computing each inside the insertion would wait for its latency every time.
    double d[kMaxLeaf];
    const double thr0 = topk.thr();
    for (size_t j = 0; j < m; ++j) d[j] = r2[j] <= thr0 ? euclid_from_squared(r2[j]) : kInf;
    for (size_t j = 0; j < m; ++j) {
      if (pr_.predecessor && ids[j] >= q.id) {
        ++ct.predecessor_filtered;
        continue;
      }
      if (r2[j] > topk.thr()) continue;
      if (topk.push(d[j], ids[j])) {
        ++ct.yields;
        yielded = true;
      }
    }
    return yielded;
  }

  // The injected slowdown's repeated (discarded) distance work.
  void waste(size_t b, size_t m, const double* q, Scratch& s) const {
    double r2[kMaxLeaf];
    for (double extra = pr_.slowdown - 1.0; extra > 0.0; extra -= 1.0) {
      const size_t len =
          extra >= 1.0 ? m : std::max<size_t>(1, static_cast<size_t>(std::ceil(extra * double(m))));
      leaf_r2(b, len, q, r2);
      s.sink += r2[0];
    }
  }

  // First leaf of the greedy descent (nearer box first): the query's locality key.
  int32_t first_leaf(const double* q) const {
    size_t u = 0;
    while (ix_.node_right[u] >= 0) {
      const size_t l = u + 1, r = static_cast<size_t>(ix_.node_right[u]);
      u = box_lb2(r, q) < box_lb2(l, q) ? r : l;
    }
    return static_cast<int32_t>(u);
  }

  // The tree search; false when the query must be answered by the full scan.
  bool search(const QueryRow& q, Scratch& s) const {
    QueryCounters& ct = s.counters;
    EuclidTopK& topk = s.topk;
    topk.reset(pr_.k);
    s.stack.clear();
    const bool pred = pr_.predecessor;
    const int64_t* min_id = ix_.node_min_id.data();
    const int32_t* right = ix_.node_right.data();
    if (pred && min_id[0] >= q.id) {
      ++ct.pruned_by_predecessor;
      ++ct.subtrees_pruned;
      return true;
    }
    size_t evals = 0, dry = 0;
    size_t u = 0;
    for (;;) {
      // Descend to a leaf, nearer child first.
      bool reached = true;
      while (right[u] >= 0) {
        ++ct.frontier_expanded;
        const size_t l = u + 1, r = static_cast<size_t>(right[u]);
        const double thr = topk.thr();
        double lbl = box_lb2(l, q.coords), lbr = box_lb2(r, q.coords);
        bool okl = true, okr = true;
        if (pred) {
          if (min_id[l] >= q.id) {
            okl = false;
            ++ct.pruned_by_predecessor;
          }
          if (min_id[r] >= q.id) {
            okr = false;
            ++ct.pruned_by_predecessor;
          }
        }
        if (okl && lbl > thr) {
          okl = false;
          ++ct.pruned_by_radius;
        }
        if (okr && lbr > thr) {
          okr = false;
          ++ct.pruned_by_radius;
        }
        ct.subtrees_pruned += (okl ? 0 : 1) + (okr ? 0 : 1);
        if (okl && okr) {
          if (lbr < lbl) {
            s.stack.push_back({static_cast<int32_t>(l), lbl});
            u = r;
          } else {
            s.stack.push_back({static_cast<int32_t>(r), lbr});
            u = l;
          }
        } else if (okl) {
          u = l;
        } else if (okr) {
          u = r;
        } else {
          reached = false;
          break;
        }
      }
      if (reached) {
        const auto b = static_cast<size_t>(ix_.node_begin[u]);
        const auto e = static_cast<size_t>(ix_.node_end[u]);
        ++ct.frontier_levels;
        const bool yielded = scan_leaf(b, e, q, s);
        evals += e - b;
        if (evals > pr_.dense_after) {
          ct.distance_evals += evals;
          return false;
        }
        // APPROXIMATE budgets: only once k candidates are held, so answers stay full.
        if (topk.full()) {
          dry = yielded ? 0 : dry + 1;
          if ((pr_.survivor_cap > 0 && evals >= pr_.survivor_cap) ||
              (pr_.low_yield_stop > 0 && dry >= pr_.low_yield_stop)) {
            ++ct.caps_applied;
            break;
          }
        }
      }
      // Next stacked subtree whose bound still admits a point.
      bool next = false;
      while (!s.stack.empty()) {
        const StackEntry t = s.stack.back();
        s.stack.pop_back();
        if (t.lb2 > topk.thr()) {
          ++ct.pruned_by_radius;
          ++ct.subtrees_pruned;
          continue;
        }
        u = static_cast<size_t>(t.node);
        next = true;
        break;
      }
      if (!next) break;
    }
    ct.distance_evals += evals;
    return true;
  }

  // The full scan (explicit dense fallback): every leaf, no box bound.
  void full_scan(const QueryRow& q, Scratch& s) const {
    s.topk.reset(pr_.k);
    for (size_t u = 0; u < ix_.nodes(); ++u) {
      if (ix_.node_right[u] >= 0) continue;
      scan_leaf(static_cast<size_t>(ix_.node_begin[u]), static_cast<size_t>(ix_.node_end[u]), q, s);
    }
    s.counters.distance_evals += ix_.n;
    ++s.counters.dense_fallbacks;
  }

 private:
  const EuclidIndex& ix_;
  const Params& pr_;
  size_t dim_;
};

template <size_t D>
void run_queries(const EuclidIndex& ix, std::span<const QueryRow> queries, const Params& pr,
                 int threads, KnnResult& out, QueryCounters& total) {
  const Searcher<D> searcher(ix, pr);
  // Locality order: by the first leaf of each query's descent, then input position.
  std::vector<std::pair<int32_t, uint32_t>> order(queries.size());
  for (size_t i = 0; i < queries.size(); ++i)
    order[i] = {searcher.first_leaf(queries[i].coords), static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end());
  const size_t tasks = (queries.size() + kQueryChunk - 1) / kQueryChunk;
  std::vector<Scratch> scratch(static_cast<size_t>(
      std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(1, threads)), tasks))));
  for (Scratch& s : scratch) s.stack.reserve(64);
  parallel_for(tasks, threads, pr.cancel, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t lo = task * kQueryChunk, hi = std::min(queries.size(), lo + kQueryChunk);
    for (size_t i = lo; i < hi; ++i) {
      const size_t qi = order[i].second;
      const uint64_t evals_before = s.counters.distance_evals;
      if (searcher.search(queries[qi], s)) {
        s.topk.write(out, qi);
      } else {
        searcher.full_scan(queries[qi], s);
        s.topk.write(out, qi);
      }
      if (pr.per_query_evals) pr.per_query_evals[qi] = s.counters.distance_evals - evals_before;
    }
  });
  double sink = 0.0;
  for (const Scratch& s : scratch) {
    total += s.counters;
    sink += s.sink;
  }
  // The injected slowdown's discarded work stays observable through a volatile local.
  volatile double observed = sink;
  (void)observed;
}

template <size_t D>
void dispatch_dim(size_t dim, const EuclidIndex& ix, std::span<const QueryRow> queries,
                  const Params& pr, int threads, KnnResult& out, QueryCounters& total) {
  if constexpr (D > kMaxFixedDim) {
    run_queries<0>(ix, queries, pr, threads, out, total);
  } else {
    if (dim == D) {
      run_queries<D>(ix, queries, pr, threads, out, total);
    } else {
      dispatch_dim<D + 1>(dim, ix, queries, pr, threads, out, total);
    }
  }
}

}  // namespace

EuclidIndex build_euclid_index(const MetricData& data, int threads) {
  if (data.kind != MetricKind::euclidean)
    throw InputError("build_euclid_index: data is not Euclidean");
  if (data.n >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw InputError("build_euclid_index: too many points for 32-bit ids");
  EuclidIndex ix;
  ix.n = data.n;
  ix.dim = data.dim;
  ix.leaf_size = leaf_size_for(ix.dim);
  if (ix.n == 0 || ix.dim == 0) return ix;
  const size_t nodes = subtree_nodes(ix.n, ix.leaf_size);
  ix.node_begin.resize(nodes);
  ix.node_end.resize(nodes);
  ix.node_right.resize(nodes);
  ix.node_box.resize(nodes * 2 * ix.dim);
  ix.node_min_id.resize(nodes);
  std::vector<double> pts = data.coords;
  std::vector<int64_t> ids = data.ids;
  BuildScratch s;
  build_node(ix, pts, ids, 0, 0, ix.n, std::max(1, threads), s);
  ix.depth = subtree_depth(ix.n, ix.leaf_size);
  // Leaves as structure-of-arrays blocks.
  ix.leaf_coords.resize(ix.n * ix.dim);
  for (size_t u = 0; u < nodes; ++u) {
    if (ix.node_right[u] >= 0) continue;
    const auto b = static_cast<size_t>(ix.node_begin[u]);
    const auto e = static_cast<size_t>(ix.node_end[u]);
    double* blk = ix.leaf_coords.data() + b * ix.dim;
    for (size_t a = 0; a < ix.dim; ++a)
      for (size_t p = b; p < e; ++p) blk[a * (e - b) + (p - b)] = pts[p * ix.dim + a];
  }
  ix.ids = std::move(ids);
  return ix;
}

CoverTree build_euclid_tree(const MetricData& data, const BuildOptions& options) {
  CoverTree tree;
  tree.euclid = std::make_shared<const EuclidIndex>(build_euclid_index(data, options.threads));
  return tree;
}

std::vector<std::string> check_euclid_index(const EuclidIndex& ix, const MetricData& data) {
  std::vector<std::string> errors;
  const auto fail = [&](std::string msg) {
    if (errors.size() < 50) errors.push_back(std::move(msg));
  };
  const auto s = [](auto v) { return std::to_string(v); };
  if (ix.n != data.n || ix.dim != data.dim) {
    fail("index is over " + s(ix.n) + " x " + s(ix.dim) + " points, data " + s(data.n) + " x " +
         s(data.dim));
    return errors;
  }
  if (ix.n == 0) return errors;
  const size_t nodes = ix.nodes(), dim = ix.dim;
  if (ix.node_begin.size() != nodes || ix.node_end.size() != nodes ||
      ix.node_box.size() != nodes * 2 * dim || ix.node_min_id.size() != nodes ||
      ix.ids.size() != ix.n || ix.leaf_coords.size() != ix.n * dim) {
    fail("index arrays have inconsistent sizes");
    return errors;
  }
  // Every id once.
  std::vector<int> seen(ix.n, 0);
  for (int64_t id : ix.ids) {
    if (id < 0 || static_cast<size_t>(id) >= ix.n || seen[static_cast<size_t>(id)]++ > 0)
      fail("id " + s(id) + " is out of range or appears twice");
  }
  if (!errors.empty()) return errors;
  // Coordinates of leaf-order point p, axis a.
  std::vector<int32_t> leaf_of(ix.n, -1);
  for (size_t u = 0; u < nodes; ++u) {
    const int32_t b = ix.node_begin[u], e = ix.node_end[u];
    if (b < 0 || e > static_cast<int32_t>(ix.n) || b >= e) {
      fail("node " + s(u) + " has a bad point range");
      return errors;
    }
    if (ix.node_right[u] < 0) {
      if (static_cast<size_t>(e - b) > ix.leaf_size) fail("leaf " + s(u) + " is too large");
      for (int32_t p = b; p < e; ++p) {
        if (leaf_of[static_cast<size_t>(p)] >= 0) fail("point " + s(p) + " in two leaves");
        leaf_of[static_cast<size_t>(p)] = static_cast<int32_t>(u);
      }
      continue;
    }
    const size_t l = u + 1, r = static_cast<size_t>(ix.node_right[u]);
    if (r <= l || r >= nodes || ix.node_begin[l] != b || ix.node_end[l] != ix.node_begin[r] ||
        ix.node_end[r] != e)
      fail("children of node " + s(u) + " do not partition it");
  }
  for (size_t p = 0; p < ix.n; ++p)
    if (leaf_of[p] < 0) fail("point " + s(p) + " is in no leaf");
  if (!errors.empty()) return errors;
  const auto coord = [&](size_t p, size_t a) {
    const auto u = static_cast<size_t>(leaf_of[p]);
    const auto b = static_cast<size_t>(ix.node_begin[u]);
    const auto e = static_cast<size_t>(ix.node_end[u]);
    return ix.leaf_coords[b * dim + a * (e - b) + (p - b)];
  };
  for (size_t p = 0; p < ix.n; ++p) {
    const double* row = data.coord_row(static_cast<size_t>(ix.ids[p]));
    for (size_t a = 0; a < dim; ++a)
      if (coord(p, a) != row[a]) fail("point " + s(p) + " has coordinates not of its id");
  }
  for (size_t u = 0; u < nodes; ++u) {
    const auto b = static_cast<size_t>(ix.node_begin[u]);
    const auto e = static_cast<size_t>(ix.node_end[u]);
    const double* lo = ix.node_box.data() + u * 2 * dim;
    const double* hi = lo + dim;
    int64_t min_id = std::numeric_limits<int64_t>::max();
    for (size_t a = 0; a < dim; ++a) {
      double mn = kInf, mx = -kInf;
      for (size_t p = b; p < e; ++p) {
        mn = std::min(mn, coord(p, a));
        mx = std::max(mx, coord(p, a));
      }
      if (mn != lo[a] || mx != hi[a]) fail("node " + s(u) + " box is not tight on axis " + s(a));
    }
    for (size_t p = b; p < e; ++p) min_id = std::min(min_id, ix.ids[p]);
    if (min_id != ix.node_min_id[u]) fail("node " + s(u) + " has a wrong min id");
  }
  return errors;
}

KnnResult euclid_knn(const EuclidIndex& index, std::span<const QueryRow> queries,
                     const TreeQueryOptions& options, QueryCounters* counters) {
  KnnResult out;
  out.resize(queries.size(), options.k);
  QueryCounters total;
  if (options.k > 0 && index.n > 0 && !queries.empty()) {
    for (const QueryRow& q : queries)
      if (q.coords == nullptr) throw InputError("euclid_knn: query without coordinates");
    Params pr{};
    pr.k = options.k;
    pr.predecessor = options.predecessor;
    pr.survivor_cap = options.survivor_cap;
    pr.low_yield_stop = options.low_yield_stop;
    pr.dense_after = options.dense_fallback_evals > 0 ? options.dense_fallback_evals
                                                      : std::numeric_limits<size_t>::max();
    pr.slowdown = options.inject_slowdown;
    pr.cancel = options.cancel;
    pr.per_query_evals = options.per_query_evals;
    dispatch_dim<1>(index.dim, index, queries, pr, std::max(1, options.threads), out, total);
  }
  total.queries = queries.size();
  if (counters) *counters = total;
  return out;
}

}  // namespace ctb
