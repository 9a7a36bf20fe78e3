// Tree invariants, checked from the arrays alone (not trusting the build's bookkeeping), with
// the same distance kernel the search uses, so a bound that holds here holds in the search.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "audit/checks.hpp"
#include "core/parallel.hpp"
#include "fmt/format.h"
#include "metric/distance_kernels.hpp"
#include "tree/cover_tree.hpp"
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

TreeRun run_tree(const MetricData& data, const TreeBuildParams& params,
                 std::span<const QueryRow> queries, const TreeQueryKnobs& query) {
  const CoverTree tree = build_cover_tree(data, tree_build_options(params.spec, params.threads));

  TreeRun run;
  run.depth = tree.depth();
  TreeQueryOptions knobs = tree_query_options(query);
  knobs.threads = params.threads;
  run.answer = tree_knn(tree, queries, knobs);
  // The dense fallback answers hard queries by a scan; without it every answer is the tree's.
  knobs.dense_fallback_evals = std::numeric_limits<size_t>::max();
  run.answer_no_fallback = tree_knn(tree, queries, knobs);

  run.checks = check_tree(tree, params.threads);
  const std::vector<std::string> messages = check_tree_invariants(tree);
  run.checks.push_back(make(
      "tree.module_invariants", messages.empty(),
      messages.empty()
          ? std::string("check_tree_invariants (the tree module's own checker) reports nothing")
          : fmt::format("check_tree_invariants reports {}{} problem{}; first: {}",
                        messages.size() >= 50 ? "at least " : "", messages.size(),
                        messages.size() == 1 ? "" : "s", messages.front())));
  return run;
}

}  // namespace ctb::audit
