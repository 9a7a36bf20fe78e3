// Cover tree: build invariants, exactness against brute force on many small random datasets,
// determinism across threads, the approximate budgets and the invariant checker itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/knn_checks.hpp"
#include "common/simd_targets.hpp"
#include "core/error.hpp"
#include "metric/distance_kernels.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "tree/cover_tree.hpp"
#include "tree/tree_knn.hpp"
#include "tree/tree_stats.hpp"

namespace ctb {
namespace {

enum class Shape { normal, grid, duplicates };

std::vector<double> make_coords(size_t n, size_t dim, uint64_t seed, Shape shape) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * dim);
  for (double& v : x) {
    v = normal(rng);
    // Integer grid: many exact ties in Euclidean distance and exact duplicate points.
    if (shape == Shape::grid) v = std::round(v * 1.5);
  }
  if (shape == Shape::duplicates)  // every point repeated ~4 times
    for (size_t i = 0; i < n; ++i) std::copy_n(&x[(i / 4) * dim], dim, &x[i * dim]);
  return x;
}

MetricData make_data(bool residual, size_t n, size_t dim, uint64_t seed, Shape shape,
                     KernelType kernel = KernelType::rbf) {
  const std::vector<double> x = make_coords(n, dim, seed, shape);
  if (!residual) return make_euclidean(x, dim);
  std::mt19937_64 rng(seed + 1000);
  const std::vector<int64_t> inducing = test_support::distinct_inducing(x, dim, 8 + seed % 25, rng);
  ResidualParams params;
  params.kernel.type = kernel;
  params.jitter = 1e-6;
  return build_residual(x, dim, inducing, params, 1);
}

using test_support::expect_same_answer;
using test_support::point_queries;

// Fresh points (Euclidean only): coordinates owned by the caller's vector.
std::vector<QueryRow> fresh_queries(const std::vector<double>& coords, size_t dim) {
  std::vector<QueryRow> q(coords.size() / dim);
  for (size_t i = 0; i < q.size(); ++i) q[i].coords = &coords[i * dim];
  return q;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

struct Case {
  bool residual;
  size_t n;
  size_t dim;
  Shape shape;
  BuildStrategy strategy;
  BatchOrder order;
  KernelType kernel;
};

std::string describe(const Case& c, uint64_t seed) {
  return std::string(c.residual ? "residual" : "euclidean") + " n=" + std::to_string(c.n) +
         " dim=" + std::to_string(c.dim) + " shape=" + std::to_string(static_cast<int>(c.shape)) +
         " " + to_string(c.strategy) + " " + to_string(c.order) + " " + to_string(c.kernel) +
         " seed=" + std::to_string(seed);
}

// The core property: for random data of every flavour, the tree is valid and answers exactly
// like brute force, for several k (including k > n), predecessor on and off, with the dense
// fallback forced, automatic and disabled; and results and counters do not depend on threads.
// Run under every SIMD target this CPU can run: tree and brute force share the kernel of the
// moment, so each target's kernel must give both the same answers.
// `thin`: a third of the (dataset, k) grid, for the targets after the best one (each value of
// every parameter still occurs, the forced dense fallback included; the full grid under ASan
// costs minutes per target).

static void tree_matches_brute_force_on_random_data(bool thin) {
  const size_t sizes[] = {1, 2, 3, 7, 33, 150, 600};
  const size_t ks[] = {1, 4, 17, 64};
  uint64_t seed = 0;
  int cases = 0;
  uint64_t residual_dense5 = 0;
  for (bool residual : {false, true})
    for (size_t n : sizes)
      for (Shape shape : {Shape::normal, Shape::grid, Shape::duplicates}) {
        ++seed;
        Case c{residual,
               n,
               static_cast<size_t>(1 + seed % 4),
               shape,
               (seed / 2) % 2 ? BuildStrategy::pure_residual : BuildStrategy::euclidean_hybrid,
               seed % 2 ? BatchOrder::hilbert : BatchOrder::natural,
               (seed / 3) % 2 ? KernelType::matern52 : KernelType::rbf};
        const MetricData data = make_data(c.residual, n, c.dim, seed, shape, c.kernel);
        BuildOptions bo;
        bo.strategy = c.strategy;
        bo.batch_order = c.order;
        bo.threads = 2;
        bo.batch_size = 1 + seed % 64;
        const CoverTree tree = build_cover_tree(data, bo);
        const std::string what = describe(c, seed);
        ASSERT_EQ(tree.size(), n) << what;
        const auto errors = check_tree_invariants(tree);
        ASSERT_TRUE(errors.empty()) << what << "\n" << join(errors);

        std::vector<double> fresh_coords;
        std::vector<QueryRow> queries = point_queries(data, 40);
        if (!residual) {
          fresh_coords = make_coords(12, c.dim, seed + 77, shape);
          const auto fresh = fresh_queries(fresh_coords, c.dim);
          queries.insert(queries.end(), fresh.begin(), fresh.end());
        }
        for (size_t k : ks) {
          if (thin && (seed + k) % 3 != 0) continue;
          const size_t kk = k == 64 ? n + 3 : k;  // also k > n
          for (bool pred : {false, true}) {
            BruteForceOptions bf;
            bf.k = kk;
            bf.predecessor = pred;
            const KnnResult expected = brute_force_knn(data, queries, bf);
            for (size_t dense : {size_t{0}, size_t{5}, std::numeric_limits<size_t>::max()}) {
              TreeQueryOptions to;
              to.k = kk;
              to.predecessor = pred;
              to.dense_fallback_evals = dense;
              to.threads = 1;
              QueryCounters c1, c2;
              const KnnResult r1 = tree_knn(tree, queries, to, &c1);
              const std::string w = what + " k=" + std::to_string(kk) +
                                    " pred=" + std::to_string(pred) +
                                    " dense=" + std::to_string(dense);
              expect_same_answer(r1, expected, w);
              to.threads = 2;
              const KnnResult r2 = tree_knn(tree, queries, to, &c2);
              ASSERT_EQ(r1.indices, r2.indices) << w;
              ASSERT_EQ(r1.distances, r2.distances) << w;
              ASSERT_EQ(c1, c2) << w;
              ASSERT_EQ(c1.queries, queries.size());
              ASSERT_EQ(c1.caps_applied, 0u);
              ASSERT_EQ(c1.subtrees_pruned,
                        c1.pruned_by_radius + c1.pruned_by_parent + c1.pruned_by_predecessor);
              // The best-first search abandons after 5 evaluations (residual cases counted
              // together: tiny ones finish first).
              if (dense == 5 && n > 40 && !pred) {
                if (residual) {
                  residual_dense5 += c1.dense_fallbacks;
                } else {
                  ASSERT_GT(c1.dense_fallbacks, 0u) << w;
                }
              }
              if (dense == std::numeric_limits<size_t>::max()) {
                ASSERT_EQ(c1.dense_fallbacks, 0u);
              }
              if (::testing::Test::HasFatalFailure()) return;
              ++cases;
            }
          }
        }
      }
  EXPECT_GT(cases, thin ? 250 : 1000);
  EXPECT_GT(residual_dense5, 0u);
}

TEST(TreeKnn, MatchesBruteForceOnRandomDataOnEverySimdTarget) {
  size_t targets = 0;
  EXPECT_GE(test_support::for_each_simd_target([&](const std::string&) {
              tree_matches_brute_force_on_random_data(targets++ > 0);
            }),
            1u);
}

TEST(TreeBuild, DeterministicForThreadsAndBatchSize) {
  for (bool residual : {false, true})
    for (BuildStrategy strategy : {BuildStrategy::euclidean_hybrid, BuildStrategy::pure_residual}) {
      const MetricData data = make_data(residual, 400, 2, 11, Shape::normal);
      BuildOptions a;
      a.strategy = strategy;
      a.threads = 1;
      a.batch_size = 512;
      BuildOptions b = a;
      b.threads = 2;
      b.batch_size = 3;
      const CoverTree ta = build_cover_tree(data, a), tb = build_cover_tree(data, b);
      EXPECT_EQ(ta.level, tb.level);
      EXPECT_EQ(ta.parent, tb.parent);
      EXPECT_EQ(ta.rows.ids, tb.rows.ids);
      EXPECT_EQ(ta.radius, tb.radius);
      EXPECT_EQ(ta.parent_min, tb.parent_min);
      ASSERT_EQ(ta.build_levels.size(), tb.build_levels.size());
      for (size_t i = 0; i < ta.build_levels.size(); ++i) {
        EXPECT_EQ(ta.build_levels[i].candidates, tb.build_levels[i].candidates);
        EXPECT_EQ(ta.build_levels[i].selected, tb.build_levels[i].selected);
        EXPECT_EQ(ta.build_levels[i].distance_evals, tb.build_levels[i].distance_evals);
      }
    }
}

TEST(TreeBuild, LevelStatsAddUp) {
  const MetricData data = make_data(false, 500, 3, 3, Shape::grid);
  const CoverTree tree = build_cover_tree(data, BuildOptions{});
  ASSERT_FALSE(tree.build_levels.empty());
  uint64_t selected = 0;
  int32_t prev = std::numeric_limits<int32_t>::max();
  for (const BuildLevelStats& s : tree.build_levels) {
    EXPECT_LT(s.level, prev);  // strictly descending levels
    prev = s.level;
    EXPECT_GE(s.candidates, s.selected);
    EXPECT_GT(s.selected, 0u);  // a level with candidates always picks at least one centre
    EXPECT_EQ(s.dominated, s.candidates - s.selected);
    selected += s.selected;
  }
  // Every non-root node is either a selected centre or a duplicate leaf (grid data has many).
  size_t interior_or_centre = 0;
  for (size_t u = 1; u < tree.size(); ++u)
    interior_or_centre += tree.level[u] < tree.level[static_cast<size_t>(tree.parent[u])] - 1 ||
                          tree.child_end[u] > tree.child_begin[u];
  EXPECT_LE(interior_or_centre, selected);
  EXPECT_LT(selected, tree.size());
  EXPECT_GT(tree.depth(), 2);
}

TEST(TreeBuild, AllDuplicatesAndSinglePoint) {
  for (bool residual : {false, true}) {
    std::vector<double> x(50 * 2, 0.25);
    MetricData data = residual ? build_residual(x, 2, std::vector<int64_t>{0}, ResidualParams{}, 1)
                               : make_euclidean(x, 2);
    const CoverTree tree = build_cover_tree(data, BuildOptions{});
    EXPECT_TRUE(check_tree_invariants(tree).empty());
    EXPECT_EQ(tree.child_end[0] - tree.child_begin[0], 49);  // a star of leaves
    const auto q = point_queries(data, 50);
    TreeQueryOptions to;
    to.k = 7;
    BruteForceOptions bf;
    bf.k = 7;
    expect_same_answer(tree_knn(tree, q, to), brute_force_knn(data, q, bf), "duplicates");

    const MetricData one = make_euclidean(std::vector<double>{1.0, 2.0}, 2);
    const CoverTree t1 = build_cover_tree(one, BuildOptions{});
    EXPECT_EQ(t1.size(), 1u);
    EXPECT_TRUE(check_tree_invariants(t1).empty());
  }
}

TEST(TreeBuild, RejectsMismatchedBuildMetric) {
  const MetricData a = make_data(false, 10, 2, 1, Shape::normal);
  const MetricData b = make_data(false, 11, 2, 1, Shape::normal);
  EXPECT_THROW(build_cover_tree(a, b, BuildOptions{}), std::exception);
}

TEST(TreeBuild, HilbertKeyVisitsGridCellsAdjacently) {
  // On a full 2-D grid of 16 x 16 cells, consecutive Hilbert indices are neighbouring cells
  // and every index 0..255 is used once: the defining property of the curve.
  constexpr int kBits = 4, kSide = 1 << kBits;
  std::vector<std::pair<uint64_t, std::pair<int, int>>> cells;
  for (int x = 0; x < kSide; ++x)
    for (int y = 0; y < kSide; ++y) {
      uint32_t axes[2] = {static_cast<uint32_t>(x), static_cast<uint32_t>(y)};
      cells.push_back({hilbert_key(axes, 2, kBits), {x, y}});
    }
  std::sort(cells.begin(), cells.end());
  for (size_t i = 0; i < cells.size(); ++i) {
    ASSERT_EQ(cells[i].first, i);
    if (i == 0) continue;
    const int dx = std::abs(cells[i].second.first - cells[i - 1].second.first);
    const int dy = std::abs(cells[i].second.second - cells[i - 1].second.second);
    EXPECT_EQ(dx + dy, 1) << "step " << i;
  }
  // 3-D as well (the gold dimension).
  std::vector<std::pair<uint64_t, std::array<int, 3>>> c3;
  for (int x = 0; x < 8; ++x)
    for (int y = 0; y < 8; ++y)
      for (int z = 0; z < 8; ++z) {
        uint32_t axes[3] = {static_cast<uint32_t>(x), static_cast<uint32_t>(y),
                            static_cast<uint32_t>(z)};
        c3.push_back({hilbert_key(axes, 3, 3), {x, y, z}});
      }
  std::sort(c3.begin(), c3.end());
  for (size_t i = 1; i < c3.size(); ++i) {
    int manhattan = 0;
    for (int a = 0; a < 3; ++a) manhattan += std::abs(c3[i].second[a] - c3[i - 1].second[a]);
    EXPECT_EQ(manhattan, 1) << "step " << i;
  }
  const MetricData data = make_data(false, 100, 3, 2, Shape::normal);
  auto perm = batch_order_permutation(data, BatchOrder::hilbert);
  std::sort(perm.begin(), perm.end());
  for (size_t i = 0; i < perm.size(); ++i) EXPECT_EQ(perm[i], static_cast<int32_t>(i));
}

TEST(TreeInvariants, CheckerReportsBrokenTrees) {
  const MetricData data = make_data(true, 200, 2, 9, Shape::normal);
  const CoverTree good = build_cover_tree(data, BuildOptions{});
  ASSERT_TRUE(check_tree_invariants(good).empty());
  ASSERT_GT(good.child_end[0], good.child_begin[0] + 1);
  const auto reports = [](const CoverTree& t, const std::string& needle) {
    const auto errors = check_tree_invariants(t);
    for (const auto& e : errors)
      if (e.find(needle) != std::string::npos) return true;
    return false;
  };
  {
    CoverTree t = good;
    t.radius[0] *= 0.5;  // no longer bounds the farthest descendant
    EXPECT_TRUE(reports(t, "exceeds its radius"));
  }
  {
    CoverTree t = good;
    const auto c = static_cast<size_t>(t.child_begin[0]);
    t.parent_max[c] = t.parent_min[c] - 0.01;
    EXPECT_TRUE(reports(t, "outside the bounds"));
  }
  {
    CoverTree t = good;
    const auto c = static_cast<size_t>(t.child_begin[0]);
    t.level[c] = t.level[0];  // child not below its parent
    EXPECT_TRUE(reports(t, "level"));
  }
  {
    CoverTree t = good;
    t.parent[static_cast<size_t>(t.child_begin[0])] = -1;  // a second root (orphan)
    EXPECT_TRUE(reports(t, "exactly one root"));
  }
  {
    CoverTree t = good;
    t.child_end[0] -= 1;  // last child of the root becomes unreachable
    EXPECT_TRUE(reports(t, "not reachable"));
  }
  {
    CoverTree t = good;
    t.subtree_min_id[0] += 1;
    EXPECT_TRUE(reports(t, "subtree_min_id"));
  }
  {
    CoverTree t = good;
    std::swap(t.node_of_id[0], t.node_of_id[1]);
    EXPECT_TRUE(reports(t, "node_of_id"));
  }
  {
    CoverTree t = good;
    t.radius.pop_back();
    EXPECT_TRUE(reports(t, "radius has"));
  }
}

TEST(TreeKnn, ApproximateBudgetsStillReturnKResults) {
  const MetricData data = make_data(true, 600, 3, 21, Shape::normal);
  const CoverTree tree = build_cover_tree(data, BuildOptions{});
  const auto queries = point_queries(data, 50);
  BruteForceOptions bf;
  bf.k = 20;
  const KnnResult exact = brute_force_knn(data, queries, bf);
  for (int mode = 0; mode < 2; ++mode) {
    TreeQueryOptions to;
    to.k = 20;
    to.dense_fallback_evals = std::numeric_limits<size_t>::max();
    (mode % 2 == 0 ? to.survivor_cap : to.low_yield_stop) = mode % 2 == 0 ? 25 : 1;
    QueryCounters c;
    const KnnResult r = tree_knn(tree, queries, to, &c);
    { EXPECT_GT(c.caps_applied, 0u) << "mode " << mode; }
    size_t hits = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
      std::set<int64_t> ids;
      for (size_t i = 0; i < to.k; ++i) {
        const int64_t id = r.indices[q * to.k + i];
        ASSERT_GE(id, 0);
        ASSERT_LT(id, static_cast<int64_t>(data.n));
        ids.insert(id);
        if (i > 0) {
          ASSERT_LE(r.distances[q * to.k + i - 1], r.distances[q * to.k + i]);
        }
        // The reported distance is the true distance of that point.
        ASSERT_EQ(r.distances[q * to.k + i], [&] {
          double d = 0;
          const int32_t row = static_cast<int32_t>(id);
          distances_to_rows(data, queries[q], std::span<const int32_t>(&row, 1), &d);
          return d;
        }());
      }
      ASSERT_EQ(ids.size(), to.k);
      for (size_t i = 0; i < to.k; ++i) hits += ids.count(exact.indices[q * to.k + i]);
    }
    EXPECT_GT(hits, 0u);
  }
}

TEST(TreeKnn, InjectedSlowdownChangesNeitherAnswersNorCounters) {
  const MetricData data = make_data(true, 300, 3, 4, Shape::normal);
  const CoverTree tree = build_cover_tree(data, BuildOptions{});
  const auto queries = point_queries(data, 40);
  TreeQueryOptions to;
  to.k = 8;
  to.dense_fallback_evals = 40;  // exercise both phases
  QueryCounters c1, c3;
  const KnnResult r1 = tree_knn(tree, queries, to, &c1);
  to.inject_slowdown = 2.5;
  const KnnResult r3 = tree_knn(tree, queries, to, &c3);
  EXPECT_EQ(r1.indices, r3.indices);
  EXPECT_EQ(r1.distances, r3.distances);
  EXPECT_EQ(c1, c3);
  EXPECT_GT(c1.dense_fallbacks, 0u);
}

TEST(TreeKnn, PredecessorPadsAndCountsSkips) {
  const MetricData data = make_data(true, 300, 2, 8, Shape::normal);
  const CoverTree tree = build_cover_tree(data, BuildOptions{});
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < data.n; ++i) queries.push_back(query_row(data, i));
  TreeQueryOptions to;
  to.k = 5;
  to.predecessor = true;
  QueryCounters c;
  const KnnResult r = tree_knn(tree, queries, to, &c);
  // Query 0 has no predecessor, query 2 has two.
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(r.indices[i], -1);
  EXPECT_TRUE(std::isinf(r.distances[0]));
  EXPECT_GE(r.indices[2 * 5 + 1], 0);
  EXPECT_EQ(r.indices[2 * 5 + 2], -1);
  for (size_t q = 0; q < data.n; ++q)
    for (size_t i = 0; i < 5; ++i) EXPECT_LT(r.indices[q * 5 + i], static_cast<int64_t>(q));
  EXPECT_GT(c.pruned_by_predecessor, 0u);
  BruteForceOptions bf;
  bf.k = 5;
  bf.predecessor = true;
  expect_same_answer(r, brute_force_knn(data, queries, bf), "predecessor all");
}

TEST(TreeKnn, EmptyQueriesAndZeroK) {
  const MetricData data = make_data(false, 20, 2, 1, Shape::normal);
  const CoverTree tree = build_cover_tree(data, BuildOptions{});
  TreeQueryOptions to;
  to.k = 0;
  const auto q = point_queries(data, 5);
  const KnnResult r = tree_knn(tree, q, to);
  EXPECT_EQ(r.n_queries, q.size());
  EXPECT_TRUE(r.indices.empty());
  to.k = 3;
  const KnnResult e = tree_knn(tree, std::span<const QueryRow>(), to);
  EXPECT_EQ(e.n_queries, 0u);
}

// Any expansion base > 1 gives a valid tree that answers exactly (the search prunes by true
// radii, never by base^level); smaller bases give more levels with fewer children each.
TEST(TreeBuild, AnyBaseAboveOneAnswersExactly) {
  uint64_t seed = 500;
  for (bool residual : {false, true})
    for (const double base : {2.0, 1.5, 1.3})
      for (size_t n : {size_t{1}, size_t{7}, size_t{150}, size_t{600}})
        for (Shape shape : {Shape::normal, Shape::duplicates}) {
          ++seed;
          const MetricData data = make_data(residual, n, 1 + seed % 3, seed, shape);
          for (BuildStrategy strategy :
               {BuildStrategy::euclidean_hybrid, BuildStrategy::pure_residual}) {
            BuildOptions bo;
            bo.strategy = strategy;
            bo.base = base;
            bo.threads = 2;
            const CoverTree tree = build_cover_tree(data, bo);
            const std::string what = std::string(residual ? "residual" : "euclidean") +
                                     " base=" + std::to_string(base) + " n=" + std::to_string(n) +
                                     " " + to_string(strategy) + " seed=" + std::to_string(seed);
            ASSERT_EQ(tree.base, base) << what;
            const auto errors = check_tree_invariants(tree);
            ASSERT_TRUE(errors.empty()) << what << "\n" << join(errors);
            const auto queries = point_queries(data, 30);
            for (size_t k : {size_t{1}, size_t{17}}) {
              for (bool pred : {false, true}) {
                BruteForceOptions bf;
                bf.k = k;
                bf.predecessor = pred;
                TreeQueryOptions to;
                to.k = k;
                to.predecessor = pred;
                to.dense_fallback_evals = std::numeric_limits<size_t>::max();  // the tree alone
                expect_same_answer(tree_knn(tree, queries, to), brute_force_knn(data, queries, bf),
                                   what + " k=" + std::to_string(k));
                if (::testing::Test::HasFatalFailure()) return;
              }
            }
          }
        }
}

TEST(TreeBuild, SmallerBasesGiveMoreLevels) {
  const MetricData data = make_data(true, 600, 3, 31, Shape::normal);
  size_t prev_levels = 0;
  for (const double base : {2.0, 1.5, 1.3}) {
    BuildOptions bo;
    bo.base = base;
    const CoverTree tree = build_cover_tree(data, bo);
    std::set<int32_t> levels(tree.level.begin(), tree.level.end());
    EXPECT_GT(levels.size(), prev_levels) << "base " << base;
    prev_levels = levels.size();
  }
  for (const double bad : {1.0, 0.5, -2.0, std::numeric_limits<double>::infinity()}) {
    BuildOptions bo;
    bo.base = bad;
    EXPECT_THROW(build_cover_tree(data, bo), InputError) << bad;
  }
}

// The exact heuristics (child order, frontier-sized blocks) keep every answer equal to brute
// force and the counters independent of the thread count, and they do change the work.
TEST(TreeKnn, ChildOrderAndFrontierBlocksKeepAnswers) {
  uint64_t seed = 900;
  uint64_t differing = 0;
  for (bool residual : {false, true})
    for (size_t n : {size_t{3}, size_t{150}, size_t{600}})
      for (Shape shape : {Shape::normal, Shape::grid}) {
        ++seed;
        const MetricData data = make_data(residual, n, 1 + seed % 3, seed, shape);
        BuildOptions bo;
        bo.base = seed % 2 ? 1.5 : 2.0;
        bo.strategy =
            (seed / 2) % 2 ? BuildStrategy::pure_residual : BuildStrategy::euclidean_hybrid;
        const CoverTree tree = build_cover_tree(data, bo);
        const auto queries = point_queries(data, 40);
        for (size_t k : {size_t{1}, size_t{12}}) {
          for (bool pred : {false, true}) {
            BruteForceOptions bf;
            bf.k = k;
            bf.predecessor = pred;
            const KnnResult expected = brute_force_knn(data, queries, bf);
            TreeQueryOptions plain;
            plain.k = k;
            plain.predecessor = pred;
            plain.dense_fallback_evals = std::numeric_limits<size_t>::max();
            QueryCounters base_counters;
            tree_knn(tree, queries, plain, &base_counters);
            for (ChildOrder order : {ChildOrder::natural, ChildOrder::bound}) {
              for (size_t block : {size_t{1}, size_t{3}, size_t{64}}) {
                TreeQueryOptions to = plain;
                to.child_order = order;
                to.frontier_block = block;
                to.threads = 1;
                QueryCounters c1, c2;
                const KnnResult r1 = tree_knn(tree, queries, to, &c1);
                const std::string w = std::string(residual ? "residual" : "euclidean") +
                                      " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                      " pred=" + std::to_string(pred) + " " + to_string(order) +
                                      " block=" + std::to_string(block);
                expect_same_answer(r1, expected, w);
                to.threads = 2;
                const KnnResult r2 = tree_knn(tree, queries, to, &c2);
                ASSERT_EQ(r1.indices, r2.indices) << w;
                ASSERT_EQ(c1, c2) << w;
                ASSERT_EQ(c1.subtrees_pruned,
                          c1.pruned_by_radius + c1.pruned_by_parent + c1.pruned_by_predecessor)
                    << w;
                if (order == ChildOrder::natural && block == 1) {
                  ASSERT_EQ(c1, base_counters) << w << ": the defaults are the plain search";
                } else if (c1.distance_evals != base_counters.distance_evals) {
                  ++differing;
                }
                if (::testing::Test::HasFatalFailure()) return;
              }
            }
          }
        }
      }
  EXPECT_GT(differing, 10u) << "the heuristics should change the work somewhere";
}

// The waste figure is what tree_stats.hpp defines: recomputed here pair by pair, one distance
// at a time; and the per-level profile adds up to the tree.
TEST(TreeStats, WasteAndLevelProfileFollowTheirDefinitions) {
  for (const size_t n : {size_t{600}, size_t{2500}}) {  // every point sampled, then a stride
    const MetricData data = make_data(true, n, 2, 41 + n, Shape::normal);
    BuildOptions bo;
    bo.strategy = BuildStrategy::pure_residual;
    const CoverTree tree = build_cover_tree(data, bo);
    const TreeStats st = tree_stats(tree);
    const size_t stride = (n + kWasteSample - 1) / kWasteSample;
    uint64_t extra = 0, pairs = 0, sample = 0;
    for (size_t id = 0; id < n; id += stride) {
      ++sample;
      const int32_t x = tree.node_of_id[id];
      const QueryRow p = query_row(tree.rows, static_cast<size_t>(x));
      int32_t below = x;
      for (int32_t u = tree.parent[static_cast<size_t>(x)]; u >= 0;
           u = tree.parent[static_cast<size_t>(u)]) {
        ++pairs;
        for (int32_t c = tree.child_begin[static_cast<size_t>(u)];
             c < tree.child_end[static_cast<size_t>(u)]; ++c) {
          if (c == below) continue;
          double d = 0;
          distances_to_rows(tree.rows, p, std::span<const int32_t>(&c, 1), &d);
          if (d <= tree.radius[static_cast<size_t>(c)]) ++extra;
        }
        below = u;
      }
    }
    EXPECT_EQ(st.waste_sample, sample);
    EXPECT_EQ(st.nodes, n);
    EXPECT_EQ(st.base, 2.0);
    ASSERT_GT(pairs, 0u);
    EXPECT_DOUBLE_EQ(st.waste, static_cast<double>(extra) / static_cast<double>(pairs));
    EXPECT_GT(st.waste, 0.0) << "pure-residual sibling balls overlap (distances crowd near 1)";
    uint64_t nodes = 0, level_pairs = 0, internal = 0;
    for (const TreeLevelShape& l : st.levels) {
      nodes += l.nodes;
      level_pairs += l.waste_pairs;
      internal += l.internal;
      EXPECT_LE(l.branching_max, st.branching_max);
      EXPECT_LE(l.radius_p10, l.median_radius);
      EXPECT_LE(l.median_radius, l.radius_p90);
      EXPECT_LE(l.radius_p90, l.radius_max);
    }
    EXPECT_EQ(nodes, n);
    EXPECT_EQ(level_pairs, pairs);
    EXPECT_NEAR(st.branching_mean * static_cast<double>(internal), static_cast<double>(n - 1),
                1e-6);
  }
}

}  // namespace
}  // namespace ctb
