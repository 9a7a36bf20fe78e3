// Exact residual k-NN through pivot lists (engine v2).
//
// Why this design. Spec §9/§12: residual distances crowd near 1, so subtree radii prune
// almost nothing (the first engine's best-first tree search evaluated ~42% of N at every N),
// while the triangle bound |d(p, j) - d(q, p)| <= d(q, j) through a pivot p NEAR the query
// prunes well, and better as N grows (k-th distances shrink). So, per query:
//  1. Seed: evaluate the `seed_rows` Euclidean-nearest rows (residual neighbours are spatially
//     local: the 512 nearest already give recall@50 ~0.994 at 32k). The k-th distance of the
//     seeds is an upper bound on the true one from the first evaluation on.
//  2. Pivots: evaluate the `pivot_candidates` Euclidean-nearest pivots. With
//     bar = kth + slack, pivot p (r = d(q, p)) is usable when its list reaches past r + bar
//     (every row outside it has d(p, j) >= outside[p] > r + bar); its window is the list range
//     d(p, j) in [r - bar, r + bar], found by binary search.
//  3. Intersect the windows of the `bound_pivots` usable pivots with the fewest entries: a row
//     outside any of them is pruned (trilateration: the annuli of several near pivots cut far
//     more than one). Each surviving row gets lb = max_t |d(p_t, j) - r_t|.
//  4. Evaluate the survivors by ascending lb in tiles, stopping once lb > kth + slack (kth only
//     shrinks).
// A query with no usable pivot, or more survivors than `dense_after`, is answered by the
// caller's blocked dense scan at once (several such queries share each loaded row), instead of
// after wasted gathered evaluations.
//
// Exactness: every row not evaluated is (a) outside a chosen window, |d(p, j) - r| > bar0 >=
// kth_final + slack, or outside the list, d(p, j) >= outside[p] > r + bar0; or (b) a survivor
// with lb > kth + slack at the stop. Either way d(q, j) > kth_final up to rounding, which the
// slack covers (tree_knn.cpp explains its size), so it cannot enter the top-k, ties included.
//
// Tried and measured (tree_knn.cpp's history, gold32k): one pivot per query walking its list
// outward (the first engine: most queries could not close their bound: 41% of N); home-pivot
// clusters with byte-quantised bounds (2048 pivot evaluations per query cost more than they
// saved). Both were deleted.
#include "tree/pivot_search.hpp"

#include <algorithm>
#include <cmath>

#include "metric/distance_kernels.hpp"
#include "tree/coord_index.hpp"

namespace ctb {
namespace {

constexpr size_t kTile = 32;          // survivors per distances_to_rows call
constexpr size_t kMaxSeedGrowth = 4;  // seeds grow to at most this many times seed_rows
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

void PivotSearchScratch::prepare(size_t n) {
  if (eval_mark.size() != n) {
    eval_mark.assign(n, 0);
    hit_mark.assign(n, 0);
    hit_count.assign(n, 0);
    hit_lb.assign(n, 0.0);
    stamp = 0;
  }
}

void evaluate_nodes(const MetricData& rows, const QueryRow& q, const int32_t* nodes, size_t count,
                    double* out, double slowdown, std::vector<double>& waste, double& sink,
                    QueryCounters& counters) {
  const std::span<const int32_t> span(nodes, count);
  distances_to_rows(rows, q, span, out);
  for (double extra = slowdown - 1.0; extra > 0.0 && count > 0; extra -= 1.0) {
    const size_t len =
        extra >= 1.0 ? count
                     : std::max<size_t>(
                           1, static_cast<size_t>(std::ceil(extra * static_cast<double>(count))));
    if (waste.size() < len) waste.resize(len);
    distances_to_rows(rows, q, span.first(len), waste.data());
    sink += waste[0];
  }
  counters.add_block(count);
}

PivotSearchResult pivot_search(const CoverTree& tree, const QueryRow& q,
                               const PivotSearchParams& pr, PivotSearchScratch& s) {
  const MetricData& rows = tree.rows;
  const CoordIndex& index = *tree.coord_index;
  QueryCounters& ct = s.counters;
  TopK& topk = s.topk;
  topk.reset(pr.k);
  if (++s.stamp == 0) {  // wrapped: clear the marks once every 2^32 queries
    std::fill(s.eval_mark.begin(), s.eval_mark.end(), 0u);
    std::fill(s.hit_mark.begin(), s.hit_mark.end(), 0u);
    s.stamp = 1;
  }
  const uint32_t stamp = s.stamp;
  const bool pred = pr.predecessor;
  const auto admissible = [&](size_t node) { return !pred || rows.ids[node] < q.id; };
  const auto key = [&](size_t node) { return rows.ids[node]; };
  uint64_t evals = 0;

  // Evaluates s.tile[0, count): marks, offers admissible rows; returns whether any entered.
  const auto evaluate_tile = [&](size_t count, uint64_t& phase) {
    if (count == 0) return false;
    if (s.tile_d.size() < count) s.tile_d.resize(count);
    evaluate_nodes(rows, q, s.tile.data(), count, s.tile_d.data(), pr.slowdown, s.waste, s.sink,
                   ct);
    ++ct.frontier_levels;
    evals += count;
    phase += count;
    bool yielded = false;
    for (size_t i = 0; i < count; ++i) {
      const auto node = static_cast<size_t>(s.tile[i]);
      s.eval_mark[node] = stamp;
      s.hit_lb[node] = s.tile_d[i];  // pivots read their d(q, p) back before step 3 reuses it
      if (admissible(node)) {
        if (topk.push(s.tile_d[i], key(node))) {
          ++ct.yields;
          yielded = true;
        }
      } else {
        ++ct.predecessor_filtered;
      }
    }
    return yielded;
  };
  const auto finish = [&](PivotSearchResult r) {
    ct.distance_evals += evals;
    return r;
  };

  // 1. Seeds: the Euclidean-nearest rows from position `from` to `want` of the k-d tree's
  // answer (a later stage skips what an earlier one saw), not yet evaluated.
  // The `want` Euclidean-nearest entries of a k-d tree into s.knn_idx (s.tile can take them).
  const auto nearest = [&](const CoordKdTree& kd_tree, size_t want) {
    if (s.knn_idx.size() < want) {  // grows to the largest stage once, then never again
      s.knn_idx.resize(want);
      s.knn_d2.resize(want);
    }
    if (s.tile.size() < want) s.tile.resize(want);
    return nearest_by_coords(kd_tree, q.coords, want, s.knn_idx.data(), s.knn_d2.data());
  };
  const auto evaluate_seeds = [&](size_t from, size_t want) {
    const size_t got = nearest(index.all_nodes(), std::min(want, rows.n));
    size_t count = 0;
    for (size_t i = from; i < got; ++i) {
      const size_t node = s.knn_idx[i];
      if (s.eval_mark[node] == stamp) continue;  // evaluated in an earlier stage
      if (pred && !admissible(node)) {
        ++ct.pruned_by_predecessor;
        ++ct.subtrees_pruned;
        continue;
      }
      s.tile[count++] = static_cast<int32_t>(node);
    }
    std::sort(s.tile.begin(), s.tile.begin() + static_cast<long>(count));
    evaluate_tile(count, ct.seed_evals);
    return got;
  };
  // Predecessor queries keep only ids < q.id of their seeds, about q.id / n of them: ask for
  // proportionally more, so about seed_rows are admissible.
  // Every stage together asks for at most kMaxSeedGrowth x seed_rows (nanoflann's k-NN result
  // set inserts in O(k): thousands of seeds would cost more than they save).
  const size_t max_seeds = pr.seed_rows * kMaxSeedGrowth;
  size_t seeds = pr.seed_rows;
  if (pred && q.id > 0 && static_cast<size_t>(q.id) < rows.n)
    seeds = std::min(max_seeds, pr.seed_rows * rows.n / static_cast<size_t>(q.id));
  size_t seen = evaluate_seeds(0, seeds);

  // 2. Pivots near q.
  const PivotLists& lists = tree.pivot_lists;
  const size_t M = lists.list_size;
  s.pivots.clear();
  {
    const size_t got = nearest(index.pivots(), std::min(pr.pivot_candidates, lists.count));
    size_t count = 0;
    for (size_t i = 0; i < got; ++i) {
      const size_t index = s.knn_idx[i];
      const auto node = static_cast<size_t>(lists.pivot_node[index]);
      s.pivots.push_back({static_cast<int32_t>(index), static_cast<int32_t>(node), 0.0, 0, 0});
      if (s.eval_mark[node] != stamp) s.tile[count++] = static_cast<int32_t>(node);
    }
    evaluate_tile(count, ct.pivot_evals);
  }
  for (auto& p : s.pivots) p.r = s.hit_lb[static_cast<size_t>(p.node)];

  // 3. Usable pivots and their windows. A query none can close first gets kMaxSeedGrowth times
  // the seeds (a tighter k-th bound narrows every window): a few hundred gathered evaluations
  // against a dense scan of all n rows.
  double bar0 = kInf;
  size_t usable = 0;
  for (int stage = 0; stage < 2; ++stage) {
    if (stage == 1) {
      if (pr.seed_rows == 0 || seeds >= std::min(rows.n, max_seeds)) break;
      seeds = std::min(max_seeds, seeds * kMaxSeedGrowth);
      seen = evaluate_seeds(seen, seeds);
    }
    bar0 = topk.full() ? topk.kth() + pr.slack : kInf;
    if (!(bar0 < kInf)) continue;
    s.windows.clear();
    for (const auto& p : s.pivots) {
      const auto pn = static_cast<size_t>(p.index);
      if (!(lists.outside[pn] - p.r > bar0)) continue;
      const double* ld = lists.dists.data() + pn * M;
      auto w = p;
      w.lo = static_cast<size_t>(std::lower_bound(ld, ld + M, p.r - bar0) - ld);
      w.hi = static_cast<size_t>(std::upper_bound(ld + w.lo, ld + M, p.r + bar0) - ld);
      s.windows.push_back(w);
    }
    usable = s.windows.size();
    if (usable > 0) break;
  }
  if (usable == 0) return finish(PivotSearchResult::needs_dense);
  const auto width = [](const PivotSearchScratch::Pivot& p) { return p.hi - p.lo; };
  std::sort(s.windows.begin(), s.windows.end(), [&](const auto& a, const auto& b) {
    return width(a) != width(b) ? width(a) < width(b) : a.index < b.index;
  });
  const size_t nb = std::min(std::max<size_t>(1, pr.bound_pivots), usable);
  ct.frontier_expanded += nb;

  // Intersection: hit_count[j] = number of the first t windows holding j.
  {
    const auto& p0 = s.windows[0];
    const int32_t* ln = lists.nodes.data() + static_cast<size_t>(p0.index) * M;
    const double* ld = lists.dists.data() + static_cast<size_t>(p0.index) * M;
    for (size_t e = p0.lo; e < p0.hi; ++e) {
      const auto j = static_cast<size_t>(ln[e]);
      s.hit_mark[j] = stamp;
      s.hit_count[j] = 1;
      s.hit_lb[j] = std::abs(ld[e] - p0.r);
    }
  }
  for (size_t t = 1; t < nb; ++t) {
    const auto& pt = s.windows[t];
    const int32_t* ln = lists.nodes.data() + static_cast<size_t>(pt.index) * M;
    const double* ld = lists.dists.data() + static_cast<size_t>(pt.index) * M;
    const auto want = static_cast<uint8_t>(t);
    for (size_t e = pt.lo; e < pt.hi; ++e) {
      const auto j = static_cast<size_t>(ln[e]);
      if (s.hit_mark[j] != stamp || s.hit_count[j] != want) continue;
      s.hit_count[j] = static_cast<uint8_t>(t + 1);
      s.hit_lb[j] = std::max(s.hit_lb[j], std::abs(ld[e] - pt.r));
    }
  }
  s.cands.clear();
  {
    const auto& p0 = s.windows[0];
    const int32_t* ln = lists.nodes.data() + static_cast<size_t>(p0.index) * M;
    const auto full = static_cast<uint8_t>(nb);
    uint64_t cut = 0;
    for (size_t e = p0.lo; e < p0.hi; ++e) {
      const auto j = static_cast<size_t>(ln[e]);
      if (s.hit_count[j] != full) {
        ++cut;
        continue;
      }
      s.hit_count[j] = 0;  // listed once even if a list repeats (it cannot; cheap insurance)
      if (s.eval_mark[j] == stamp) continue;
      if (!admissible(j)) {
        ++ct.pruned_by_predecessor;
        ++ct.subtrees_pruned;
        continue;
      }
      s.cands.push_back({s.hit_lb[j], static_cast<int32_t>(j)});
    }
    const uint64_t outside = rows.n - (p0.hi - p0.lo);
    ct.pruned_by_parent += cut + outside;
    ct.subtrees_pruned += cut + outside;
  }
  if (s.cands.size() > pr.dense_after) return finish(PivotSearchResult::needs_dense);
  std::sort(s.cands.begin(), s.cands.end(), [](const auto& a, const auto& b) {
    return a.lb != b.lb ? a.lb < b.lb : a.node < b.node;
  });

  // 4. Survivors by ascending lower bound.
  if (s.tile.size() < kTile) s.tile.resize(kTile);
  size_t dry_tiles = 0;
  for (size_t i = 0; i < s.cands.size();) {
    const double bar = topk.kth() + pr.slack;
    if (s.cands[i].lb > bar) {
      ct.pruned_by_radius += s.cands.size() - i;
      ct.subtrees_pruned += s.cands.size() - i;
      break;
    }
    size_t count = 0;
    while (i < s.cands.size() && count < kTile && s.cands[i].lb <= bar)
      s.tile[count++] = s.cands[i++].node;
    const bool yielded = evaluate_tile(count, ct.candidate_evals);
    // APPROXIMATE budgets: only once k candidates are held, so answers stay full.
    if (topk.full()) {
      dry_tiles = yielded ? 0 : dry_tiles + 1;
      if ((pr.survivor_cap > 0 && evals >= pr.survivor_cap) ||
          (pr.low_yield_stop > 0 && dry_tiles >= pr.low_yield_stop)) {
        ++ct.caps_applied;
        break;
      }
    }
  }
  return finish(PivotSearchResult::exact);
}

}  // namespace ctb
