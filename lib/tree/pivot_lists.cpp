// Pivot lists: for each of the first P nodes (BFS order = the top nets of the cover tree, so
// evenly spread pivots), its M nearest rows in the query metric, sorted, plus a lower bound on
// the distance to every row outside the list. The residual search (pivot_search.cpp) prunes by
// the triangle inequality through the pivots nearest the query.
//
// Cost: P x N distances with the block kernel (several pivots share each loaded V row), then a
// selection per pivot. Every value is a function of (pivot, row) only, so the lists are the same
// for any thread count.
//
// Tried and measured (gold32k and scale-residual-128k, 2 threads): building finer levels of
// lists (N / 8 pivots, short lists) by exact k-NN searches through coarser levels' longer
// lists, navigating-net style, so that only the coarsest level needs a P x N scan. It does not
// work in this metric: a coarse list must reach R_fine + d(fine pivot, coarse pivot), and with
// R_fine ~0.55 and that distance ~0.4 the radius passes the ~0.95 where residual distances crowd
// (spec §9), so the coarse windows prune nothing: at 128k, 1,760 of 2,048 level-1 and 8,033 of
// 16,384 level-0 lists still needed a full scan, and the build took longer than P x N for the
// same pivots. Deleted; one level, P x N.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/coord_index.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {
namespace {

// Pivots per block-kernel call in a dense scan: each row is loaded once for this many pivots.
constexpr size_t kPivotBlock = 16;

struct Entry {
  double d;
  int32_t node;
};

/// Lists of `pivots` (node ids) by a full scan: the M nearest by (distance, node),
/// outside = the (M+1)-th distance (rows with d == it fill the list in node order).
void dense_lists(const MetricData& rows, std::span<const int32_t> pivots, PivotLists& level,
                 int threads) {
  const size_t n = rows.n, M = level.list_size;
  if (pivots.empty()) return;
  struct Scratch {
    std::vector<double> dist, sel;
    std::vector<Entry> list;
    std::vector<QueryRow> qs;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(std::max(1, threads)));
  const size_t blocks = (pivots.size() + kPivotBlock - 1) / kPivotBlock;
  parallel_for(blocks, threads, [&](size_t b, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t i0 = b * kPivotBlock, np = std::min(pivots.size(), i0 + kPivotBlock) - i0;
    s.dist.resize(np * n);
    s.sel.resize(n);
    s.list.resize(n);
    s.qs.resize(np);
    for (size_t i = 0; i < np; ++i) s.qs[i] = query_row(rows, static_cast<size_t>(pivots[i0 + i]));
    distances_block(rows, s.qs, 0, n, s.dist.data());
    for (size_t i = 0; i < np; ++i) {
      const auto p = static_cast<size_t>(pivots[i0 + i]);
      const double* d = s.dist.data() + i * n;
      size_t count = 0;
      level.outside[p] = std::numeric_limits<double>::infinity();
      if (M < n) {
        std::copy_n(d, n, s.sel.begin());
        std::nth_element(s.sel.begin(), s.sel.begin() + static_cast<long>(M), s.sel.end());
        const double t = s.sel[M];
        level.outside[p] = t;
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
        level.nodes[p * M + e] = s.list[e].node;
        level.dists[p * M + e] = s.list[e].d;
      }
    }
  });
}

}  // namespace

void build_pivot_lists(CoverTree& tree, size_t pivots, size_t list_size, int threads) {
  const size_t n = tree.size();
  PivotLists& lists = tree.pivot_lists;
  lists = PivotLists{};
  tree.coord_index.reset();
  if (pivots == 0 || list_size == 0 || n == 0 || tree.rows.dim == 0) return;
  lists.count = std::min(pivots, n);
  lists.list_size = std::min(list_size, n);
  lists.nodes.assign(lists.count * lists.list_size, 0);
  lists.dists.assign(lists.count * lists.list_size, 0.0);
  lists.outside.assign(lists.count, std::numeric_limits<double>::infinity());
  std::vector<int32_t> all(lists.count);
  for (size_t p = 0; p < lists.count; ++p) all[p] = static_cast<int32_t>(p);
  dense_lists(tree.rows, all, lists, threads);
  tree.coord_index = make_coord_index(tree.rows, lists.count);
}

}  // namespace ctb
