// Exact k-NN over the cover tree.
//
// Search, per query: best-first over subtrees keyed by a lower bound on the distance from the
// query to anything in the subtree. The root is evaluated first. Expanding a node u (with
// d(q,u) known) looks at its children [cb, ce), which are contiguous node ids, so their metric
// rows are contiguous too:
//  - predecessor mode: a child whose subtree_min_id >= q.id holds no admissible point (skip);
//  - parent-pivot bound: every j in subtree(c) has d(u,j) in [parent_min(c), parent_max(c)],
//    so d(q,j) >= max(d(q,u) - parent_max(c), parent_min(c) - d(q,u)) (triangle inequality);
//    a child whose bound exceeds the k-th distance is skipped without being evaluated.
//    In the residual metric this is the bound that prunes (spec §9: pivots near the query),
//    radii alone rarely do because distances crowd near 1;
//  - the surviving children are evaluated as one tile, offered to the top-k, and pushed with
//    lb = max(parent bound, d(q,c) - radius(c)).
// The search stops when the smallest lb exceeds the k-th distance: nothing left can enter.
//
// Slack: computed distances satisfy the triangle inequality only up to rounding. A prune needs
// bound > kth + slack. Residual: rho carries an error eps ~ m * ulp / sqrt(p_i p_j) (p down to
// 1e-9; spec §2 measures 6.5e-8 between two correct formulations), and d = sqrt(1 - |rho|)
// turns it into ~eps / (2d) for large d but up to sqrt(eps) near 0 (exact duplicates come out
// at ~1e-5, not 0), so a bound through a near-duplicate pair can be off by ~1e-5. The default
// residual slack is 1e-4 (covers eps up to 1e-8, ~100x what duplicates show); it costs nothing
// measurable, since k-th distances are ~0.3..1. Euclidean: 1e-9 + 1e-13 * magnitude (a few
// ulps of coordinates up to ~1e3..1e6).
//
// Pivot-list search (residual trees with pivot lists, the default there): the cover tree's
// radii prune poorly in the residual metric (spec §9), so each query instead
//  1. evaluates the `pivot_candidates` pivots nearest to it by coordinates (a k-d tree over the
//     pivots' coordinates; residual neighbours are spatially local) and offers them to the
//     top-k; p = the one with the smallest (d(q,p), node id), dq = d(q,p);
//  2. walks p's list (sorted by a_j = d(p,j)) outward from a_j = dq, nearest |a_j - dq| first,
//     in tiles. |dq - a_j| <= d(q,j) (triangle inequality), so once a side's next entry has
//     |dq - a_j| > kth + slack, every later entry on that side is pruned (kth only shrinks);
//  3. is complete when the upper side stopped on the bound (rows outside the list have
//     d(p,j) >= pivot_outside[p] >= every list entry, so they are pruned too), or when the list
//     ran out and pivot_outside[p] - dq > kth + slack. Otherwise the query goes to the dense
//     phase below (exact).
// Counters: pivot + list evaluations are distance_evals; list entries cut off by the bound are
// pruned_by_parent (the pivot plays the parent), entries skipped as non-predecessors are
// pruned_by_predecessor; frontier_expanded counts lists walked, frontier_levels their tiles.
// Predecessor queries with few predecessors (id <= n / kPredDirectDiv) evaluate all of them
// directly: the pivot's list would hold too few of them to close the bound; so do queries with
// id <= n / kPredFallbackDiv whose pivot search fails (instead of the dense phase).
//
// Cluster search (residual trees built with BuildOptions::clusters; a "list of clusters"):
// every row j belongs to the cluster of its home pivot h(j) (its nearest pivot), with
// a_j = d(h(j), j) known, members sorted by a_j and stored contiguously (cover_tree.hpp).
//  1. d(q, p) for ALL P pivots, for the chunk of queries a task holds at once (distances_block:
//     GEMM-shaped, each pivot row loaded once per chunk); every pivot is offered to the top-k.
//  2. Clusters are visited by ascending d(q, p_c) (a counting sort into kClusterBuckets
//     buckets of d: O(P); the order only affects speed). |d(q, p_c) - a_j| <= d(q, j), so only
//     members with a_j in [dq - kth - slack, dq + kth + slack] can enter: the window is found
//     by binary search and walked in tiles, its upper end re-cut as kth shrinks.
//  3. Each tile is filtered through the `cluster_bound_pivots` pivots nearest q with the
//     quantized d(p, j) bytes (the same triangle bound, widened by the quantization), and the
//     survivors are evaluated on the cluster-ordered rows. Predecessor mode skips clusters whose
//     min id >= q.id and evaluates only admissible members.
// The scan is complete; a query still goes to the dense phase (cheaper per row: ~20 ns against
// ~100 ns) when its evaluations pass `dense_fallback_evals`, or earlier, at checkpoints after
// 256, 1024, 4096 ... member evaluations, when the rows that the two nearest pivots' byte bounds
// still admit (a bound on the work left, counted over all rows) exceed `cluster_dense_rows`.
// Counters: pivots and members evaluated are distance_evals; members cut by a bound are
// pruned_by_parent (rows), non-predecessor members skipped unevaluated are
// pruned_by_predecessor (rows; both also in subtrees_pruned); frontier_expanded counts clusters
// scanned, frontier_levels the evaluated tiles (the pivot block is one).
// Why it is not the default (measured on gold32k, P = 2048): the home-pivot bound alone prunes
// little (median 12,300 evaluations per query: a row's nearest pivot is typically 0.5-0.8
// away); with the bound pivots the median falls to ~360 member evaluations (+ 2048 pivots),
// but ~1/3 of the queries still cannot prune (their k-th distance stays high), as with the
// pivot-list search, and the 2048 pivot evaluations per query cost more than the list search
// saves: ~1.1x brute against ~1.4x for the list search, back to back.
//
// Dense fallback: when the k-th distance stays near the top of the range (a few % of residual
// gold queries, spec §9), no bound prunes and the tree evaluates most rows one at a time. Such
// a query is abandoned after `dense_fallback_evals` evaluations and answered in a second phase
// by distances_block over all rows, several fallback queries per loaded row. Same kernel, same
// bits, so still exact.
#include "tree/tree_knn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/coord_kdtree.hpp"
#include "tree/euclid_knn.hpp"

namespace ctb {
namespace {

constexpr size_t kQueryChunk = 16;    // queries per parallel task
constexpr size_t kDenseQueries = 32;  // fallback queries sharing each row block
constexpr size_t kDenseRows = 128;    // rows per block in the dense phase
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kListTile = 32;       // list entries per distances_to_rows call
constexpr size_t kPredDirectDiv = 16;  // predecessor queries with id <= n / this: direct scan
// A failed pivot search costs the dense phase ~n block-kernel distances (~20 ns each); a direct
// scan of q.id predecessors costs ~q.id random-row distances (~60-100 ns): cheaper below n / 4.
constexpr size_t kPredFallbackDiv = 4;
constexpr size_t kClusterBuckets = 256;  // visiting-order buckets of d(q, pivot) in [0, 1]
constexpr size_t kRangeTile = 64;        // cluster members per evaluation call
constexpr size_t kFirstCheck = 256;      // member evaluations before the first work-left check

// Keeps the repeated (discarded) distance work of inject_slowdown observable.
volatile double g_slowdown_sink = 0.0;

struct HeapEntry {
  double lb;  // lower bound on d(q, anything in the subtree below the node)
  double d;   // d(q, node)
  int32_t node;
};
// Min-heap on (lb, d, node): the tie-breaks make the visiting order, and so the counters,
// a function of the query alone.
struct HeapLater {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.lb != b.lb) return a.lb > b.lb;
    if (a.d != b.d) return a.d > b.d;
    return a.node > b.node;
  }
};

struct Scratch {
  TopK topk;
  std::vector<HeapEntry> heap;
  std::vector<int32_t> tile;
  std::vector<double> tile_lb, tile_d, waste;
  std::vector<size_t> fallback;  // query indices this worker handed to the dense phase
  std::vector<size_t> cand;      // pivot candidates (k-d tree answer)
  std::vector<double> cand_d2;
  std::vector<int32_t> piv;  // the evaluated pivots, ascending
  // Cluster search: d(query, pivot) for the task's chunk (chunk x P), its queries, the visit
  // order of the clusters and its bucket counts.
  std::vector<double> pd;
  std::vector<QueryRow> chunk;
  std::vector<int32_t> visit;
  std::vector<uint16_t> bucket_of;
  std::vector<uint32_t> bucket_start;
  std::vector<uint8_t> blo, bspan, mask;  // bound pivots' byte windows; a tile's filter
  QueryCounters counters;
  double sink = 0.0;
};

struct Params {
  size_t k;
  bool predecessor;
  size_t survivor_cap;
  size_t low_yield_stop;
  size_t dense_after;
  double slowdown;
  double slack_abs;
  double slack_rel;
  size_t pivot_candidates;      // 0 = pivot-list search off
  bool clusters;                // cluster search on
  size_t cluster_dense_rows;    // cluster search: work-left bound that sends a query to dense
  size_t bound_pivots;          // cluster search: pivots nearest q whose bytes bound each row
  size_t pred_direct;           // predecessor queries with id <= this evaluate all predecessors
  size_t pred_fallback_direct;  // ... and so do those failing the pivot search up to this id
};

/// Offers (d, id) to the top-k; true when it entered.
bool offer(TopK& topk, double d, int64_t id) {
  if (topk.full()) {
    const double kd = topk.kth();
    if (d > kd || (d == kd && id >= topk.id(topk.size() - 1))) return false;
  }
  topk.push(d, id);
  return true;
}

/// Repeats distance work (factor - 1) times over `rows`, discarding the values.
void waste_time(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                double factor, Scratch& s) {
  double extra = factor - 1.0;
  if (!(extra > 0.0) || rows.empty()) return;
  if (s.waste.size() < rows.size()) s.waste.resize(rows.size());
  for (; extra > 0.0; extra -= 1.0) {
    const size_t len =
        extra >= 1.0
            ? rows.size()
            : std::max<size_t>(
                  1, static_cast<size_t>(std::ceil(extra * static_cast<double>(rows.size()))));
    distances_to_rows(data, q, rows.first(len), s.waste.data());
    s.sink += s.waste[0];
  }
}

/// Every evaluation of the search goes through here: distances of `tile` into `out`, the
/// injected slowdown's repeated work, and the tile's block-size count.
size_t evaluate_tile(const MetricData& data, const QueryRow& q, std::span<const int32_t> tile,
                     double* out, double slowdown, Scratch& s) {
  distances_to_rows(data, q, tile, out);
  waste_time(data, q, tile, slowdown, s);
  s.counters.add_block(tile.size());
  return tile.size();
}

/// The tree search for one query. Returns false when the query must go to the dense phase
/// (its partial answer is discarded); counters are updated either way.
bool search_one(const CoverTree& tree, const QueryRow& q, const Params& pr, Scratch& s) {
  const MetricData& rows = tree.rows;
  QueryCounters& ct = s.counters;
  TopK& topk = s.topk;
  topk.reset(pr.k);
  s.heap.clear();
  const bool pred = pr.predecessor;
  if (pred && tree.subtree_min_id[0] >= q.id) {
    ++ct.pruned_by_predecessor;
    ++ct.subtrees_pruned;
    return true;
  }
  const auto admissible = [&](int64_t id) { return !pred || id < q.id; };
  const auto slack = [&](double du) { return pr.slack_abs + pr.slack_rel * du; };

  // Root.
  s.tile[0] = 0;
  size_t evals = evaluate_tile(rows, q, std::span<const int32_t>(s.tile.data(), 1), s.tile_d.data(),
                               pr.slowdown, s);
  const double d0 = s.tile_d[0];
  if (admissible(rows.ids[0])) {
    if (offer(topk, d0, rows.ids[0])) ++ct.yields;
  } else {
    ++ct.predecessor_filtered;
  }
  if (tree.child_end[0] > tree.child_begin[0]) {
    s.heap.push_back({std::max(0.0, d0 - tree.radius[0]), d0, 0});
  }

  size_t dry_tiles = 0;
  bool finished = true;
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), HeapLater{});
    const HeapEntry e = s.heap.back();
    s.heap.pop_back();
    ++ct.frontier_levels;
    if (e.lb > topk.kth() + slack(e.d)) {
      // Everything still queued has lb >= e.lb: all of it is pruned by its bound.
      ct.pruned_by_radius += 1 + s.heap.size();
      ct.subtrees_pruned += 1 + s.heap.size();
      s.heap.clear();
      break;
    }
    ++ct.frontier_expanded;
    const double du = e.d;
    const double bar = topk.kth() + slack(du);
    size_t ns = 0;
    const int32_t cb = tree.child_begin[static_cast<size_t>(e.node)];
    const int32_t ce = tree.child_end[static_cast<size_t>(e.node)];
    for (int32_t c = cb; c < ce; ++c) {
      const auto cu = static_cast<size_t>(c);
      if (pred && tree.subtree_min_id[cu] >= q.id) {
        ++ct.pruned_by_predecessor;
        ++ct.subtrees_pruned;
        continue;
      }
      const double lbp = std::max(du - tree.parent_max[cu], tree.parent_min[cu] - du);
      if (lbp > bar) {
        ++ct.pruned_by_parent;
        ++ct.subtrees_pruned;
        continue;
      }
      s.tile[ns] = c;
      s.tile_lb[ns] = lbp;
      ++ns;
    }
    if (ns == 0) continue;
    const std::span<const int32_t> tile(s.tile.data(), ns);
    evals += evaluate_tile(rows, q, tile, s.tile_d.data(), pr.slowdown, s);
    bool yielded = false;
    for (size_t i = 0; i < ns; ++i) {
      const auto c = static_cast<size_t>(s.tile[i]);
      const double dc = s.tile_d[i];
      if (admissible(rows.ids[c])) {
        if (offer(topk, dc, rows.ids[c])) {
          ++ct.yields;
          yielded = true;
        }
      } else {
        ++ct.predecessor_filtered;
      }
      if (tree.child_end[c] > tree.child_begin[c]) {
        const double lb = std::max(s.tile_lb[i], dc - tree.radius[c]);
        if (lb > topk.kth() + slack(dc)) {
          ++ct.pruned_by_radius;
          ++ct.subtrees_pruned;
        } else {
          s.heap.push_back({lb, dc, s.tile[i]});
          std::push_heap(s.heap.begin(), s.heap.end(), HeapLater{});
        }
      }
    }
    if (evals > pr.dense_after) {
      finished = false;
      break;
    }
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
  ct.distance_evals += evals;
  return finished;
}

/// Predecessor mode: evaluates every predecessor of q (rows node_of_id[0 .. q.id)) once, into
/// a fresh top-k. Cheaper than the dense phase (all n rows) while q.id is a small part of n.
void scan_predecessors(const CoverTree& tree, const QueryRow& q, const Params& pr, Scratch& s) {
  QueryCounters& ct = s.counters;
  s.topk.reset(pr.k);
  const auto nid = static_cast<size_t>(std::max<int64_t>(0, q.id));
  for (size_t j0 = 0; j0 < nid; j0 += kListTile) {
    const size_t ns = std::min(kListTile, nid - j0);
    for (size_t i = 0; i < ns; ++i) s.tile[i] = tree.node_of_id[j0 + i];
    const std::span<const int32_t> tile(s.tile.data(), ns);
    evaluate_tile(tree.rows, q, tile, s.tile_d.data(), pr.slowdown, s);
    ++ct.frontier_levels;
    for (size_t i = 0; i < ns; ++i)
      if (offer(s.topk, s.tile_d[i], static_cast<int64_t>(j0 + i))) ++ct.yields;
  }
  ct.distance_evals += nid;
}

/// The pivot-list search for one query (see the file comment). Returns false when the query
/// must go to the dense phase; counters are updated either way.
bool search_pivots(const CoverTree& tree, const CoordKdTree& index, const QueryRow& q,
                   const Params& pr, Scratch& s) {
  const MetricData& rows = tree.rows;
  QueryCounters& ct = s.counters;
  TopK& topk = s.topk;
  topk.reset(pr.k);
  const bool pred = pr.predecessor;
  const double slack = pr.slack_abs;  // residual: absolute (see the file comment)
  size_t evals = 0;

  if (pred && q.id <= static_cast<int64_t>(pr.pred_direct)) {
    scan_predecessors(tree, q, pr, s);
    return true;
  }
  const auto admissible = [&](int64_t id) { return !pred || id < q.id; };

  // 1. Candidate pivots, evaluated in one call; the nearest becomes p.
  const size_t nc = index.knnSearch(q.coords, pr.pivot_candidates, s.cand.data(), s.cand_d2.data());
  int32_t* piv = s.piv.data();
  for (size_t i = 0; i < nc; ++i) piv[i] = static_cast<int32_t>(s.cand[i]);
  std::sort(piv, piv + nc);  // the k-d tree's order of equal coordinate distances is its own
  const std::span<const int32_t> ptile(piv, nc);
  evals += evaluate_tile(rows, q, ptile, s.tile_d.data(), pr.slowdown, s);
  ++ct.frontier_levels;
  size_t best = 0;
  for (size_t i = 0; i < nc; ++i) {
    const double d = s.tile_d[i];
    if (d < s.tile_d[best]) best = i;  // ascending node ids: ties keep the lower node
    const int64_t id = rows.ids[static_cast<size_t>(piv[i])];
    if (admissible(id)) {
      if (offer(topk, d, id)) ++ct.yields;
    } else {
      ++ct.predecessor_filtered;
    }
  }
  if (evals > pr.dense_after) {
    ct.distance_evals += evals;
    return false;
  }
  const auto p = static_cast<size_t>(piv[best]);
  const double dq = s.tile_d[best];
  // Evaluated pivots are already offered; their list entries are skipped (no duplicates).
  const auto already = [&](int32_t node) {
    if (static_cast<size_t>(node) >= tree.pivot_count) return false;
    return std::find(piv, piv + nc, node) != piv + nc;
  };

  // 2. Walk the list outward from dq.
  const size_t M = tree.pivot_list_size;
  const int32_t* ln = tree.pivot_nodes.data() + p * M;
  const double* ld = tree.pivot_dists.data() + p * M;
  size_t hi = static_cast<size_t>(std::lower_bound(ld, ld + M, dq) - ld);
  size_t lo = hi;  // entries [0, lo) below, [hi, M) above are still to visit
  bool hi_cut = false;
  size_t dry_tiles = 0;
  ++ct.frontier_expanded;
  for (;;) {
    size_t ns = 0;
    const double bar = topk.kth() + slack;
    while (ns < kListTile) {
      if (lo > 0 && dq - ld[lo - 1] > bar) {
        ct.pruned_by_parent += lo;
        ct.subtrees_pruned += lo;
        lo = 0;
      }
      if (!hi_cut && hi < M && ld[hi] - dq > bar) {
        ct.pruned_by_parent += M - hi;
        ct.subtrees_pruned += M - hi;
        hi_cut = true;
      }
      const bool up = !hi_cut && hi < M;
      if (!up && lo == 0) break;
      int32_t node = 0;
      if (up && (lo == 0 || ld[hi] - dq <= dq - ld[lo - 1])) {
        node = ln[hi++];
      } else {
        node = ln[--lo];
      }
      if (already(node)) continue;
      if (pred && rows.ids[static_cast<size_t>(node)] >= q.id) {
        ++ct.pruned_by_predecessor;
        ++ct.subtrees_pruned;
        continue;
      }
      s.tile[ns++] = node;
    }
    if (ns == 0) break;
    const std::span<const int32_t> tile(s.tile.data(), ns);
    evals += evaluate_tile(rows, q, tile, s.tile_d.data(), pr.slowdown, s);
    ++ct.frontier_levels;
    bool yielded = false;
    for (size_t i = 0; i < ns; ++i)
      if (offer(topk, s.tile_d[i], rows.ids[static_cast<size_t>(s.tile[i])])) {
        ++ct.yields;
        yielded = true;
      }
    if (evals > pr.dense_after) {
      ct.distance_evals += evals;
      return false;
    }
    // APPROXIMATE budgets, as in search_one: only once k candidates are held.
    if (topk.full()) {
      dry_tiles = yielded ? 0 : dry_tiles + 1;
      if ((pr.survivor_cap > 0 && evals >= pr.survivor_cap) ||
          (pr.low_yield_stop > 0 && dry_tiles >= pr.low_yield_stop)) {
        ++ct.caps_applied;
        ct.distance_evals += evals;
        return true;
      }
    }
  }
  ct.distance_evals += evals;
  // 3. Rows outside the list: pruned by the cut, or by pivot_outside when the list ran out.
  if (hi_cut || tree.pivot_outside[p] - dq > topk.kth() + slack) return true;
  if (pred && q.id <= static_cast<int64_t>(pr.pred_fallback_direct)) {
    scan_predecessors(tree, q, pr, s);
    return true;
  }
  return false;
}

/// Rows (of all n) whose quantized distances to the first `nb` bound pivots all lie in their
/// current byte windows: an upper bound on the rows the search can still evaluate.
size_t bound_survivors(const CoverTree& tree, const int32_t* order, size_t nb, const Scratch& s) {
  const size_t n = tree.cluster_rows.n;
  size_t count = 0;
  const uint8_t* q0 = tree.pivot_q8.data() + static_cast<size_t>(order[0]) * n;
  const uint8_t lo0 = s.blo[0], span0 = s.bspan[0];
  if (nb < 2) {
    for (size_t j = 0; j < n; ++j) count += static_cast<uint8_t>(q0[j] - lo0) <= span0;
    return count;
  }
  const uint8_t* q1 = tree.pivot_q8.data() + static_cast<size_t>(order[1]) * n;
  const uint8_t lo1 = s.blo[1], span1 = s.bspan[1];
  for (size_t j = 0; j < n; ++j)
    count +=
        (static_cast<uint8_t>(q0[j] - lo0) <= span0) & (static_cast<uint8_t>(q1[j] - lo1) <= span1);
  return count;
}

/// The cluster search for one query (see the file comment); `dp` holds d(q, pivot p) for the
/// P pivots. Returns false when the query must go to the dense phase.
bool search_clusters(const CoverTree& tree, const QueryRow& q, const double* dp, const Params& pr,
                     Scratch& s) {
  const MetricData& crow = tree.cluster_rows;
  QueryCounters& ct = s.counters;
  TopK& topk = s.topk;
  topk.reset(pr.k);
  const bool pred = pr.predecessor;
  const double slack = pr.slack_abs;  // residual: absolute (see the file comment)
  const size_t P = tree.pivot_count, n = crow.n;
  const int32_t* cb = tree.cluster_begin.data();
  const double* home = tree.cluster_home.data();

  // 1. Pivots (evaluated by the caller for the whole chunk), and their visiting order: a
  // counting sort by bucket of d(q, p), ascending pivot id within a bucket.
  size_t evals = P;
  ct.add_block(P);
  ++ct.frontier_levels;
  std::fill(s.bucket_start.begin(), s.bucket_start.end(), 0u);
  for (size_t p = 0; p < P; ++p) {
    const int64_t id = tree.rows.ids[p];
    if (!pred || id < q.id) {
      if (offer(topk, dp[p], id)) ++ct.yields;
    } else {
      ++ct.predecessor_filtered;
    }
    const auto key = static_cast<uint16_t>(
        std::clamp(dp[p] * static_cast<double>(kClusterBuckets), 0.0, kClusterBuckets - 1.0));
    s.bucket_of[p] = key;
    ++s.bucket_start[key + 1u];
  }
  for (size_t i = 0; i < kClusterBuckets; ++i) s.bucket_start[i + 1] += s.bucket_start[i];
  int32_t* order = s.visit.data();
  for (size_t p = 0; p < P; ++p) order[s.bucket_start[s.bucket_of[p]]++] = static_cast<int32_t>(p);

  // Bound pivots: the (bucket-)nearest ones. For each, the byte window [lo, hi] that a row's
  // quantized d(p, j) must fall in for |d(q, p) - d(p, j)| <= bar, widened by the quantization
  // (q8 = floor(255 d) up to one unit of rounding: d in [(q8 - 1) / 255, (q8 + 2) / 255]).
  const size_t nb = std::min(pr.bound_pivots, P);
  double bar = -1.0;
  const auto set_bar = [&]() {
    const double nbar = topk.kth() + slack;
    if (nbar == bar) return;
    bar = nbar;
    for (size_t t = 0; t < nb; ++t) {
      const double dq = dp[order[t]];
      const double lo = std::ceil((dq - bar) * 255.0) - 3.0;
      const double hi = std::floor((dq + bar) * 255.0) + 2.0;
      s.blo[t] = static_cast<uint8_t>(std::clamp(lo, 0.0, 255.0));
      s.bspan[t] = static_cast<uint8_t>(std::clamp(hi, 0.0, 255.0) - std::clamp(lo, 0.0, 255.0));
    }
  };
  set_bar();

  // 2. Clusters by ascending d(q, pivot).
  size_t next_check = P + kFirstCheck;
  size_t dry_tiles = 0;
  for (size_t v = 0; v < P; ++v) {
    const auto c = static_cast<size_t>(order[v]);
    const auto b = static_cast<size_t>(cb[c]) + 1, e = static_cast<size_t>(cb[c + 1]);
    if (b >= e) continue;  // the pivot alone
    if (pred && tree.cluster_min_id[c] >= q.id) {
      ct.pruned_by_predecessor += e - b;
      ct.subtrees_pruned += e - b;
      continue;
    }
    const double dq = dp[c];
    size_t i = static_cast<size_t>(std::lower_bound(home + b, home + e, dq - bar) - home);
    size_t z = static_cast<size_t>(std::upper_bound(home + i, home + e, dq + bar) - home);
    ct.pruned_by_parent += (i - b) + (e - z);
    ct.subtrees_pruned += (i - b) + (e - z);
    if (i >= z) continue;
    ++ct.frontier_expanded;
    while (i < z) {
      const size_t t = std::min(z, i + kRangeTile), len = t - i;
      // Filter the tile through the bound pivots (branch-free bytes: vectorises).
      uint8_t* ok = s.mask.data();
      std::fill_n(ok, len, uint8_t{1});
      for (size_t bp = 0; bp < nb; ++bp) {
        const uint8_t* q8 = tree.pivot_q8.data() + static_cast<size_t>(order[bp]) * n + i;
        const uint8_t lo = s.blo[bp], span = s.bspan[bp];
        for (size_t r = 0; r < len; ++r)
          ok[r] &= static_cast<uint8_t>(static_cast<uint8_t>(q8[r] - lo) <= span);
      }
      size_t ns = 0, inadmissible = 0;
      for (size_t r = 0; r < len; ++r) {
        if (!ok[r]) continue;
        if (pred && crow.ids[i + r] >= q.id) {
          ++inadmissible;
          continue;
        }
        s.tile[ns++] = static_cast<int32_t>(i + r);
      }
      ct.pruned_by_predecessor += inadmissible;
      ct.pruned_by_parent += len - ns - inadmissible;
      ct.subtrees_pruned += len - ns;
      bool yielded = false;
      if (ns > 0) {
        const std::span<const int32_t> tile(s.tile.data(), ns);
        evals += evaluate_tile(crow, q, tile, s.tile_d.data(), pr.slowdown, s);
        ++ct.frontier_levels;
        for (size_t r = 0; r < ns; ++r)
          if (offer(topk, s.tile_d[r], crow.ids[static_cast<size_t>(s.tile[r])])) {
            ++ct.yields;
            yielded = true;
          }
      }
      i = t;
      if (evals > pr.dense_after) {
        ct.distance_evals += evals;
        return false;
      }
      // Checkpoints: rows the nearest pivots' bounds still admit bound the work left (kth only
      // shrinks); a query with too many goes to the dense phase before wasting evaluations.
      if (evals >= next_check && nb > 0 && pr.dense_after != std::numeric_limits<size_t>::max()) {
        next_check = P + 4 * (next_check - P);
        set_bar();
        const size_t left = bound_survivors(tree, order, std::min<size_t>(nb, 2), s);
        if (left > pr.cluster_dense_rows) {
          ct.distance_evals += evals;
          return false;
        }
      }
      // APPROXIMATE budgets, as in search_one: only once k candidates are held.
      if (topk.full() && ns > 0) {
        dry_tiles = yielded ? 0 : dry_tiles + 1;
        if ((pr.survivor_cap > 0 && evals >= pr.survivor_cap) ||
            (pr.low_yield_stop > 0 && dry_tiles >= pr.low_yield_stop)) {
          ++ct.caps_applied;
          ct.distance_evals += evals;
          return true;
        }
      }
      // kth shrank: tighter bounds, and re-cut the upper end of the window.
      set_bar();
      const auto z2 = static_cast<size_t>(std::upper_bound(home + i, home + z, dq + bar) - home);
      ct.pruned_by_parent += z - z2;
      ct.subtrees_pruned += z - z2;
      z = z2;
    }
  }
  ct.distance_evals += evals;
  return true;
}

/// Dense phase: `qidx` queries (indices into `queries`), kDenseQueries at a time, each block
/// of rows loaded once for all of them.
void dense_phase(const CoverTree& tree, std::span<const QueryRow> queries,
                 const std::vector<size_t>& qidx, const Params& pr, int threads,
                 std::vector<Scratch>& scratch, KnnResult& out) {
  const MetricData& rows = tree.rows;
  const size_t n = rows.n;
  const size_t groups = (qidx.size() + kDenseQueries - 1) / kDenseQueries;
  struct DenseScratch {
    std::vector<TopK> topk{kDenseQueries};
    std::vector<QueryRow> qs;
    std::vector<double> d;
  };
  std::vector<DenseScratch> ds(scratch.size());
  parallel_for(groups, threads, [&](size_t g, int worker) {
    DenseScratch& s = ds[static_cast<size_t>(worker)];
    Scratch& ws = scratch[static_cast<size_t>(worker)];
    const size_t lo = g * kDenseQueries, hi = std::min(qidx.size(), lo + kDenseQueries);
    const size_t nq = hi - lo;
    s.qs.resize(nq);
    s.d.resize(nq * kDenseRows);
    for (size_t i = 0; i < nq; ++i) {
      s.qs[i] = queries[qidx[lo + i]];
      s.topk[i].reset(pr.k);
    }
    for (size_t b = 0; b < n; b += kDenseRows) {
      const size_t e = std::min(n, b + kDenseRows), len = e - b;
      distances_block(rows, s.qs, b, e, s.d.data());
      for (double extra = pr.slowdown - 1.0; extra > 0.0; extra -= 1.0) {
        distances_block(rows, s.qs, b, e, s.d.data());
        ws.sink += s.d[0];
      }
      for (size_t i = 0; i < nq; ++i) {
        const double* di = s.d.data() + i * len;
        TopK& t = s.topk[i];
        const int64_t qid = s.qs[i].id;
        for (size_t j = 0; j < len; ++j) {
          const int64_t id = rows.ids[b + j];
          if (pr.predecessor && id >= qid) continue;
          if (t.full() && di[j] > t.kth()) continue;  // the common case, decided cheaply
          t.push(di[j], id);
        }
        ws.counters.add_block(len);
      }
    }
    for (size_t i = 0; i < nq; ++i) {
      s.topk[i].write(out, qidx[lo + i]);
      ws.counters.distance_evals += n;
      ++ws.counters.dense_fallbacks;
    }
  });
}

}  // namespace

KnnResult tree_knn(const CoverTree& tree, std::span<const QueryRow> queries,
                   const TreeQueryOptions& options, QueryCounters* counters) {
  // Euclidean trees: the specialised box-tree search (tree/euclid_knn.cpp).
  if (tree.euclid) return euclid_knn(*tree.euclid, queries, options, counters);
  KnnResult out;
  out.resize(queries.size(), options.k);
  QueryCounters total;
  total.queries = queries.size();
  const size_t n = tree.size();
  if (options.k == 0 || n == 0 || queries.empty()) {
    if (counters) *counters = total;
    return out;
  }

  Params pr{};
  pr.k = options.k;
  pr.predecessor = options.predecessor;
  pr.survivor_cap = options.survivor_cap;
  pr.low_yield_stop = options.low_yield_stop;
  pr.dense_after =
      options.dense_fallback_evals > 0 ? options.dense_fallback_evals : std::max<size_t>(64, n / 6);
  pr.slowdown = options.inject_slowdown;
  const bool residual = tree.rows.kind == MetricKind::residual;
  pr.slack_abs = options.prune_slack >= 0.0 ? options.prune_slack : (residual ? 1e-4 : 1e-9);
  pr.slack_rel = options.prune_slack >= 0.0 || residual ? 0.0 : 1e-13;

  const bool pivots = residual && options.use_pivot_lists && tree.pivot_count > 0 &&
                      tree.pivot_list_size > 0 && tree.rows.dim > 0 && options.pivot_candidates > 0;
  pr.pivot_candidates = pivots ? std::min(options.pivot_candidates, tree.pivot_count) : 0;
  pr.clusters = residual && options.use_clusters && tree.pivot_count > 0 &&
                tree.cluster_begin.size() == tree.pivot_count + 1;
  pr.bound_pivots = options.cluster_bound_pivots;
  pr.cluster_dense_rows = options.cluster_dense_rows > 0 ? options.cluster_dense_rows : n / 4;
  pr.pred_direct = n / kPredDirectDiv;
  pr.pred_fallback_direct = n / kPredFallbackDiv;
  const CoordCloud cloud{tree.rows.coords.data(), pivots ? tree.pivot_count : 0, tree.rows.dim};
  CoordKdTree index(
      static_cast<int>(std::max<size_t>(1, tree.rows.dim)), cloud,
      nanoflann::KDTreeSingleIndexAdaptorParams(16));  // builds itself; refers to `cloud`

  size_t max_fanout = std::max({kListTile, kRangeTile, pr.pivot_candidates});
  for (size_t u = 0; u < n; ++u)
    max_fanout = std::max<size_t>(max_fanout, tree.child_end[u] - tree.child_begin[u]);

  // Visit queries in tree preorder of their own point (fresh points keep their input order,
  // after the tree points) so consecutive queries touch the same rows while they are cached.
  std::vector<size_t> order(queries.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> key(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const int64_t id = queries[i].id;
    key[i] = id >= 0 && id < static_cast<int64_t>(n)
                 ? tree.preorder_rank[static_cast<size_t>(tree.node_of_id[static_cast<size_t>(id)])]
                 : static_cast<int64_t>(n + i);
  }
  const auto by_key = [&](size_t a, size_t b) {
    return key[a] != key[b] ? key[a] < key[b] : a < b;
  };
  std::sort(order.begin(), order.end(), by_key);

  const int threads = std::max(1, options.threads);
  const size_t tasks = (queries.size() + kQueryChunk - 1) / kQueryChunk;
  std::vector<Scratch> scratch(static_cast<size_t>(std::min<size_t>(threads, tasks)));
  for (Scratch& s : scratch) {
    s.tile.resize(max_fanout);
    s.tile_lb.resize(max_fanout);
    s.tile_d.resize(max_fanout);
    s.heap.reserve(256);
    s.cand.resize(pr.pivot_candidates);
    s.cand_d2.resize(pr.pivot_candidates);
    s.piv.resize(pr.pivot_candidates);
    s.waste.resize(max_fanout);
    if (pr.clusters) {
      s.pd.resize(kQueryChunk * tree.pivot_count);
      s.chunk.resize(kQueryChunk);
      s.visit.resize(tree.pivot_count);
      s.blo.resize(pr.bound_pivots);
      s.bspan.resize(pr.bound_pivots);
      s.mask.resize(kRangeTile);
      s.bucket_of.resize(tree.pivot_count);
      s.bucket_start.resize(kClusterBuckets + 1);
    }
  }
  parallel_for(tasks, threads, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t lo = task * kQueryChunk, hi = std::min(queries.size(), lo + kQueryChunk);
    const size_t P = tree.pivot_count;
    if (pr.clusters) {  // d(query, pivot) for the whole chunk in one GEMM-shaped call
      for (size_t i = lo; i < hi; ++i) s.chunk[i - lo] = queries[order[i]];
      const std::span<const QueryRow> chunk(s.chunk.data(), hi - lo);
      distances_block(tree.rows, chunk, 0, P, s.pd.data());
      for (double extra = pr.slowdown - 1.0; extra > 0.0; extra -= 1.0) {
        distances_block(tree.rows, chunk, 0, P, s.pd.data());
        s.sink += s.pd[0];
      }
    }
    for (size_t i = lo; i < hi; ++i) {
      const size_t qi = order[i];
      bool done = pr.clusters
                      ? search_clusters(tree, queries[qi], s.pd.data() + (i - lo) * P, pr, s)
                  : pivots ? search_pivots(tree, index, queries[qi], pr, s)
                           : search_one(tree, queries[qi], pr, s);
      // With the dense phase disabled, a pivot search that cannot close its bound is
      // finished by the tree search (exact, never abandoned then).
      if (!done && !pr.clusters && pivots && pr.dense_after == std::numeric_limits<size_t>::max())
        done = search_one(tree, queries[qi], pr, s);
      if (done) {
        s.topk.write(out, qi);
      } else {
        s.fallback.push_back(qi);
      }
    }
  });
  std::vector<size_t> fallback;
  for (Scratch& s : scratch) fallback.insert(fallback.end(), s.fallback.begin(), s.fallback.end());
  // Sorted by the locality key, so each dense group holds nearby queries.
  std::sort(fallback.begin(), fallback.end(), by_key);
  if (!fallback.empty()) dense_phase(tree, queries, fallback, pr, threads, scratch, out);

  double sink = 0.0;
  for (Scratch& s : scratch) {
    total += s.counters;
    sink += s.sink;
  }
  total.queries = queries.size();
  g_slowdown_sink = sink;
  if (counters) *counters = total;
  return out;
}

}  // namespace ctb
