// Invariant checker: independent of the build (recomputes everything from the arrays and the
// scalar reference distance), so a build bug cannot hide behind its own bookkeeping.
#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "metric/distance_kernels.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {

std::vector<std::string> check_tree_invariants(const CoverTree& tree) {
  std::vector<std::string> errors;
  const auto fail = [&](std::string msg) {
    if (errors.size() < 50) errors.push_back(std::move(msg));  // enough to diagnose
  };
  const size_t n = tree.size();
  const auto sized = [&](size_t size, const char* name) {
    if (size != n)
      fail(std::string(name) + " has " + std::to_string(size) + " entries, not " +
           std::to_string(n));
    return size == n;
  };
  bool ok = sized(tree.parent.size(), "parent") & sized(tree.child_begin.size(), "child_begin") &
            sized(tree.child_end.size(), "child_end") & sized(tree.radius.size(), "radius") &
            sized(tree.parent_dist.size(), "parent_dist") &
            sized(tree.parent_min.size(), "parent_min") &
            sized(tree.parent_max.size(), "parent_max") &
            sized(tree.subtree_min_id.size(), "subtree_min_id") &
            sized(tree.node_of_id.size(), "node_of_id") & sized(tree.rows.n, "rows") &
            sized(tree.rows.ids.size(), "rows.ids");
  if (!ok || n == 0) return errors;
  const auto s = [](auto v) { return std::to_string(v); };

  // Structure: one root, children ranges consistent with parent, every node reached once.
  size_t roots = 0;
  for (size_t u = 0; u < n; ++u)
    if (tree.parent[u] < 0) ++roots;
  if (roots != 1) fail("expected exactly one root, found " + s(roots));
  if (tree.parent[0] != -1) fail("node 0 is not the root (parent " + s(tree.parent[0]) + ")");
  std::vector<int> visits(n, 0);
  std::vector<int32_t> stack{0}, pre;  // pre: preorder, for the subtree checks
  const auto ni = static_cast<int32_t>(n);
  while (!stack.empty()) {
    const int32_t u = stack.back();
    stack.pop_back();
    if (++visits[static_cast<size_t>(u)] > 1) {
      fail("node " + s(u) + " reached more than once");
      continue;
    }
    pre.push_back(u);
    const int32_t cb = tree.child_begin[static_cast<size_t>(u)];
    const int32_t ce = tree.child_end[static_cast<size_t>(u)];
    if (cb < 0 || ce > ni || cb > ce) {
      fail("node " + s(u) + " has a bad child range [" + s(cb) + ", " + s(ce) + ")");
      continue;
    }
    for (int32_t c = cb; c < ce; ++c) {
      const auto cu = static_cast<size_t>(c);
      if (tree.parent[cu] != u)
        fail("node " + s(c) + " is in the child range of " + s(u) + " but has parent " +
             s(tree.parent[cu]));
      if (tree.level[cu] >= tree.level[static_cast<size_t>(u)])
        fail("child " + s(c) + " level " + s(tree.level[cu]) + " >= parent " + s(u) + " level " +
             s(tree.level[static_cast<size_t>(u)]));
      stack.push_back(c);
    }
  }
  for (size_t u = 0; u < n; ++u)
    if (visits[u] == 0) fail("node " + s(u) + " is not reachable from the root");
  if (errors.size() > 0) return errors;  // the metric checks below walk the structure

  // Ids: node_of_id is the inverse of rows.ids; subtree_min_id recomputed bottom-up.
  for (size_t u = 0; u < n; ++u) {
    const int64_t id = tree.rows.ids[u];
    if (id < 0 || id >= static_cast<int64_t>(n) ||
        tree.node_of_id[static_cast<size_t>(id)] != static_cast<int32_t>(u))
      fail("node_of_id is not the inverse of rows.ids at node " + s(u));
  }
  std::vector<int64_t> min_id(n);
  for (size_t i = pre.size(); i-- > 0;) {
    const auto u = static_cast<size_t>(pre[i]);
    min_id[u] = tree.rows.ids[u];
    for (int32_t c = tree.child_begin[u]; c < tree.child_end[u]; ++c)
      min_id[u] = std::min(min_id[u], min_id[static_cast<size_t>(c)]);
    if (min_id[u] != tree.subtree_min_id[u])
      fail("subtree_min_id of node " + s(u) + " is " + s(tree.subtree_min_id[u]) + ", expected " +
           s(min_id[u]));
  }

  // Metric: every descendant within its ancestor's radius and within its child-subtree's
  // [parent_min, parent_max]. Distances are recomputed with the search's own kernel: the
  // bounds must hold for the distances the search will compare (a scalar recomputation differs
  // by rounding that the residual metric amplifies to ~1e-6 at p ~ 1e-7, which would report
  // false problems). The kernel gives each pair the same bits whichever entry point computes
  // it, so only a last-ulp allowance is needed.
  const auto kernel_distance = [&](const QueryRow& q, size_t row) {
    const int32_t r = static_cast<int32_t>(row);
    double d = 0;
    distances_to_rows(tree.rows, q, std::span<const int32_t>(&r, 1), &d);
    return d;
  };
  const auto above = [&](double d, double bound) {  // d > bound beyond the last ulp
    return d > bound + 1e-12 + 4 * std::numeric_limits<double>::epsilon() * std::fabs(bound);
  };
  std::vector<int32_t> sub;
  for (size_t u = 0; u < n; ++u) {
    const QueryRow q = query_row(tree.rows, u);
    for (int32_t c = tree.child_begin[u]; c < tree.child_end[u]; ++c) {
      const auto cu = static_cast<size_t>(c);
      const double dc = kernel_distance(q, cu);
      if (above(dc, tree.parent_dist[cu]) || above(tree.parent_dist[cu], dc))
        fail("parent_dist of node " + s(c) + " is " + s(tree.parent_dist[cu]) + ", recomputed " +
             s(dc));
      sub.assign(1, c);
      while (!sub.empty()) {
        const auto j = static_cast<size_t>(sub.back());
        sub.pop_back();
        const double d = kernel_distance(q, j);
        if (above(d, tree.radius[u]))
          fail("node " + s(j) + " at distance " + s(d) + " from ancestor " + s(u) +
               " exceeds its radius " + s(tree.radius[u]));
        if (above(d, tree.parent_max[cu]) || above(tree.parent_min[cu], d))
          fail("node " + s(j) + " at distance " + s(d) + " from " + s(u) +
               " is outside the bounds [" + s(tree.parent_min[cu]) + ", " + s(tree.parent_max[cu]) +
               "] of child " + s(c));
        for (int32_t y = tree.child_begin[j]; y < tree.child_end[j]; ++y) sub.push_back(y);
      }
    }
  }

  return errors;
}

}  // namespace ctb
