// Pivot lists: P pivots spread evenly in the QUERY metric (a farthest-point net, chosen in
// batches), each with its M nearest rows in the query metric, sorted, plus a lower bound on the
// distance to every row outside the list. The residual search (pivot_search.cpp) prunes by the
// triangle inequality through the pivots nearest the query.
//
// Why a farthest-point net: the search must fall back to a dense scan when no pivot near the
// query has a list reaching d(q, p) + kth, and that happens where pivots are far. The first
// engine took the top of the (Euclidean-hybrid) tree's BFS order, which is spread evenly in
// SPACE; residual distances are not uniform in space (p_i varies), and the residual net roughly
// halves the dense fallbacks (gold32k, P = M = 2048: 405 -> ~220 of 1,024 queries, measured).
// Farthest-point picking also starts from the isolated points, where k-th distances are large.
//
// Cost: P x N distances with the block kernel (each batch of kBatch pivots shares every loaded
// row), then a selection per pivot; the picking adds kBatch x pool distances per batch.
// Everything is sequential in the choice and a function of (pivot, row) in the scan, so the
// lists are the same for any thread count.
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

constexpr size_t kBatch = 32;       // pivots chosen and scanned together (one block of rows)
constexpr size_t kPoolPerPick = 4;  // candidate pool: the kBatch * this rows farthest from pivots
constexpr size_t kRowChunk = 4096;  // rows per parallel task of a batch's scan

struct Entry {
  double d;
  int32_t node;
};

/// The M nearest of pivot row `d` (n distances) by (distance, node) into `nodes`/`dists`;
/// returns the outside bound, the (M+1)-th distance (+inf when M == n).
/// A strided sample's quantile gives a threshold t expected to keep ~1.5 (M + 1) rows; when at
/// least M + 1 rows have d <= t, the M + 1 first by (distance, node) are all among them (every
/// other row is farther than t), so the selection runs over those alone (~n / 8 of the rows at
/// the default M = n / 16). Otherwise it runs over every row.
double select_list(const double* d, size_t n, size_t M, std::vector<Entry>& list, int32_t* nodes,
                   double* dists, std::vector<double>& sample) {
  const auto before = [](const Entry& a, const Entry& c) {
    return a.d != c.d ? a.d < c.d : a.node < c.node;
  };
  size_t count = 0;
  if (M < n && 4 * (M + 1) < n) {
    const size_t stride = std::max<size_t>(1, n / 1024);
    sample.clear();
    for (size_t j = 0; j < n; j += stride) sample.push_back(d[j]);
    const size_t at = std::min(sample.size() - 1, 3 * (M + 1) * sample.size() / (2 * n) + 2);
    std::nth_element(sample.begin(), sample.begin() + static_cast<long>(at), sample.end());
    const double t = sample[at];
    for (size_t j = 0; j < n; ++j)
      if (d[j] <= t) list[count++] = {d[j], static_cast<int32_t>(j)};
  }
  if (count < M + 1) {  // no usable threshold: every row
    count = n;
    for (size_t j = 0; j < n; ++j) list[j] = {d[j], static_cast<int32_t>(j)};
  }
  double outside = std::numeric_limits<double>::infinity();
  if (M < n) {
    std::nth_element(list.begin(), list.begin() + static_cast<long>(M),
                     list.begin() + static_cast<long>(count), before);
    outside = list[M].d;  // every entry from M on is at or after it by (distance, node)
  }
  std::sort(list.begin(), list.begin() + static_cast<long>(M), before);
  for (size_t e = 0; e < M; ++e) {
    nodes[e] = list[e].node;
    dists[e] = list[e].d;
  }
  return outside;
}

/// Farthest-point choice of the next batch: among the pool of unchosen rows farthest from the
/// pivots so far (by min_d, ties to the lower node), repeatedly the one farthest from the
/// pivots and from this batch's picks. Exact FPS restricted to the pool; sequential and
/// deterministic.
void pick_batch(const MetricData& rows, const std::vector<double>& min_d,
                const std::vector<uint8_t>& chosen, size_t want, std::vector<int32_t>& batch,
                std::vector<int32_t>& pool, std::vector<double>& eff, std::vector<double>& dd) {
  const size_t n = rows.n;
  pool.clear();
  for (size_t j = 0; j < n; ++j)
    if (!chosen[j]) pool.push_back(static_cast<int32_t>(j));
  const auto farther = [&](int32_t a, int32_t b) {
    const double da = min_d[static_cast<size_t>(a)], db = min_d[static_cast<size_t>(b)];
    return da != db ? da > db : a < b;
  };
  const size_t size = std::min(pool.size(), want * kPoolPerPick);
  std::partial_sort(pool.begin(), pool.begin() + static_cast<long>(size), pool.end(), farther);
  pool.resize(size);
  eff.resize(size);
  dd.resize(size);
  for (size_t c = 0; c < size; ++c) eff[c] = min_d[static_cast<size_t>(pool[c])];
  batch.clear();
  for (size_t t = 0; t < std::min(want, size); ++t) {
    size_t best = size;
    for (size_t c = 0; c < size; ++c)
      if (eff[c] >= 0.0 && (best == size || eff[c] > eff[best])) best = c;  // first = lower rank
    batch.push_back(pool[best]);
    eff[best] = -1.0;  // taken
    distances_to_rows(rows, query_row(rows, static_cast<size_t>(pool[best])), pool, dd.data());
    for (size_t c = 0; c < size; ++c)
      if (eff[c] >= 0.0) eff[c] = std::min(eff[c], dd[c]);
  }
}

}  // namespace

void build_pivot_lists(CoverTree& tree, size_t pivots, size_t list_size, int threads,
                       const CancelToken* cancel) {
  const size_t n = tree.size();
  PivotLists& lists = tree.pivot_lists;
  lists = PivotLists{};
  tree.coord_index.reset();
  if (pivots == 0 || list_size == 0 || n == 0 || tree.rows.dim == 0) return;
  const size_t P = std::min(pivots, n), M = std::min(list_size, n);
  lists.count = P;
  lists.list_size = M;
  lists.pivot_node.reserve(P);
  lists.nodes.assign(P * M, 0);
  lists.dists.assign(P * M, 0.0);
  lists.outside.assign(P, std::numeric_limits<double>::infinity());
  threads = std::max(1, threads);

  std::vector<double> min_d(n, std::numeric_limits<double>::infinity());
  std::vector<uint8_t> chosen(n, 0);
  std::vector<int32_t> batch{0}, pool;  // the root starts the net
  std::vector<double> eff, dd, dist;
  std::vector<QueryRow> qs;
  struct Scratch {
    std::vector<double> row;
    std::vector<Entry> list;
    std::vector<double> sample;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(threads));
  const size_t chunks = (n + kRowChunk - 1) / kRowChunk;
  while (lists.pivot_node.size() < P) {
    if (lists.pivot_node.size() > 0)
      pick_batch(tree.rows, min_d, chosen, std::min(kBatch, P - lists.pivot_node.size()), batch,
                 pool, eff, dd);
    const size_t nb = batch.size(), p0 = lists.pivot_node.size();
    qs.resize(nb);
    for (size_t i = 0; i < nb; ++i) {
      qs[i] = query_row(tree.rows, static_cast<size_t>(batch[i]));
      chosen[static_cast<size_t>(batch[i])] = 1;
      lists.pivot_node.push_back(batch[i]);
    }
    // The batch's rows: chunk c holds d(pivot i, rows of chunk c) at dist[c * nb * kRowChunk].
    dist.resize(chunks * nb * kRowChunk);
    parallel_for(chunks, threads, cancel, [&](size_t c, int) {
      const size_t b = c * kRowChunk, e = std::min(n, b + kRowChunk);
      distances_block(tree.rows, qs, b, e, dist.data() + c * nb * kRowChunk);
    });
    // Per pivot: gather its row, select its list; per row: the distance to the nearest pivot.
    parallel_for(nb, threads, cancel, [&](size_t i, int worker) {
      Scratch& s = scratch[static_cast<size_t>(worker)];
      s.row.resize(n);
      s.list.resize(n);
      for (size_t c = 0; c < chunks; ++c) {
        const size_t b = c * kRowChunk, len = std::min(n, b + kRowChunk) - b;
        std::copy_n(dist.data() + c * nb * kRowChunk + i * len, len, s.row.data() + b);
      }
      lists.outside[p0 + i] =
          select_list(s.row.data(), n, M, s.list, lists.nodes.data() + (p0 + i) * M,
                      lists.dists.data() + (p0 + i) * M, s.sample);
    });
    parallel_for(chunks, threads, cancel, [&](size_t c, int) {
      const size_t b = c * kRowChunk, len = std::min(n, b + kRowChunk) - b;
      const double* d = dist.data() + c * nb * kRowChunk;
      for (size_t i = 0; i < nb; ++i)
        for (size_t j = 0; j < len; ++j) min_d[b + j] = std::min(min_d[b + j], d[i * len + j]);
    });
  }
  lists.cover_radius = 0.0;
  for (size_t j = 0; j < n; ++j) lists.cover_radius = std::max(lists.cover_radius, min_d[j]);
  tree.coord_index = make_coord_index(tree.rows, lists.pivot_node);
}

}  // namespace ctb
