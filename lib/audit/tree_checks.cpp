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
#include "tree/hilbert_index.hpp"
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

Check check_pivot_rows(const HilbertIndex& ix, const MetricData& data, size_t samples,
                       int threads) {
  const size_t n = ix.n, P = ix.pivots;
  Problems shape;
  if (P == 0) shape.add("the index has no pivots");
  if (data.n != n) shape.add(fmt::format("index over {} rows, data has {}", n, data.n));
  if (ix.pivot_row.size() != P || ix.rho.size() != P * n || ix.gram.size() != P * P ||
      ix.order.size() != n || ix.group_lo.size() != P * ix.groups ||
      ix.group_hi.size() != P * ix.groups || ix.super_lo.size() != P * ix.supers ||
      ix.super_hi.size() != P * ix.supers || ix.pos_inv_sqrt_p.size() != n) {
    shape.add(
        fmt::format("arrays sized pivot_row {}, rho {}, gram {}, order {} for {} pivots x "
                    "{} rows",
                    ix.pivot_row.size(), ix.rho.size(), ix.gram.size(), ix.order.size(), P, n));
  }
  if (shape.count > 0) return make("index.pivot_rows", false, shape.summary(""));
  std::vector<char> seen(n, 0);
  for (size_t pos = 0; pos < n; ++pos) {
    const int32_t row = ix.order[pos];
    if (row < 0 || static_cast<size_t>(row) >= n || seen[static_cast<size_t>(row)]++ > 0 ||
        ix.position[static_cast<size_t>(row)] != static_cast<int32_t>(pos)) {
      shape.add(fmt::format("order[{}] = {} is not a permutation entry", pos, row));
      break;
    }
  }
  if (shape.count > 0) return make("index.pivot_rows", false, shape.summary(""));
  const size_t S = std::min(std::max<size_t>(samples, 1), P);
  const int workers = std::max(1, threads);
  struct Stats {
    Problems rows, ranges, gram;
    double max_error = 0.0;
    uint64_t entries = 0;
  };
  std::vector<Stats> stats(static_cast<size_t>(workers));
  std::vector<int32_t> all(n);
  for (size_t j = 0; j < n; ++j) all[j] = static_cast<int32_t>(j);
  parallel_for(S, workers, [&](size_t s, int worker) {
    Stats& st = stats[static_cast<size_t>(worker)];
    const size_t a = S == 1 ? 0 : s * (P - 1) / (S - 1);
    const auto prow = static_cast<size_t>(ix.pivot_row[a]);
    std::vector<double> fresh(n);
    correlations_to_rows(data, query_row(data, prow), all, fresh.data());
    const int16_t* r = ix.rho.data() + a * n;
    for (size_t pos = 0; pos < n; ++pos) {
      const auto row = static_cast<size_t>(ix.order[pos]);
      const double err = std::fabs(r[pos] / kRhoScale - fresh[row]);
      st.max_error = std::max(st.max_error, std::isnan(err) ? INFINITY : err);
      ++st.entries;
      if (!(err <= kRhoStep)) {
        st.rows.add(
            fmt::format("pivot {} (row {}): position {} (row {}) stores {:.9g}, a fresh "
                        "correlation is {:.17g} (more than half a step apart)",
                        a, prow, pos, row, r[pos] / kRhoScale, fresh[row]));
      }
      const size_t g = pos / ix.group_size, sg = pos / ix.super_size;
      if (r[pos] < ix.group_lo[a * ix.groups + g] || r[pos] > ix.group_hi[a * ix.groups + g] ||
          r[pos] < ix.super_lo[a * ix.supers + sg] || r[pos] > ix.super_hi[a * ix.supers + sg]) {
        st.ranges.add(
            fmt::format("pivot {}: position {} outside its group or super group range", a, pos));
      }
      if (!(ix.group_inv_sqrt_p[g] >= 1.0 / std::sqrt(data.p[row]) &&
            ix.super_inv_sqrt_p[sg] >= ix.group_inv_sqrt_p[g] &&
            ix.pos_inv_sqrt_p[pos] == 1.0 / std::sqrt(data.p[row]))) {
        st.ranges.add(fmt::format("position {}: rounding factor 1/sqrt(p) not bounded", pos));
      }
    }
    for (size_t b = 0; b < P; ++b) {
      const double want = a == b ? 1.0 : fresh[static_cast<size_t>(ix.pivot_row[b])];
      if (!(std::fabs(ix.gram[a * P + b] - want) <= kIndexTolerance) ||
          ix.gram[a * P + b] != ix.gram[b * P + a]) {
        st.gram.add(fmt::format("gram[{}][{}] = {:.17g}, a fresh correlation is {:.17g}", a, b,
                                ix.gram[a * P + b], want));
      }
    }
  });
  Stats all_st;
  for (const Stats& st : stats) {
    all_st.rows.merge(st.rows);
    all_st.ranges.merge(st.ranges);
    all_st.gram.merge(st.gram);
    all_st.max_error = std::max(all_st.max_error, st.max_error);
    all_st.entries += st.entries;
  }
  Problems problems = all_st.rows;
  problems.merge(all_st.ranges);
  problems.merge(all_st.gram);
  return make("index.pivot_rows", problems.count == 0,
              problems.summary(fmt::format(
                  "{} of {} pivots sampled ({} rows each): stored int16 correlations within half "
                  "a step of a fresh evaluation (max |error| {:.3g}, step {:.3g}); every entry "
                  "inside its group's and super group's range; the Gram matrix exact and "
                  "symmetric; per-group rounding factors bound their rows",
                  S, P, n, all_st.max_error, kRhoStep)));
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
    const HilbertIndex* ix = tree_engine_pivot_index(*engine);
    run.checks.push_back(ix != nullptr
                             ? check_pivot_rows(*ix, data, params.index_samples, params.threads)
                             : make("index.pivot_rows", false, "the engine holds no pivot index"));
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
