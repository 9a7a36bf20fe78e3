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
// Two EXACT heuristics (query.child_order, query.frontier_block) change only the order of the
// work and the size of the evaluated tiles, never a prune's condition: every skip still needs
// bound > k-th distance + slack at the time, and the k-th distance only falls, so a subtree is
// skipped only when the plain search would skip it too or it cannot hold an answer.
//  - frontier_block = B: one step pops up to B queued nodes (while their lb still passes) and
//    evaluates all their surviving children as one tile (fewer, larger kernel calls);
//  - child_order = bound: a step's survivors are sorted by their parent-pivot bound and
//    evaluated kBoundTile at a time, the rest re-checked against the k-th distance the nearer
//    ones have just tightened (fewer evaluations for more kernel calls).
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
// This is the `cover-tree` engine (both metrics). The default residual engine is the pivot
// index (hilbert_search.cpp); the engine-v2 pivot lists with the chord triangle bound, which
// this file used to dispatch to, were deleted when the Hilbert-embedding bound replaced them
// (gold32k 7,611 -> 932 evaluations per query, 1M 429,855 -> 182; README's performance table).
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
#include "search/brute_force.hpp"
#include "tree/dense_scan.hpp"
#include "tree/euclid_knn.hpp"
#include "tree/evaluate.hpp"

namespace ctb {
namespace {

constexpr size_t kQueryChunk = 16;  // queries per parallel task
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kMinTile = 32;  // scratch tiles hold at least this many nodes
// child_order = bound evaluates survivors this many at a time: small enough that the k-th
// distance tightens between sub-tiles, large enough that a kernel call amortises its row loads.
constexpr size_t kBoundTile = 16;

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
  std::vector<double> tile_lb, tile_d, tile_du, waste;  // per tile entry: bound, d(q,c), d(q,u)
  std::vector<size_t> perm;                             // child_order = bound: the sorted order
  std::vector<int32_t> tmp_tile;
  std::vector<double> tmp_lb, tmp_du;
  std::vector<size_t> fallback;  // query indices this worker handed to the dense phase
  QueryCounters counters;
  double sink = 0.0;
};

struct Params {
  size_t k;
  bool predecessor;
  size_t survivor_cap;
  size_t low_yield_stop;
  bool bound_order;       // child_order = bound
  size_t frontier_block;  // >= 1
  size_t dense_after;
  double slowdown;
  double slack_abs;
  double slack_rel;
  const CancelToken* cancel;
  uint64_t* per_query_evals;  // each query's evaluations, or nullptr
};

/// Every evaluation of the best-first search goes through here (see evaluate_nodes).
size_t evaluate_tile(const MetricData& data, const QueryRow& q, std::span<const int32_t> tile,
                     double* out, double slowdown, Scratch& s) {
  evaluate_nodes(data, q, tile.data(), tile.size(), out, slowdown, s.waste, s.sink, s.counters);
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
    if (topk.push(d0, rows.ids[0])) ++ct.yields;
  } else {
    ++ct.predecessor_filtered;
  }
  if (tree.child_end[0] > tree.child_begin[0]) {
    s.heap.push_back({std::max(0.0, d0 - tree.radius[0]), d0, 0});
  }

  size_t dry_steps = 0;
  bool finished = true;
  const auto grow = [&](size_t size) {
    if (s.tile.size() >= size) return;
    s.tile.resize(size);
    s.tile_lb.resize(size);
    s.tile_d.resize(size);
    s.tile_du.resize(size);
  };
  while (!s.heap.empty()) {
    // Gather: up to frontier_block queued nodes whose bound still passes, and the children of
    // each that survive the predecessor and parent-pivot tests.
    size_t ns = 0;
    size_t expanded = 0;
    while (expanded < pr.frontier_block && !s.heap.empty()) {
      const HeapEntry& top = s.heap.front();
      if (top.lb > topk.kth() + slack(top.d)) {
        if (expanded == 0) {
          // Everything still queued has lb >= top.lb: all of it is pruned by its bound.
          ++ct.frontier_levels;
          ct.pruned_by_radius += s.heap.size();
          ct.subtrees_pruned += s.heap.size();
          s.heap.clear();
        }
        break;  // else: evaluate what was gathered; the next step re-tests this entry
      }
      std::pop_heap(s.heap.begin(), s.heap.end(), HeapLater{});
      const HeapEntry e = s.heap.back();
      s.heap.pop_back();
      ++ct.frontier_levels;
      ++ct.frontier_expanded;
      ++expanded;
      const double du = e.d;
      const double bar = topk.kth() + slack(du);
      const int32_t cb = tree.child_begin[static_cast<size_t>(e.node)];
      const int32_t ce = tree.child_end[static_cast<size_t>(e.node)];
      grow(ns + static_cast<size_t>(ce - cb));
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
        s.tile_du[ns] = du;
        ++ns;
      }
    }
    if (ns == 0) continue;
    if (pr.bound_order && ns > 1) {
      s.perm.resize(ns);
      std::iota(s.perm.begin(), s.perm.end(), size_t{0});
      std::sort(s.perm.begin(), s.perm.end(), [&](size_t a, size_t b) {
        return s.tile_lb[a] != s.tile_lb[b] ? s.tile_lb[a] < s.tile_lb[b] : s.tile[a] < s.tile[b];
      });
      s.tmp_tile.assign(s.tile.begin(), s.tile.begin() + static_cast<long>(ns));
      s.tmp_lb.assign(s.tile_lb.begin(), s.tile_lb.begin() + static_cast<long>(ns));
      s.tmp_du.assign(s.tile_du.begin(), s.tile_du.begin() + static_cast<long>(ns));
      for (size_t i = 0; i < ns; ++i) {
        s.tile[i] = s.tmp_tile[s.perm[i]];
        s.tile_lb[i] = s.tmp_lb[s.perm[i]];
        s.tile_du[i] = s.tmp_du[s.perm[i]];
      }
    }
    const size_t sub = pr.bound_order ? kBoundTile : ns;
    bool yielded = false;
    for (size_t start = 0; start < ns;) {
      if (start > 0) {
        // Re-test the rest against the k-th distance the evaluated sub-tiles tightened.
        size_t kept = start;
        for (size_t i = start; i < ns; ++i) {
          if (s.tile_lb[i] > topk.kth() + slack(s.tile_du[i])) {
            ++ct.pruned_by_parent;
            ++ct.subtrees_pruned;
            continue;
          }
          s.tile[kept] = s.tile[i];
          s.tile_lb[kept] = s.tile_lb[i];
          s.tile_du[kept] = s.tile_du[i];
          ++kept;
        }
        ns = kept;
        if (start >= ns) break;
      }
      const size_t len = std::min(sub, ns - start);
      evals += evaluate_tile(rows, q, std::span<const int32_t>(s.tile.data() + start, len),
                             s.tile_d.data() + start, pr.slowdown, s);
      for (size_t i = start; i < start + len; ++i) {
        const auto c = static_cast<size_t>(s.tile[i]);
        const double dc = s.tile_d[i];
        if (admissible(rows.ids[c])) {
          if (topk.push(dc, rows.ids[c])) {
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
      start += len;
    }
    if (evals > pr.dense_after) {
      finished = false;
      break;
    }
    // APPROXIMATE budgets: only once k candidates are held (the k-safe guard: a stopped query
    // still returns k answers), so answers stay full; recall is what they cost.
    if (topk.full()) {
      dry_steps = yielded ? 0 : dry_steps + 1;
      if ((pr.survivor_cap > 0 && evals >= pr.survivor_cap) ||
          (pr.low_yield_stop > 0 && dry_steps >= pr.low_yield_stop)) {
        ++ct.caps_applied;
        break;
      }
    }
  }
  ct.distance_evals += evals;
  return finished;
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

  const bool residual = tree.rows.kind == MetricKind::residual;
  Params pr{};
  pr.k = options.k;
  pr.predecessor = options.predecessor;
  pr.survivor_cap = options.survivor_cap;
  pr.low_yield_stop = options.low_yield_stop;
  pr.bound_order = options.child_order == ChildOrder::bound;
  pr.frontier_block = std::max<size_t>(1, options.frontier_block);
  // Automatic dense limit: the best-first search has no estimate up front and gives up after
  // n / 6 evaluations (a gathered evaluation costs ~5 block-kernel ones, spec §12).
  pr.dense_after =
      options.dense_fallback_evals > 0 ? options.dense_fallback_evals : std::max<size_t>(64, n / 6);
  pr.slowdown = options.inject_slowdown;
  pr.cancel = options.cancel;
  pr.per_query_evals = options.per_query_evals;
  if (pr.per_query_evals) std::fill_n(pr.per_query_evals, queries.size(), uint64_t{0});
  pr.slack_abs = options.prune_slack >= 0.0 ? options.prune_slack : (residual ? 1e-4 : 1e-9);
  pr.slack_rel = options.prune_slack >= 0.0 || residual ? 0.0 : 1e-13;

  size_t max_fanout = kMinTile;
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
    s.tile_du.resize(max_fanout);
    s.heap.reserve(256);
    s.waste.resize(max_fanout);
  }
  parallel_for(tasks, threads, pr.cancel, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t lo = task * kQueryChunk, hi = std::min(queries.size(), lo + kQueryChunk);
    for (size_t i = lo; i < hi; ++i) {
      const size_t qi = order[i];
      const uint64_t before = s.counters.distance_evals;
      if (search_one(tree, queries[qi], pr, s)) {
        s.topk.write(out, qi);
      } else {
        s.fallback.push_back(qi);
      }
      // Each query's own evaluations (its dense scan, if any, adds to it there).
      if (pr.per_query_evals) pr.per_query_evals[qi] = s.counters.distance_evals - before;
    }
  });
  std::vector<size_t> fallback;
  for (Scratch& s : scratch) fallback.insert(fallback.end(), s.fallback.begin(), s.fallback.end());
  std::sort(fallback.begin(), fallback.end(), by_key);  // nearby queries share a dense block

  // Dataset-order rows let a predecessor block's scan end at its largest id.
  const MetricData* by_id = options.dataset_rows;
  const bool id_order = by_id != nullptr && by_id->n == n && by_id->ids.size() == n &&
                        by_id->ids.front() == 0 &&
                        by_id->ids.back() == static_cast<int64_t>(n - 1) &&
                        std::is_sorted(by_id->ids.begin(), by_id->ids.end());
  if (!fallback.empty()) {
    DenseScanOptions ds;
    ds.k = pr.k;
    ds.predecessor = pr.predecessor;
    ds.ascending_ids = id_order;
    ds.threads = threads;
    ds.inject_slowdown = pr.slowdown;
    ds.cancel = pr.cancel;
    ds.per_query_evals = pr.per_query_evals;
    dense_scan(id_order ? *by_id : tree.rows, queries, fallback, ds, total, out);
  }

  double sink = 0.0;
  for (Scratch& s : scratch) {
    total += s.counters;
    sink += s.sink;
  }
  total.queries = queries.size();
  // Keeps the repeated (discarded) distance work of inject_slowdown observable; per call, so
  // two threads querying one tree share nothing.
  [[maybe_unused]] volatile double slowdown_sink = sink;
  if (counters) *counters = total;
  return out;
}

}  // namespace ctb
