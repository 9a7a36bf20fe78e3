// Tree invariants, checked from the arrays alone (not trusting the build's bookkeeping), with
// the same distance kernel the search uses, so a bound that holds here holds in the search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "audit/checks.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "fmt/format.h"
#include "metric/distance_kernels.hpp"
#include "scenario/scenario.hpp"
#include "tree/cover_tree.hpp"
#include "tree/euclid_knn.hpp"
#include "tree/tree_knn.hpp"

namespace ctb::audit {
namespace {

// Radii and parent bounds are maxima/minima of kernel distances; we recompute the same
// distances, so they agree to rounding at most. Far below the search's pruning slack (1e-9).
constexpr double kBoundTolerance = 1e-12;

Check make(std::string name, bool ok, std::string detail) {
  return Check{std::move(name), ok ? Verdict::pass : Verdict::fail, std::move(detail)};
}

// Keeps the first message and counts the rest.
struct Problems {
  size_t count = 0;
  std::string first;
  void add(std::string message) {
    if (count++ == 0) first = std::move(message);
  }
  std::string summary(const std::string& ok_text) const {
    if (count == 0) return ok_text;
    return fmt::format("{} violation{}; first: {}", count, count == 1 ? "" : "s", first);
  }
  void merge(const Problems& o) {
    if (count == 0 && o.count > 0) first = o.first;
    count += o.count;
  }
};

// Per-worker accumulators of the ancestor pass.
struct BoundStats {
  uint64_t pairs = 0;
  double max_radius_excess = -std::numeric_limits<double>::infinity();
  double max_parent_dist_error = 0.0;
  double max_parent_bound_excess = -std::numeric_limits<double>::infinity();
  Problems radius;
  Problems parent_dist;
  Problems parent_bounds;
};

}  // namespace

std::vector<Check> check_tree(const CoverTree& t, int threads) {
  std::vector<Check> checks;
  const size_t n = t.level.size();

  // --- structure: array sizes, the id <-> node permutation, child ranges, parent order.
  Problems structure;
  auto sized = [&](size_t size, const char* what) {
    if (size != n) structure.add(fmt::format("{} has {} entries for {} nodes", what, size, n));
  };
  sized(t.parent.size(), "parent");
  sized(t.child_begin.size(), "child_begin");
  sized(t.child_end.size(), "child_end");
  sized(t.radius.size(), "radius");
  sized(t.parent_dist.size(), "parent_dist");
  sized(t.parent_min.size(), "parent_min");
  sized(t.parent_max.size(), "parent_max");
  sized(t.subtree_min_id.size(), "subtree_min_id");
  sized(t.node_of_id.size(), "node_of_id");
  sized(t.rows.n, "rows");
  sized(t.rows.ids.size(), "rows.ids");
  if (n == 0) structure.add("the tree has no nodes");
  if (structure.count > 0) {
    // Nothing else can be checked safely on inconsistent arrays.
    checks.push_back(make("tree.structure", false, structure.summary("")));
    return checks;
  }
  const auto nn = static_cast<int64_t>(n);
  for (size_t id = 0; id < n; ++id) {
    const int32_t node = t.node_of_id[id];
    if (node < 0 || node >= nn) {
      structure.add(fmt::format("node_of_id[{}] = {} outside [0, {})", id, node, n));
    } else if (t.rows.ids[static_cast<size_t>(node)] != static_cast<int64_t>(id)) {
      structure.add(fmt::format("node_of_id[{}] = {} but that node holds dataset id {}", id, node,
                                t.rows.ids[static_cast<size_t>(node)]));
    }
  }
  size_t child_total = 0;
  for (size_t u = 0; u < n; ++u) {
    const int32_t b = t.child_begin[u];
    const int32_t e = t.child_end[u];
    if (b < 0 || e < b || e > nn) {
      structure.add(fmt::format("node {}: child range [{}, {}) invalid", u, b, e));
      continue;
    }
    child_total += static_cast<size_t>(e - b);
    for (int32_t c = b; c < e; ++c) {
      if (t.parent[static_cast<size_t>(c)] != static_cast<int32_t>(u)) {
        structure.add(fmt::format("node {} lies in node {}'s child range but its parent is {}", c,
                                  u, t.parent[static_cast<size_t>(c)]));
      }
    }
  }
  for (size_t u = 1; u < n; ++u) {
    // Breadth-first node order puts every parent before its children; that alone rules out
    // cycles and makes every node reachable from the root.
    const int32_t p = t.parent[u];
    if (p < 0 || static_cast<size_t>(p) >= u) {
      structure.add(fmt::format("node {}: parent {} does not precede it", u, p));
    }
  }
  if (child_total != n - 1) {
    structure.add(fmt::format("child ranges cover {} nodes, expected {}", child_total, n - 1));
  }
  const bool structure_ok = structure.count == 0;
  checks.push_back(make(
      "tree.structure", structure_ok,
      structure.summary(fmt::format("{} nodes; node <-> dataset id a permutation; child ranges "
                                    "partition the non-root nodes; parents precede children",
                                    n))));

  // --- one root.
  size_t roots = 0;
  for (size_t u = 0; u < n; ++u) roots += t.parent[u] == -1 ? 1 : 0;
  checks.push_back(make(
      "tree.root", roots == 1 && t.parent[0] == -1,
      roots == 1 && t.parent[0] == -1
          ? fmt::format("one root (node 0, dataset id {}, level {})", t.rows.ids[0], t.level[0])
          : fmt::format("{} nodes without a parent; node 0's parent is {}", roots, t.parent[0])));
  if (!structure_ok) return checks;  // the walks below rely on valid parents

  // --- levels strictly decrease from parent to child.
  Problems levels;
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  for (size_t u = 0; u < n; ++u) {
    lo = std::min(lo, t.level[u]);
    hi = std::max(hi, t.level[u]);
    if (u > 0 && !(t.level[u] < t.level[static_cast<size_t>(t.parent[u])])) {
      levels.add(fmt::format("node {} at level {} under node {} at level {}", u, t.level[u],
                             t.parent[u], t.level[static_cast<size_t>(t.parent[u])]));
    }
  }
  checks.push_back(make("tree.levels", levels.count == 0,
                        levels.summary(fmt::format("children below their parents; levels {}..{}, "
                                                   "depth {}",
                                                   lo, hi, t.depth()))));

  // --- subtree minimum ids, bottom-up (children come after parents in node order).
  std::vector<int64_t> min_id(t.rows.ids.begin(), t.rows.ids.end());
  for (size_t u = n; u-- > 1;) {
    const auto p = static_cast<size_t>(t.parent[u]);
    min_id[p] = std::min(min_id[p], min_id[u]);
  }
  Problems minima;
  for (size_t u = 0; u < n; ++u) {
    if (min_id[u] != t.subtree_min_id[u]) {
      minima.add(fmt::format("node {}: subtree_min_id {} but the smallest id below it is {}", u,
                             t.subtree_min_id[u], min_id[u]));
    }
  }
  checks.push_back(make("tree.subtree_min_id", minima.count == 0,
                        minima.summary(fmt::format("all {} match the ids in each subtree", n))));

  // --- radii and parent bounds: every (node, ancestor) pair, distances by the search kernel.
  const int workers = std::max(1, threads);
  std::vector<BoundStats> stats(static_cast<size_t>(workers));
  constexpr size_t kChunk = 256;
  parallel_for((n + kChunk - 1) / kChunk, workers, [&](size_t chunk, int worker) {
    BoundStats& s = stats[static_cast<size_t>(worker)];
    std::vector<int32_t> ancestors;
    std::vector<double> dist;
    const size_t end = std::min(n, (chunk + 1) * kChunk);
    for (size_t j = chunk * kChunk; j < end; ++j) {
      ancestors.clear();
      for (int32_t a = t.parent[j]; a >= 0; a = t.parent[static_cast<size_t>(a)]) {
        ancestors.push_back(a);
      }
      if (ancestors.empty()) continue;
      dist.resize(ancestors.size());
      distances_to_rows(t.rows, query_row(t.rows, j), ancestors, dist.data());
      s.pairs += ancestors.size();
      size_t c = j;  // j lies in subtree(c), and ancestors[i] is c's parent
      for (size_t i = 0; i < ancestors.size(); ++i) {
        const auto a = static_cast<size_t>(ancestors[i]);
        const double d = dist[i];
        const double excess = d - t.radius[a];
        s.max_radius_excess = std::max(s.max_radius_excess, excess);
        if (!(excess <= kBoundTolerance)) {
          s.radius.add(
              fmt::format("node {} is at distance {:.17g} from its ancestor {} whose "
                          "radius is {:.17g}",
                          j, d, a, t.radius[a]));
        }
        if (i == 0) {
          const double err = std::fabs(t.parent_dist[j] - d);
          s.max_parent_dist_error = std::max(s.max_parent_dist_error, err);
          if (!(err <= kBoundTolerance)) {
            s.parent_dist.add(fmt::format("node {}: parent_dist {:.17g}, recomputed {:.17g}", j,
                                          t.parent_dist[j], d));
          }
        }
        const double below = t.parent_min[c] - d;
        const double above = d - t.parent_max[c];
        s.max_parent_bound_excess = std::max({s.max_parent_bound_excess, below, above});
        if (!(below <= kBoundTolerance && above <= kBoundTolerance)) {
          s.parent_bounds.add(
              fmt::format("node {} (in the subtree of {}) is at distance {:.17g} from {}, outside "
                          "[parent_min, parent_max] = [{:.17g}, {:.17g}]",
                          j, c, d, a, t.parent_min[c], t.parent_max[c]));
        }
        c = a;
      }
    }
  });
  BoundStats all;
  for (const BoundStats& s : stats) {
    all.pairs += s.pairs;
    all.max_radius_excess = std::max(all.max_radius_excess, s.max_radius_excess);
    all.max_parent_dist_error = std::max(all.max_parent_dist_error, s.max_parent_dist_error);
    all.max_parent_bound_excess = std::max(all.max_parent_bound_excess, s.max_parent_bound_excess);
    all.radius.merge(s.radius);
    all.parent_dist.merge(s.parent_dist);
    all.parent_bounds.merge(s.parent_bounds);
  }
  const double radius_excess = all.pairs == 0 ? 0.0 : all.max_radius_excess;
  checks.push_back(make(
      "tree.radii", all.radius.count == 0,
      all.radius.summary(fmt::format("radius bounds every descendant: {} (ancestor, node) pairs, "
                                     "max d - radius = {:.3g} (tolerance {:.0e})",
                                     all.pairs, radius_excess, kBoundTolerance))));
  Problems bounds = all.parent_dist;
  bounds.merge(all.parent_bounds);
  checks.push_back(make(
      "tree.parent_bounds", bounds.count == 0,
      bounds.summary(fmt::format("parent_dist exact to {:.3g}; subtree distances to the parent "
                                 "within [parent_min, parent_max] (max excess {:.3g})",
                                 all.max_parent_dist_error,
                                 all.pairs == 0 ? 0.0 : all.max_parent_bound_excess))));
  return checks;
}

Check check_pivot_lists(const CoverTree& t, size_t samples, int threads) {
  const PivotLists& L = t.pivot_lists;
  const size_t n = t.size(), P = L.count, M = L.list_size;
  Problems shape;
  if (P == 0) shape.add("the tree has no pivot lists");
  if (L.pivot_node.size() != P || L.nodes.size() != P * M || L.dists.size() != P * M ||
      L.outside.size() != P) {
    shape.add(
        fmt::format("arrays sized pivot_node {}, nodes {}, dists {}, outside {} for {} "
                    "pivots x {} entries",
                    L.pivot_node.size(), L.nodes.size(), L.dists.size(), L.outside.size(), P, M));
  }
  if (M == 0 || M > n) shape.add(fmt::format("list size {} outside [1, {}]", M, n));
  if (shape.count > 0) return make("index.pivot_lists", false, shape.summary(""));

  // Rows whose distance to each sampled pivot is evaluated for the outside bound.
  constexpr size_t kMaxRows = 65536;
  std::vector<int32_t> rows;
  const size_t row_count = std::min(n, kMaxRows);
  rows.reserve(row_count);
  for (size_t i = 0; i < row_count; ++i) rows.push_back(static_cast<int32_t>(i * n / row_count));
  const size_t S = std::min(std::max<size_t>(samples, 1), P);
  const int workers = std::max(1, threads);
  struct Stats {
    Problems sorted, exact, outside;
    double max_error = 0.0;
    uint64_t entries = 0, outside_rows = 0;
  };
  std::vector<Stats> stats(static_cast<size_t>(workers));
  parallel_for(S, workers, [&](size_t s, int worker) {
    Stats& st = stats[static_cast<size_t>(worker)];
    const size_t p = S == 1 ? 0 : s * (P - 1) / (S - 1);
    const int32_t pivot = L.pivot_node[p];
    if (pivot < 0 || static_cast<size_t>(pivot) >= n) {
      st.sorted.add(fmt::format("pivot {}: node {} outside [0, {})", p, pivot, n));
      return;
    }
    const int32_t* nodes = L.nodes.data() + p * M;
    const double* dists = L.dists.data() + p * M;
    std::vector<char> listed(n, 0);
    bool nodes_ok = true;
    for (size_t i = 0; i < M; ++i) {
      if (nodes[i] < 0 || static_cast<size_t>(nodes[i]) >= n) {
        st.sorted.add(
            fmt::format("pivot {}: entry {} holds node {} outside [0, {})", p, i, nodes[i], n));
        nodes_ok = false;
        break;
      }
      if (listed[static_cast<size_t>(nodes[i])]++ > 0) {
        st.sorted.add(fmt::format("pivot {}: node {} listed twice", p, nodes[i]));
      }
      if (i > 0 &&
          !(dists[i - 1] < dists[i] || (dists[i - 1] == dists[i] && nodes[i - 1] < nodes[i]))) {
        st.sorted.add(
            fmt::format("pivot {}: entry {} (d {:.17g}, node {}) after (d {:.17g}, "
                        "node {}): not sorted by (distance, node)",
                        p, i, dists[i], nodes[i], dists[i - 1], nodes[i - 1]));
      }
    }
    if (!nodes_ok) return;
    const QueryRow q = query_row(t.rows, static_cast<size_t>(pivot));
    std::vector<double> fresh(M);
    distances_to_rows(t.rows, q, std::span<const int32_t>(nodes, M), fresh.data());
    st.entries += M;
    for (size_t i = 0; i < M; ++i) {
      const double err = std::fabs(fresh[i] - dists[i]);
      st.max_error = std::max(st.max_error, std::isnan(err) ? INFINITY : err);
      if (!(err <= kIndexTolerance)) {
        st.exact.add(
            fmt::format("pivot {} (node {}): entry {} (node {}) stores {:.17g}, a fresh "
                        "evaluation gives {:.17g}",
                        p, pivot, i, nodes[i], dists[i], fresh[i]));
      }
    }
    const double out = L.outside[p];
    if (!(out >= dists[M - 1] - kIndexTolerance)) {
      st.outside.add(
          fmt::format("pivot {}: outside bound {:.17g} below the list's last "
                      "distance {:.17g}",
                      p, out, dists[M - 1]));
    }
    std::vector<double> d(rows.size());
    distances_to_rows(t.rows, q, rows, d.data());
    for (size_t r = 0; r < rows.size(); ++r) {
      if (listed[static_cast<size_t>(rows[r])]) continue;
      ++st.outside_rows;
      if (!(d[r] >= out - kIndexTolerance)) {
        st.outside.add(
            fmt::format("pivot {} (node {}): node {} is not in the list but at "
                        "distance {:.17g} < outside bound {:.17g}",
                        p, pivot, rows[r], d[r], out));
      }
    }
  });
  Stats all;
  for (const Stats& st : stats) {
    all.sorted.merge(st.sorted);
    all.exact.merge(st.exact);
    all.outside.merge(st.outside);
    all.max_error = std::max(all.max_error, st.max_error);
    all.entries += st.entries;
    all.outside_rows += st.outside_rows;
  }
  Problems problems = all.sorted;
  problems.merge(all.exact);
  problems.merge(all.outside);
  return make("index.pivot_lists", problems.count == 0,
              problems.summary(fmt::format(
                  "{} of {} pivots sampled ({} entries each): sorted by (distance, node); stored "
                  "distances equal a fresh evaluation (max |error| {:.3g}, tolerance {:.0e}); the "
                  "outside bound holds for {} unlisted (pivot, row) pairs",
                  S, P, M, all.max_error, kIndexTolerance, all.outside_rows)));
}

TreeRun run_tree(const MetricData& data, const TreeBuildParams& params,
                 std::span<const QueryRow> queries, const TreeQueryKnobs& query) {
  TreeRun run;
  run.engine = resolve_engine(params.engine, data.kind);
  if (run.engine == Engine::brute) {
    throw InputError(
        "engine 'brute': audit checks the index that answers, and the brute force has none");
  }
  int64_t depth = 0;
  const TreeEnginePtr engine =
      build_index_engine(data, run.engine, params.spec, params.threads, nullptr, &depth);
  run.depth = static_cast<int32_t>(depth);
  const CoverTree& tree = tree_engine_tree(*engine);

  // `run`'s query path (query_tree_engine: dataset-order rows for predecessor scans).
  TreeQueryKnobs knobs = query;
  knobs.threads = params.threads;
  run.answer = query_tree_engine(*engine, queries, knobs, nullptr);
  // The dense fallback answers hard queries by a scan; without it every answer is the index's.
  knobs.dense_fallback_evals = std::numeric_limits<size_t>::max();
  run.answer_no_fallback = query_tree_engine(*engine, queries, knobs, nullptr);

  if (run.engine == Engine::pivot) {
    run.checks.push_back(check_pivot_lists(tree, params.index_samples, params.threads));
  }
  if (run.engine == Engine::box) {
    const std::vector<std::string> messages =
        tree.euclid ? check_euclid_index(*tree.euclid, data)
                    : std::vector<std::string>{"the engine holds no box index"};
    run.checks.push_back(
        make("index.box", messages.empty(),
             messages.empty()
                 ? fmt::format("check_euclid_index: every point in one leaf, tight boxes, children "
                               "partition their parent, min ids correct ({} nodes, depth {})",
                               tree.euclid->nodes(), tree.euclid->depth)
                 : fmt::format("check_euclid_index reports {}{} problem{}; first: {}",
                               messages.size() >= 50 ? "at least " : "", messages.size(),
                               messages.size() == 1 ? "" : "s", messages.front())));
  }
  if (tree.size() == 0) return run;  // no cover tree was built (the box engine)

  std::vector<Check> tree_checks = check_tree(tree, params.threads);
  const std::vector<std::string> messages = check_tree_invariants(tree);
  tree_checks.push_back(make(
      "tree.module_invariants", messages.empty(),
      messages.empty()
          ? std::string("check_tree_invariants (the tree module's own checker) reports nothing")
          : fmt::format("check_tree_invariants reports {}{} problem{}; first: {}",
                        messages.size() >= 50 ? "at least " : "", messages.size(),
                        messages.size() == 1 ? "" : "s", messages.front())));
  if (run.engine == Engine::cover_tree) {
    // The cover tree answers: its invariants are the bounds its search prunes with.
    size_t failed = 0;
    for (const Check& c : tree_checks) failed += c.verdict == Verdict::fail ? 1 : 0;
    run.checks.push_back(make("index.cover_tree", failed == 0,
                              fmt::format("{} of {} tree.* invariant checks (radii, parent "
                                          "bounds, levels, structure) fail",
                                          failed, tree_checks.size())));
  }
  for (Check& c : tree_checks) run.checks.push_back(std::move(c));
  return run;
}

}  // namespace ctb::audit
