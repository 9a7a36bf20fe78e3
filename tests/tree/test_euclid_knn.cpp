// The Euclidean box-tree search (tree/euclid_knn): index invariants, and answers equal to the
// brute force BIT FOR BIT (indices and distances) for every compiled dimension, data shape,
// k up to and past n, predecessor mode, fresh and dataset queries, 1 and 2 threads, with the
// dense fallback forced; the one Euclidean distance shared with the distance kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "metric/distance_kernels.hpp"
#include "metric/euclid_distance.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "tree/cover_tree.hpp"
#include "tree/euclid_knn.hpp"
#include "tree/tree_knn.hpp"

namespace ctb {
namespace {

enum class Shape { normal, grid, duplicates, line };

std::vector<double> coords(size_t n, size_t dim, uint64_t seed, Shape shape) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * dim);
  for (double& v : x) {
    v = normal(rng);
    if (shape == Shape::grid) v = std::round(v * 1.5);  // exact distance ties, duplicates
  }
  if (shape == Shape::duplicates)  // every point ~4 times
    for (size_t i = 0; i < n; ++i) std::copy_n(&x[(i / 4) * dim], dim, &x[i * dim]);
  if (shape == Shape::line)  // zero spread on every axis but the first
    for (size_t i = 0; i < n; ++i) std::fill_n(&x[i * dim + 1], dim - 1, 0.5);
  return x;
}

std::vector<QueryRow> fresh(const std::vector<double>& x, size_t dim) {
  std::vector<QueryRow> q(x.size() / dim);
  for (size_t i = 0; i < q.size(); ++i) q[i].coords = &x[i * dim];
  return q;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

// Same indices and the same distance bits (+inf padding included).
void expect_bitwise(const KnnResult& got, const KnnResult& want, const std::string& what) {
  ASSERT_EQ(got.n_queries, want.n_queries) << what;
  ASSERT_EQ(got.k, want.k) << what;
  ASSERT_EQ(got.indices, want.indices) << what;
  ASSERT_EQ(0, std::memcmp(got.distances.data(), want.distances.data(),
                           got.distances.size() * sizeof(double)))
      << what;
}

TEST(EuclidIndex, InvariantsHoldForEveryShapeAndSize) {
  uint64_t seed = 0;
  for (size_t n : {1, 2, 15, 16, 17, 33, 500, 4500})  // 4500: the root's halves in two threads
    for (size_t dim : {1, 3, 8, 20})
      for (Shape shape : {Shape::normal, Shape::grid, Shape::duplicates, Shape::line}) {
        if (n > 1000 && shape != Shape::normal) continue;
        const MetricData data = make_euclidean(coords(n, dim, ++seed, shape), dim);
        const EuclidIndex a = build_euclid_index(data, 1), b = build_euclid_index(data, 2);
        EXPECT_EQ(a.n, n);
        const auto errors = check_euclid_index(b, data);
        ASSERT_TRUE(errors.empty()) << "n=" << n << " dim=" << dim << "\n" << join(errors);
        // Deterministic for the thread count (the root's halves are built concurrently).
        EXPECT_EQ(a.ids, b.ids);
        EXPECT_EQ(a.node_box, b.node_box);
        EXPECT_EQ(a.node_right, b.node_right);
        EXPECT_EQ(a.leaf_coords, b.leaf_coords);
      }
}

TEST(EuclidIndex, CheckerReportsBrokenIndexes) {
  const MetricData data = make_euclidean(coords(300, 3, 5, Shape::normal), 3);
  const EuclidIndex good = build_euclid_index(data, 1);
  ASSERT_TRUE(check_euclid_index(good, data).empty());
  EuclidIndex loose = good;
  loose.node_box[1 * 2 * 3 + 0] -= 0.5;  // node 1's box is no longer tight
  EXPECT_FALSE(check_euclid_index(loose, data).empty());
  EuclidIndex swapped = good;
  std::swap(swapped.ids[0], swapped.ids[1]);  // coordinates no longer those of their ids
  EXPECT_FALSE(check_euclid_index(swapped, data).empty());
  EuclidIndex min_id = good;
  min_id.node_min_id[0] = 5;
  EXPECT_FALSE(check_euclid_index(min_id, data).empty());
  const MetricData other = make_euclidean(coords(301, 3, 5, Shape::normal), 3);
  EXPECT_FALSE(check_euclid_index(good, other).empty());
}

// Every compiled dimension (1..16) and the runtime-dimension loop (17), every shape (in turn),
// k from 1 to n and past it, predecessor mode, dataset and fresh queries, automatic and forced
// fallback: the same bits as the brute force, and counters independent of the thread count.
TEST(EuclidKnn, BitwiseEqualToBruteForce) {
  uint64_t seed = 100;
  int cases = 0;
  for (size_t dim = 1; dim <= 17; ++dim)
    for (size_t n : {1, 7, 40, 300}) {
      ++seed;
      {
        const Shape shape = static_cast<Shape>((dim + n) % 3);  // normal, grid, duplicates
        const MetricData data = make_euclidean(coords(n, dim, seed, shape), dim);
        const CoverTree tree = build_euclid_tree(data, BuildOptions{});
        std::vector<QueryRow> queries;
        for (size_t i = 0; i < n; i += std::max<size_t>(1, n / 25))
          queries.push_back(query_row(data, i));
        const std::vector<double> fx = coords(10, dim, seed + 7, shape);
        const std::vector<QueryRow> fq = fresh(fx, dim);
        queries.insert(queries.end(), fq.begin(), fq.end());
        for (size_t k : {size_t{1}, size_t{5}, n, n + 3})
          for (bool pred : {false, true}) {
            BruteForceOptions bf;
            bf.k = k;
            bf.predecessor = pred;
            const KnnResult want = brute_force_knn(data, queries, bf);
            for (size_t dense : {size_t{0}, size_t{3}}) {
              TreeQueryOptions to;
              to.k = k;
              to.predecessor = pred;
              to.dense_fallback_evals = dense;
              const std::string what = "dim=" + std::to_string(dim) + " n=" + std::to_string(n) +
                                       " shape=" + std::to_string(static_cast<int>(shape)) +
                                       " k=" + std::to_string(k) + " pred=" + std::to_string(pred) +
                                       " dense=" + std::to_string(dense);
              QueryCounters c1, c2;
              to.threads = 1;
              expect_bitwise(tree_knn(tree, queries, to, &c1), want, what);
              to.threads = 2;
              expect_bitwise(tree_knn(tree, queries, to, &c2), want, what);
              ASSERT_EQ(c1, c2) << what;
              ASSERT_EQ(c1.queries, queries.size());
              ASSERT_EQ(c1.caps_applied, 0u);
              ASSERT_EQ(c1.subtrees_pruned,
                        c1.pruned_by_radius + c1.pruned_by_parent + c1.pruned_by_predecessor);
              if (dense == 0) {
                ASSERT_EQ(c1.dense_fallbacks, 0u) << what;
              }
              if (dense == 3 && n > 16 && !pred) {
                ASSERT_GT(c1.dense_fallbacks, 0u) << what;
              }
              if (HasFatalFailure()) return;
              ++cases;
            }
          }
      }
    }
  EXPECT_GT(cases, 1000);
}

// sqrt maps neighbouring squared distances to one double: (1, 0) has r2 = 1 and (1, 2^-26)
// has r2 = 1 + 2^-52, yet both are at distance exactly 1, so the brute force orders them by
// id. A search that ranked by r2 would return the higher id first.
TEST(EuclidKnn, SqrtTiesBreakByIdNotBySquaredDistance) {
  const double tiny = std::ldexp(1.0, -26);
  ASSERT_NE(1.0 * 1.0 + tiny * tiny, 1.0);
  ASSERT_EQ(std::sqrt(1.0 * 1.0 + tiny * tiny), 1.0);
  for (size_t fillers : {0, 3, 20, 100})
    for (bool low_first : {false, true}) {
      std::vector<double> x;
      std::mt19937_64 rng(fillers);
      std::uniform_real_distribution<double> far(3.0, 9.0);
      for (size_t i = 0; i < fillers; ++i) {
        x.push_back(far(rng));
        x.push_back(far(rng));
      }
      // The point with the larger r2 gets the lower id in one variant, the higher in the other.
      const double first_y = low_first ? tiny : 0.0, second_y = low_first ? 0.0 : tiny;
      x.insert(x.end(), {1.0, first_y, 1.0, second_y, -1.0, tiny, 0.0, -1.0});
      const MetricData data = make_euclidean(x, 2);
      const CoverTree tree = build_euclid_tree(data, BuildOptions{});
      const std::vector<double> origin{0.0, 0.0};
      const std::vector<QueryRow> q = fresh(origin, 2);
      for (size_t k : {1, 2, 3}) {
        TreeQueryOptions to;
        to.k = k;
        BruteForceOptions bf;
        bf.k = k;
        const KnnResult want = brute_force_knn(data, q, bf);
        expect_bitwise(tree_knn(tree, q, to), want, "fillers=" + std::to_string(fillers));
        EXPECT_EQ(want.indices[0], static_cast<int64_t>(fillers));  // the lowest id at d = 1
      }
    }
}

// build_cover_tree (cover tree + index) and build_euclid_tree (index only) answer alike.
TEST(EuclidKnn, BothBuildsAnswerAlike) {
  const MetricData data = make_euclidean(coords(900, 3, 9, Shape::grid), 3);
  const CoverTree full = build_cover_tree(data, BuildOptions{});
  const CoverTree only = build_euclid_tree(data, BuildOptions{});
  ASSERT_TRUE(full.euclid);
  ASSERT_TRUE(only.euclid);
  EXPECT_EQ(full.size(), data.n);
  EXPECT_EQ(only.size(), 0u);
  const std::vector<double> fx = coords(50, 3, 10, Shape::normal);
  const auto q = fresh(fx, 3);
  TreeQueryOptions to;
  to.k = 12;
  QueryCounters a, b;
  const KnnResult ra = tree_knn(full, q, to, &a), rb = tree_knn(only, q, to, &b);
  expect_bitwise(ra, rb, "builds");
  EXPECT_EQ(a, b);
  EXPECT_GT(a.pruned_by_radius, 0u);        // the box bound prunes
  EXPECT_LT(a.distance_evals, 50u * 900u);  // so not every point is scanned
}

TEST(EuclidKnn, InjectedSlowdownChangesNeitherAnswersNorCounters) {
  const MetricData data = make_euclidean(coords(2000, 4, 3, Shape::normal), 4);
  const CoverTree tree = build_euclid_tree(data, BuildOptions{});
  const std::vector<double> fx = coords(60, 4, 4, Shape::normal);
  const auto q = fresh(fx, 4);
  for (size_t dense : {size_t{0}, size_t{40}}) {
    TreeQueryOptions to;
    to.k = 9;
    to.dense_fallback_evals = dense;
    QueryCounters c1, c3;
    const KnnResult r1 = tree_knn(tree, q, to, &c1);
    to.inject_slowdown = 2.5;
    const KnnResult r3 = tree_knn(tree, q, to, &c3);
    expect_bitwise(r3, r1, "slowdown");
    EXPECT_EQ(c1, c3);
    if (dense > 0) {
      EXPECT_GT(c1.dense_fallbacks, 0u);
    }
  }
}

TEST(EuclidKnn, ApproximateBudgetsReturnKTrueDistances) {
  const MetricData data = make_euclidean(coords(3000, 3, 12, Shape::normal), 3);
  const CoverTree tree = build_euclid_tree(data, BuildOptions{});
  const std::vector<double> fx = coords(40, 3, 13, Shape::normal);
  const auto q = fresh(fx, 3);
  for (int mode = 0; mode < 2; ++mode) {
    TreeQueryOptions to;
    to.k = 20;
    (mode == 0 ? to.survivor_cap : to.low_yield_stop) = mode == 0 ? 25 : 1;
    QueryCounters c;
    const KnnResult r = tree_knn(tree, q, to, &c);
    EXPECT_GT(c.caps_applied, 0u) << mode;
    for (size_t i = 0; i < q.size(); ++i) {
      std::set<int64_t> ids;
      for (size_t j = 0; j < to.k; ++j) {
        const int64_t id = r.indices[i * to.k + j];
        ASSERT_GE(id, 0);
        ids.insert(id);
        const int32_t row = static_cast<int32_t>(id);
        double d = 0.0;
        distances_to_rows(data, q[i], std::span<const int32_t>(&row, 1), &d);
        ASSERT_EQ(r.distances[i * to.k + j], d);
      }
      ASSERT_EQ(ids.size(), to.k);
    }
  }
}

TEST(EuclidKnn, PredecessorPadsAndPrunesById) {
  const MetricData data = make_euclidean(coords(400, 2, 8, Shape::normal), 2);
  const CoverTree tree = build_euclid_tree(data, BuildOptions{});
  std::vector<QueryRow> q;
  for (size_t i = 0; i < data.n; ++i) q.push_back(query_row(data, i));
  TreeQueryOptions to;
  to.k = 5;
  to.predecessor = true;
  QueryCounters c;
  const KnnResult r = tree_knn(tree, q, to, &c);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(r.indices[i], -1);  // query 0: no predecessor
  EXPECT_EQ(r.indices[2 * 5 + 2], -1);                         // query 2: two
  EXPECT_GT(c.pruned_by_predecessor, 0u);
  EXPECT_GT(c.predecessor_filtered, 0u);
  BruteForceOptions bf;
  bf.k = 5;
  bf.predecessor = true;
  expect_bitwise(r, brute_force_knn(data, q, bf), "predecessor");
}

TEST(EuclidKnn, EmptyQueriesZeroKAndEmptyData) {
  const MetricData data = make_euclidean(coords(50, 3, 1, Shape::normal), 3);
  const CoverTree tree = build_euclid_tree(data, BuildOptions{});
  TreeQueryOptions to;
  to.k = 3;
  QueryCounters c;
  EXPECT_EQ(tree_knn(tree, {}, to, &c).n_queries, 0u);
  EXPECT_EQ(c.queries, 0u);
  const std::vector<double> fx = coords(4, 3, 2, Shape::normal);
  const auto q = fresh(fx, 3);
  to.k = 0;
  EXPECT_EQ(tree_knn(tree, q, to).indices.size(), 0u);
  const MetricData empty = make_euclidean(std::vector<double>{}, 3);
  const CoverTree none = build_euclid_tree(empty, BuildOptions{});
  to.k = 2;
  const KnnResult r = tree_knn(none, q, to);
  for (int64_t id : r.indices) EXPECT_EQ(id, -1);
}

// The distance kernels' Euclidean branch (every SIMD target) and distance_scalar give the
// bits of euclid_squared + sqrt, the box tree's own formula.
TEST(EuclidDistance, EveryEntryPointHasTheSameBits) {
  for (size_t dim : {1, 2, 3, 5, 8, 16, 17}) {
    const MetricData data = make_euclidean(coords(70, dim, 40 + dim, Shape::normal), dim);
    const std::vector<double> fx = coords(5, dim, 50 + dim, Shape::normal);
    const auto q = fresh(fx, dim);
    std::vector<int32_t> rows(data.n);
    for (size_t j = 0; j < data.n; ++j) rows[j] = static_cast<int32_t>(j);
    for (int64_t target : available_simd_targets()) {
      force_simd_target(target);
      std::vector<double> block(q.size() * data.n), one(data.n), range(data.n);
      distances_block(data, q, 0, data.n, block.data());
      for (size_t i = 0; i < q.size(); ++i) {
        distances_to_rows(data, q[i], rows, one.data());
        distances_to_range(data, q[i], 0, data.n, range.data());
        for (size_t j = 0; j < data.n; ++j) {
          const double want =
              euclid_from_squared(euclid_squared(q[i].coords, data.coord_row(j), dim));
          ASSERT_EQ(block[i * data.n + j], want) << simd_target_name();
          ASSERT_EQ(one[j], want) << simd_target_name();
          ASSERT_EQ(range[j], want) << simd_target_name();
          ASSERT_EQ(distance_scalar(data, q[i], j), want);
        }
      }
    }
    reset_simd_target();
  }
}

}  // namespace
}  // namespace ctb
