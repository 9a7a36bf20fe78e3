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
// Residual trees with pivot lists are answered by the pivot search (pivot_search.cpp, which
// says why); the best-first search above answers Euclidean trees and residual trees built
// without pivot lists. Predecessor queries with few predecessors (id <= n / kPredDirectDiv)
// evaluate all of them directly: the lists hold too few of them to close the bound.
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
#include "tree/euclid_knn.hpp"
#include "tree/pivot_search.hpp"

namespace ctb {
namespace {

constexpr size_t kQueryChunk = 16;  // queries per parallel task
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kListTile = 32;       // list entries per distances_to_rows call
constexpr size_t kPredDirectDiv = 16;  // predecessor queries with id <= n / this: direct scan
// A failed pivot search costs the dense phase ~n block-kernel distances (~20 ns each); a direct
// scan of q.id predecessors costs ~q.id random-row distances (~60-100 ns): cheaper below n / 4.
constexpr size_t kPredFallbackDiv = 4;

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
  PivotSearchScratch pivot;      // the residual pivot search's scratch (and its counters)
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
  size_t pred_direct;           // predecessor queries with id <= this evaluate all predecessors
  size_t pred_fallback_direct;  // ... and so do those failing the pivot search up to this id
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
      if (s.topk.push(s.tile_d[i], static_cast<int64_t>(j0 + i))) ++ct.yields;
  }
  ct.distance_evals += nid;
  ct.dense_evals += nid;
}

/// Dense phase: `qidx` queries (indices into `queries`) in balanced blocks, each block's
/// queries packed once and every chunk of rows loaded once for all of them
/// (distances_block_scan, as the brute force).
void dense_phase(const MetricData& rows, bool ascending_ids, std::span<const QueryRow> queries,
                 const std::vector<size_t>& qidx, const Params& pr, int threads,
                 std::vector<Scratch>& scratch, KnnResult& out) {
  const size_t n = rows.n;
  // A predecessor block over dataset-order rows scans up to its largest id for every query
  // in it: small blocks of id-sorted queries keep that overshoot small, and blocks that do
  // not depend on the thread count keep the counters independent of it.
  const bool by_id = pr.predecessor && ascending_ids;
  const std::vector<size_t> starts =
      balanced_query_blocks(qidx.size(), by_id ? 1 : threads, by_id ? 48 : 192);
  const size_t blocks = starts.size() - 1;
  struct DenseScratch {
    std::vector<TopK> topk;
    std::vector<QueryRow> qs;
    std::vector<double> waste;  // inject_slowdown's repeated distances
  };
  // The first phase may have had fewer workers (fewer query chunks); the dense phase's use
  // only their counters.
  if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
  std::vector<DenseScratch> ds(scratch.size());
  parallel_for(blocks, threads, pr.cancel, [&](size_t blk, int worker) {
    DenseScratch& s = ds[static_cast<size_t>(worker)];
    Scratch& ws = scratch[static_cast<size_t>(worker)];
    const size_t lo = starts[blk], nq = starts[blk + 1] - lo;
    s.qs.resize(nq);
    if (s.topk.size() < nq) s.topk.resize(nq);
    int64_t max_id = 0;
    for (size_t i = 0; i < nq; ++i) {
      s.qs[i] = queries[qidx[lo + i]];
      s.topk[i].reset(pr.k);
      max_id = std::max(max_id, s.qs[i].id);
    }
    // Rows in dataset order: a predecessor block needs only the rows before its largest id.
    const size_t row_end =
        by_id ? std::min(n, static_cast<size_t>(std::max<int64_t>(0, max_id))) : n;
    size_t chunks = 0;
    distances_block_scan(rows, s.qs, 0, row_end,
                         [&](size_t b, size_t e, const double* d, size_t ld) {
                           // One block against every row can take a while at large n.
                           if (++chunks % 256 == 0) throw_if_cancelled(pr.cancel);
                           const size_t len = e - b;
                           for (double extra = pr.slowdown - 1.0; extra > 0.0; extra -= 1.0) {
                             s.waste.resize(nq * len);
                             distances_block(rows, s.qs, b, e, s.waste.data());
                             ws.sink += s.waste[0];
                           }
                           const int64_t* ids = rows.ids.data();
                           for (size_t i = 0; i < nq; ++i) {
                             const double* di = d + i * ld;
                             TopK& t = s.topk[i];
                             const int64_t qid = s.qs[i].id;
                             double kth = t.kth();
                             for (size_t j = 0; j < len; ++j) {
                               if (di[j] > kth) continue;  // the common case, decided cheaply
                               if (pr.predecessor && ids[b + j] >= qid) continue;
                               t.push(di[j], ids[b + j]);
                               kth = t.kth();
                             }
                             ws.counters.add_block(len);
                           }
                         });
    for (size_t i = 0; i < nq; ++i) {
      s.topk[i].write(out, qidx[lo + i]);
      ws.counters.distance_evals += row_end;
      ws.counters.dense_evals += row_end;
      if (pr.per_query_evals) pr.per_query_evals[qidx[lo + i]] += row_end;
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

  const bool residual = tree.rows.kind == MetricKind::residual;
  const bool pivots = residual && options.use_pivot_lists && tree.pivot_lists.count > 0 &&
                      tree.coord_index != nullptr;
  Params pr{};
  pr.k = options.k;
  pr.predecessor = options.predecessor;
  pr.survivor_cap = options.survivor_cap;
  pr.low_yield_stop = options.low_yield_stop;
  // Automatic dense limits: a gathered evaluation costs ~5 block-kernel ones (spec §12), so a
  // pivot search with more than n / 5 survivors is better scanned densely; the best-first
  // search has no such estimate up front and gives up after n / 6 evaluations.
  pr.dense_after = options.dense_fallback_evals > 0 ? options.dense_fallback_evals
                                                    : std::max<size_t>(64, n / (pivots ? 5 : 6));
  pr.slowdown = options.inject_slowdown;
  pr.cancel = options.cancel;
  pr.per_query_evals = options.per_query_evals;
  if (pr.per_query_evals) std::fill_n(pr.per_query_evals, queries.size(), uint64_t{0});
  pr.slack_abs = options.prune_slack >= 0.0 ? options.prune_slack : (residual ? 1e-4 : 1e-9);
  pr.slack_rel = options.prune_slack >= 0.0 || residual ? 0.0 : 1e-13;
  pr.pred_direct = n / kPredDirectDiv;
  pr.pred_fallback_direct = n / kPredFallbackDiv;

  PivotSearchParams pp;
  pp.k = options.k;
  pp.predecessor = options.predecessor;
  pp.seed_rows = options.seed_rows;
  pp.pivot_candidates = options.pivot_candidates;
  pp.bound_pivots = options.bound_pivots;
  pp.dense_after = pr.dense_after;
  pp.slack = pr.slack_abs;
  pp.slowdown = pr.slowdown;
  pp.survivor_cap = options.survivor_cap;
  pp.low_yield_stop = options.low_yield_stop;

  size_t max_fanout = kListTile;
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

  // Dataset-order rows let the dense phase scan only a predecessor group's rows (block kernel):
  // then that beats the direct, gathered scan of a query's predecessors, which is kept only
  // for trees queried without them.
  const MetricData* by_id = options.dataset_rows;
  const bool id_order = pr.predecessor && by_id != nullptr && by_id->n == n &&
                        by_id->ids.size() == n && by_id->ids.front() == 0 &&
                        by_id->ids.back() == static_cast<int64_t>(n - 1) &&
                        std::is_sorted(by_id->ids.begin(), by_id->ids.end());
  if (id_order) pr.pred_fallback_direct = 0;

  const int threads = std::max(1, options.threads);
  const size_t tasks = (queries.size() + kQueryChunk - 1) / kQueryChunk;
  std::vector<Scratch> scratch(static_cast<size_t>(std::min<size_t>(threads, tasks)));
  for (Scratch& s : scratch) {
    s.tile.resize(max_fanout);
    s.tile_lb.resize(max_fanout);
    s.tile_d.resize(max_fanout);
    s.heap.reserve(256);
    s.waste.resize(max_fanout);
    if (pivots) s.pivot.prepare(n);
  }
  parallel_for(tasks, threads, pr.cancel, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t lo = task * kQueryChunk, hi = std::min(queries.size(), lo + kQueryChunk);
    // Answers query qi here, or hands it to the dense phase.
    const auto answer = [&](size_t qi) {
      const QueryRow& q = queries[qi];
      if (!pivots) {
        if (search_one(tree, q, pr, s)) {
          s.topk.write(out, qi);
        } else {
          s.fallback.push_back(qi);
        }
        return;
      }
      if (pr.predecessor && q.id <= static_cast<int64_t>(pr.pred_direct)) {
        if (id_order && pr.dense_after != std::numeric_limits<size_t>::max()) {
          s.fallback.push_back(qi);
          return;
        }
        scan_predecessors(tree, q, pr, s);
        s.topk.write(out, qi);
        return;
      }
      if (pivot_search(tree, q, pp, s.pivot) == PivotSearchResult::exact) {
        s.pivot.topk.write(out, qi);
      } else if (pr.predecessor && !id_order &&
                 q.id <= static_cast<int64_t>(pr.pred_fallback_direct)) {
        scan_predecessors(tree, q, pr, s);
        s.topk.write(out, qi);
      } else if (pr.dense_after == std::numeric_limits<size_t>::max() &&
                 search_one(tree, q, pr, s)) {
        // With the dense phase disabled, the best-first search finishes the query (exact).
        s.topk.write(out, qi);
      } else {
        s.fallback.push_back(qi);
      }
    };
    for (size_t i = lo; i < hi; ++i) {
      const size_t qi = order[i];
      const uint64_t before = s.counters.distance_evals + s.pivot.counters.distance_evals;
      answer(qi);
      // Each query's own evaluations (its dense scan, if any, adds to it there).
      if (pr.per_query_evals)
        pr.per_query_evals[qi] =
            s.counters.distance_evals + s.pivot.counters.distance_evals - before;
    }
  });
  std::vector<size_t> fallback;
  for (Scratch& s : scratch) fallback.insert(fallback.end(), s.fallback.begin(), s.fallback.end());
  // Predecessor queries over dataset-order rows: sorted by id, so each group's rows end early.
  // Otherwise sorted by the locality key, so each dense group holds nearby queries.
  if (id_order) {
    std::sort(fallback.begin(), fallback.end(), [&](size_t a, size_t b) {
      return queries[a].id != queries[b].id ? queries[a].id < queries[b].id : a < b;
    });
  } else {
    std::sort(fallback.begin(), fallback.end(), by_key);
  }
  if (!fallback.empty())
    dense_phase(id_order ? *by_id : tree.rows, id_order, queries, fallback, pr, threads, scratch,
                out);

  double sink = 0.0;
  for (Scratch& s : scratch) {
    total += s.counters;
    total += s.pivot.counters;
    sink += s.sink + s.pivot.sink;
  }
  total.queries = queries.size();
  // Keeps the repeated (discarded) distance work of inject_slowdown observable; per call, so
  // two threads querying one tree share nothing.
  [[maybe_unused]] volatile double slowdown_sink = sink;
  if (counters) *counters = total;
  return out;
}

}  // namespace ctb
