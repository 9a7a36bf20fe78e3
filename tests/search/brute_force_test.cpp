#include "search/brute_force.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "common/simd_targets.hpp"
#include "core/error.hpp"
#include "metric/distance_kernels.hpp"
#include "metric/test_data.hpp"

namespace ctb {
namespace {

// Naive reference: distance_scalar to every row, std::sort by (distance, id).
KnnResult naive_knn(const MetricData& data, const std::vector<QueryRow>& queries, size_t k,
                    bool predecessor) {
  KnnResult out;
  out.resize(queries.size(), k);
  for (size_t i = 0; i < queries.size(); ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (size_t r = 0; r < data.n; ++r) {
      if (predecessor && data.ids[r] >= queries[i].id) continue;
      all.emplace_back(distance_scalar(data, queries[i], r), data.ids[r]);
    }
    std::sort(all.begin(), all.end());
    for (size_t t = 0; t < std::min(k, all.size()); ++t) {
      out.distances[i * k + t] = all[t].first;
      out.indices[i * k + t] = all[t].second;
    }
  }
  return out;
}

std::vector<QueryRow> all_rows(const MetricData& data) {
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < data.n; ++i) queries.push_back(query_row(data, i));
  return queries;
}

// Scalar and SIMD distances differ by rounding (see distance_kernels_test), so distances are
// compared on d^2 with that tolerance; indices must match exactly (random data has no
// near-ties at that level, exact ties are bitwise equal in both paths).
void expect_matches_naive(const KnnResult& got, const KnnResult& want) {
  ASSERT_EQ(got.n_queries, want.n_queries);
  ASSERT_EQ(got.k, want.k);
  for (size_t i = 0; i < got.indices.size(); ++i) {
    ASSERT_EQ(got.indices[i], want.indices[i]) << "query " << i / got.k << " slot " << i % got.k;
    if (std::isinf(want.distances[i])) {
      EXPECT_TRUE(std::isinf(got.distances[i]));
    } else {
      EXPECT_NEAR(got.distances[i] * got.distances[i], want.distances[i] * want.distances[i],
                  1e-10);
    }
  }
}

struct Case {
  MetricKind kind;
  KernelType kernel;
};

class BruteForce : public ::testing::TestWithParam<Case> {
 protected:
  MetricData make(size_t n, uint64_t seed) const {
    if (GetParam().kind == MetricKind::euclidean) {
      return make_euclidean(testing::random_coords(n, 3, seed), 3);
    }
    return testing::residual_data(n, 3, 9, GetParam().kernel, seed);
  }
};

TEST_P(BruteForce, MatchesNaiveForEveryKAndBothModes) {
  const MetricData data = make(45, 3);
  const std::vector<QueryRow> queries = all_rows(data);
  for (bool predecessor : {false, true}) {
    for (size_t k = 1; k <= data.n + 2; ++k) {
      SCOPED_TRACE(::testing::Message() << "k=" << k << " predecessor=" << predecessor);
      BruteForceOptions options;
      options.k = k;
      options.predecessor = predecessor;
      options.threads = 2;
      const KnnResult got = brute_force_knn(data, queries, options);
      expect_matches_naive(got, naive_knn(data, queries, k, predecessor));
      for (size_t i = 0; i < queries.size(); ++i) {
        if (!predecessor) {
          EXPECT_EQ(got.indices[i * k], static_cast<int64_t>(i)) << "self is nearest";
          EXPECT_EQ(got.distances[i * k], 0.0);
        } else {
          for (size_t t = 0; t < k; ++t) {
            const int64_t id = got.indices[i * k + t];
            if (t < i) {
              EXPECT_GE(id, 0);
              EXPECT_LT(id, static_cast<int64_t>(i));
            } else {
              EXPECT_EQ(id, -1);
              EXPECT_EQ(got.distances[i * k + t], std::numeric_limits<double>::infinity());
            }
          }
        }
      }
    }
  }
}

TEST_P(BruteForce, DuplicatesTieByLowerIndex) {
  // Rows 10..19 duplicate rows 0..9 exactly, so their distances to any other point are equal
  // bit for bit and the order must fall back to the dataset index.
  MetricData data = make(60, 5);
  const size_t dim = data.dim;
  std::vector<double> coords = data.coords;
  for (size_t i = 0; i < 10; ++i) {
    std::copy_n(coords.begin() + static_cast<std::ptrdiff_t>(i * dim), dim,
                coords.begin() + static_cast<std::ptrdiff_t>((i + 10) * dim));
  }
  if (GetParam().kind == MetricKind::euclidean) {
    data = make_euclidean(coords, dim);
  } else {
    ResidualParams params;
    params.kernel = data.kernel;
    // Inducing points avoid the duplicated block so K_mm stays well conditioned.
    const std::vector<int64_t> inducing = {21, 30, 39, 48, 57};
    data = build_residual(coords, dim, inducing, params, 1);
  }
  std::vector<QueryRow> queries;
  for (size_t i = 20; i < data.n; ++i) queries.push_back(query_row(data, i));
  BruteForceOptions options;
  options.k = 25;
  options.threads = 2;
  const KnnResult got = brute_force_knn(data, queries, options);
  expect_matches_naive(got, naive_knn(data, queries, options.k, false));
  for (size_t i = 0; i < queries.size(); ++i) {
    for (size_t t = 0; t + 1 < options.k; ++t) {
      const double d0 = got.distances[i * options.k + t];
      const double d1 = got.distances[i * options.k + t + 1];
      ASSERT_LE(d0, d1);
      if (d0 == d1) {
        EXPECT_LT(got.indices[i * options.k + t], got.indices[i * options.k + t + 1]);
      }
    }
  }
}

TEST_P(BruteForce, ResultDoesNotDependOnThreadsOrRowOrder) {
  const MetricData data = make(300, 9);
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < 150; ++i) queries.push_back(query_row(data, (i * 7) % data.n));
  QueryRow outside = query_row(data, 11);
  outside.id = -1;
  queries.push_back(outside);
  // Tree order: ids no longer ascending, so predecessor filtering cannot use a prefix.
  std::vector<int32_t> order(data.n);
  std::iota(order.begin(), order.end(), 0);
  std::reverse(order.begin(), order.end());
  const MetricData permuted = permute_rows(data, order);
  for (bool predecessor : {false, true}) {
    BruteForceOptions options;
    options.k = 12;
    options.predecessor = predecessor;
    options.threads = 1;
    const KnnResult base = brute_force_knn(data, queries, options);
    for (int threads : {2, 3, 8}) {
      options.threads = threads;
      const KnnResult other = brute_force_knn(data, queries, options);
      EXPECT_EQ(other.indices, base.indices);
      EXPECT_EQ(other.distances, base.distances);
      const KnnResult from_permuted = brute_force_knn(permuted, queries, options);
      EXPECT_EQ(from_permuted.indices, base.indices);
      EXPECT_EQ(from_permuted.distances, base.distances);
    }
  }
}

// Brute force against the scalar reference under every SIMD target this CPU runs (the block
// kernel's register tiles, packing and chunking differ per target): enough queries and rows
// for several query blocks, full and partial tiles, packed panels and several row chunks.
TEST_P(BruteForce, MatchesNaiveOnEverySimdTarget) {
  const MetricData data = make(420, 17);
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < 101; ++i) queries.push_back(query_row(data, (i * 13 + 2) % data.n));
  QueryRow outside = query_row(data, 5);
  outside.id = -1;
  queries.push_back(outside);
  std::vector<KnnResult> want;
  for (bool predecessor : {false, true}) {
    for (size_t k : {1, 10, 37}) want.push_back(naive_knn(data, queries, k, predecessor));
  }
  const size_t targets = test_support::for_each_simd_target([&](const std::string& target) {
    size_t c = 0;
    for (bool predecessor : {false, true}) {
      for (size_t k : {1, 10, 37}) {
        SCOPED_TRACE(::testing::Message() << target << " k=" << k << " pred=" << predecessor);
        BruteForceOptions options;
        options.k = k;
        options.predecessor = predecessor;
        options.threads = 2;
        expect_matches_naive(brute_force_knn(data, queries, options), want[c++]);
      }
    }
  });
  EXPECT_GE(targets, 2u) << "expected at least the best target and the portable fallback";
}

INSTANTIATE_TEST_SUITE_P(Metrics, BruteForce,
                         ::testing::Values(Case{MetricKind::euclidean, KernelType::rbf},
                                           Case{MetricKind::residual, KernelType::rbf},
                                           Case{MetricKind::residual, KernelType::matern52}),
                         [](const auto& info) {
                           return std::string(to_string(info.param.kind)) + "_" +
                                  to_string(info.param.kernel);
                         });

TEST(BruteForceExactTies, GridDistancesTieByIndex) {
  // Integer grid: many exactly equal Euclidean distances.
  std::vector<double> coords;
  for (int x = 0; x < 6; ++x) {
    for (int y = 0; y < 6; ++y) {
      coords.push_back(x);
      coords.push_back(y);
    }
  }
  const MetricData data = make_euclidean(coords, 2);
  const std::vector<QueryRow> queries = all_rows(data);
  BruteForceOptions options;
  options.k = 9;
  const KnnResult got = brute_force_knn(data, queries, options);
  expect_matches_naive(got, naive_knn(data, queries, options.k, false));
  // Point (2,2) = id 14: itself, then its four unit neighbours in index order.
  const std::vector<int64_t> first5(got.indices.begin() + 14 * 9, got.indices.begin() + 14 * 9 + 5);
  EXPECT_EQ(first5, (std::vector<int64_t>{14, 8, 13, 15, 20}));
}

TEST(BruteForceErrors, RejectsKZero) {
  const MetricData data = make_euclidean(std::vector<double>{0, 1, 2}, 1);
  const std::vector<QueryRow> queries = all_rows(data);
  BruteForceOptions options;
  options.k = 0;
  EXPECT_THROW(brute_force_knn(data, queries, options), InputError);
  options.k = 1;
  EXPECT_EQ(brute_force_knn(data, {}, options).n_queries, 0u);
}

}  // namespace
}  // namespace ctb
