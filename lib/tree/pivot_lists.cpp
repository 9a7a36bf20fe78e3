// Pivot lists: for each of the first P nodes (BFS order = the top nets of the cover tree, so
// evenly spread pivots), its M nearest rows in the query metric, sorted, plus a lower bound on
// the distance to every row outside the list. The residual search (tree_knn.cpp) takes the
// pivot nearest the query and prunes list entries by the triangle inequality through it:
// spec §9 measures that such bounds prune well where subtree radii do not.
//
// Cost: P x N distances with the block kernel (several pivots share each loaded V row), then a
// selection per pivot. Every value is a function of (pivot, row) only, so the lists are the same
// for any thread count.
//
// The same pass can assign each row to its home pivot (nearest by (distance, pivot id)): each
// worker keeps the best pivot per row over the blocks it saw, and the per-worker bests are
// merged with the same (distance, pivot) order, which is associative, so the homes do not
// depend on the schedule either. The clusters are then laid out by layout_clusters.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {
namespace {

// Pivots per block-kernel call: each V row is loaded once for this many pivots (a multiple of
// the kernel's 4-query register tile). The scratch is kPivotBlock x N doubles per worker.
constexpr size_t kPivotBlock = 16;

struct Entry {
  double d;
  int32_t node;
};

/// (d, p) lexicographic "better than" for home pivots.
bool nearer(double d, size_t p, double best_d, size_t best_p) {
  return d < best_d || (d == best_d && p < best_p);
}

/// Lays out the clusters from each node's home pivot and distance (see cover_tree.hpp).
void layout_clusters(CoverTree& tree, size_t P, const std::vector<int32_t>& home,
                     const std::vector<double>& dhome, std::vector<uint8_t>& q8_nodes,
                     int threads) {
  const size_t n = tree.size();
  tree.cluster_begin.assign(P + 1, 0);
  for (size_t j = 0; j < n; ++j) ++tree.cluster_begin[static_cast<size_t>(home[j]) + 1];
  for (size_t c = 0; c < P; ++c) tree.cluster_begin[c + 1] += tree.cluster_begin[c];
  std::vector<int32_t> fill(tree.cluster_begin.begin(), tree.cluster_begin.end() - 1);
  tree.cluster_node.assign(n, 0);
  for (size_t j = 0; j < n; ++j)  // ascending node ids within each cluster
    tree.cluster_node[static_cast<size_t>(fill[static_cast<size_t>(home[j])]++)] =
        static_cast<int32_t>(j);
  tree.cluster_home.assign(n, 0.0);
  tree.cluster_min.assign(P, 0.0);
  tree.cluster_max.assign(P, 0.0);
  tree.cluster_min_id.assign(P, std::numeric_limits<int64_t>::max());
  for (size_t c = 0; c < P; ++c) {
    int32_t* b = tree.cluster_node.data() + tree.cluster_begin[c];
    int32_t* e = tree.cluster_node.data() + tree.cluster_begin[c + 1];
    std::stable_sort(b, e, [&](int32_t x, int32_t y) {
      return dhome[static_cast<size_t>(x)] < dhome[static_cast<size_t>(y)];
    });
    for (int32_t* it = b; it != e; ++it) {
      const auto j = static_cast<size_t>(*it);
      tree.cluster_home[static_cast<size_t>(it - tree.cluster_node.data())] = dhome[j];
      tree.cluster_min_id[c] = std::min(tree.cluster_min_id[c], tree.rows.ids[j]);
    }
    // Never empty: the pivot is its own home.
    tree.cluster_min[c] = dhome[static_cast<size_t>(*b)];
    tree.cluster_max[c] = dhome[static_cast<size_t>(*(e - 1))];
  }
  tree.cluster_rows = permute_rows(tree.rows, tree.cluster_node);
  tree.pivot_q8.resize(P * n);
  parallel_for(P, threads, [&](size_t p, int) {
    const uint8_t* src = q8_nodes.data() + p * n;
    uint8_t* dst = tree.pivot_q8.data() + p * n;
    for (size_t i = 0; i < n; ++i) dst[i] = src[static_cast<size_t>(tree.cluster_node[i])];
  });
}

/// floor(255 d) for d in [0, 1] (clamped; the search widens the bound by the rounding).
uint8_t quantize(double d) {
  return static_cast<uint8_t>(std::clamp(std::floor(d * 255.0), 0.0, 255.0));
}

}  // namespace

void build_pivot_lists(CoverTree& tree, size_t pivot_count, size_t list_size, int threads,
                       bool clusters, const CancelToken* cancel) {
  const size_t n = tree.size();
  const size_t P = std::min(pivot_count, n);
  const size_t M = std::min(list_size, n);
  tree.pivot_count = P;
  tree.pivot_list_size = M;
  tree.pivot_nodes.assign(P * M, 0);
  tree.pivot_dists.assign(P * M, 0.0);
  tree.pivot_outside.assign(P, std::numeric_limits<double>::infinity());
  clusters = clusters && P > 0;
  if (!clusters) {
    tree.cluster_begin.clear();
    tree.cluster_node.clear();
    tree.cluster_home.clear();
    tree.cluster_min.clear();
    tree.cluster_max.clear();
    tree.cluster_min_id.clear();
    tree.cluster_rows = MetricData{};
    tree.pivot_q8.clear();
  }
  std::vector<uint8_t> q8_nodes(clusters ? P * n : 0);  // node order; permuted at the end
  if (P == 0 || (M == 0 && !clusters)) return;

  struct Scratch {
    std::vector<double> dist;  // kPivotBlock x n
    std::vector<double> sel;   // n: copy for the selection
    std::vector<Entry> list;   // M
    std::vector<QueryRow> qs;
    std::vector<double> best_d;  // n: nearest pivot seen by this worker (clusters)
    std::vector<int32_t> best_p;
  };
  const int workers = std::max(1, threads);
  std::vector<Scratch> scratch(static_cast<size_t>(workers));
  const size_t blocks = (P + kPivotBlock - 1) / kPivotBlock;
  parallel_for(blocks, workers, cancel, [&](size_t b, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t p0 = b * kPivotBlock, np = std::min(P, p0 + kPivotBlock) - p0;
    s.dist.resize(np * n);
    s.sel.resize(n);
    s.list.resize(M);
    s.qs.resize(np);
    for (size_t i = 0; i < np; ++i) s.qs[i] = query_row(tree.rows, p0 + i);
    distances_block(tree.rows, s.qs, 0, n, s.dist.data());
    if (clusters) {
      if (s.best_d.empty()) {
        s.best_d.assign(n, std::numeric_limits<double>::infinity());
        s.best_p.assign(n, static_cast<int32_t>(P));
      }
      for (size_t i = 0; i < np; ++i) {
        const double* d = s.dist.data() + i * n;
        const size_t p = p0 + i;
        uint8_t* q8 = q8_nodes.data() + p * n;
        for (size_t j = 0; j < n; ++j) q8[j] = quantize(d[j]);
        for (size_t j = 0; j < n; ++j)
          if (nearer(d[j], p, s.best_d[j], static_cast<size_t>(s.best_p[j]))) {
            s.best_d[j] = d[j];
            s.best_p[j] = static_cast<int32_t>(p);
          }
      }
    }
    if (M == 0) return;
    for (size_t i = 0; i < np; ++i) {
      const size_t p = p0 + i;
      const double* d = s.dist.data() + i * n;
      // T = the (M+1)-th smallest distance: rows with d < T are all in the list, rows with
      // d == T fill the rest in node order, so every row left out has d >= T.
      size_t count = 0;
      if (M < n) {
        std::copy_n(d, n, s.sel.begin());
        std::nth_element(s.sel.begin(), s.sel.begin() + static_cast<long>(M), s.sel.end());
        const double t = s.sel[M];
        tree.pivot_outside[p] = t;
        for (size_t j = 0; j < n; ++j)
          if (d[j] < t) s.list[count++] = {d[j], static_cast<int32_t>(j)};
        for (size_t j = 0; j < n && count < M; ++j)
          if (d[j] == t) s.list[count++] = {d[j], static_cast<int32_t>(j)};
      } else {
        for (size_t j = 0; j < n; ++j) s.list[count++] = {d[j], static_cast<int32_t>(j)};
      }
      std::sort(
          s.list.begin(), s.list.begin() + static_cast<long>(count),
          [](const Entry& a, const Entry& c) { return a.d != c.d ? a.d < c.d : a.node < c.node; });
      for (size_t e = 0; e < M; ++e) {
        tree.pivot_nodes[p * M + e] = s.list[e].node;
        tree.pivot_dists[p * M + e] = s.list[e].d;
      }
    }
  });
  if (!clusters) return;
  std::vector<int32_t> home(n, static_cast<int32_t>(P));
  std::vector<double> dhome(n, std::numeric_limits<double>::infinity());
  for (const Scratch& s : scratch) {
    if (s.best_d.empty()) continue;  // this worker got no block
    for (size_t j = 0; j < n; ++j)
      if (nearer(s.best_d[j], static_cast<size_t>(s.best_p[j]), dhome[j],
                 static_cast<size_t>(home[j]))) {
        dhome[j] = s.best_d[j];
        home[j] = s.best_p[j];
      }
  }
  for (size_t p = 0; p < P; ++p) {  // a pivot is its own home (d(p, p) = 0 by definition)
    home[p] = static_cast<int32_t>(p);
    dhome[p] = 0.0;
  }
  layout_clusters(tree, P, home, dhome, q8_nodes, workers);
}

}  // namespace ctb
