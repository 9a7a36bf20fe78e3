// Pivot lists: for each of the first P nodes (BFS order = the top nets of the cover tree, so
// evenly spread pivots), its M nearest rows in the query metric, sorted, plus a lower bound on
// the distance to every row outside the list. The residual search (tree_knn.cpp) takes the
// pivot nearest the query and prunes list entries by the triangle inequality through it:
// spec §9 measures that such bounds prune well where subtree radii do not.
//
// Cost: P x N distances with the block kernel (several pivots share each loaded V row), then a
// selection per pivot. Every value is a function of (pivot, row) only, so the lists are the same
// for any thread count.
#include <algorithm>
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

}  // namespace

void build_pivot_lists(CoverTree& tree, size_t pivot_count, size_t list_size, int threads) {
  const size_t n = tree.size();
  const size_t P = std::min(pivot_count, n);
  const size_t M = std::min(list_size, n);
  tree.pivot_count = P;
  tree.pivot_list_size = M;
  tree.pivot_nodes.assign(P * M, 0);
  tree.pivot_dists.assign(P * M, 0.0);
  tree.pivot_outside.assign(P, std::numeric_limits<double>::infinity());
  if (P == 0 || M == 0) return;

  struct Scratch {
    std::vector<double> dist;  // kPivotBlock x n
    std::vector<double> sel;   // n: copy for the selection
    std::vector<Entry> list;   // M
    std::vector<QueryRow> qs;
  };
  const int workers = std::max(1, threads);
  std::vector<Scratch> scratch(static_cast<size_t>(workers));
  const size_t blocks = (P + kPivotBlock - 1) / kPivotBlock;
  parallel_for(blocks, workers, [&](size_t b, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t p0 = b * kPivotBlock, np = std::min(P, p0 + kPivotBlock) - p0;
    s.dist.resize(np * n);
    s.sel.resize(n);
    s.list.resize(M);
    s.qs.resize(np);
    for (size_t i = 0; i < np; ++i) s.qs[i] = query_row(tree.rows, p0 + i);
    distances_block(tree.rows, s.qs, 0, n, s.dist.data());
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
}

}  // namespace ctb
