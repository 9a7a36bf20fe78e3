#pragma once
// Helpers shared by the index tests (tests/tree): dataset-point queries, the inducing points of
// a random residual dataset, and the exactness check against brute force.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "metric/metric.hpp"
#include "search/knn.hpp"

namespace ctb::test_support {

/// About `max_q` queries that are dataset points, evenly spread over the rows.
inline std::vector<QueryRow> point_queries(const MetricData& data, size_t max_q) {
  std::vector<QueryRow> q;
  const size_t step = std::max<size_t>(1, data.n / max_q);
  for (size_t i = 0; i < data.n; i += step) q.push_back(query_row(data, i));
  return q;
}

/// Up to `m` inducing points (dataset ids, sorted) drawn with `rng` among the points with
/// distinct coordinates: duplicates would make K_mm singular.
inline std::vector<int64_t> distinct_inducing(const std::vector<double>& x, size_t dim, size_t m,
                                              std::mt19937_64& rng) {
  const size_t n = x.size() / dim;
  std::vector<int64_t> distinct;
  std::set<std::vector<double>> seen;
  for (size_t i = 0; i < n; ++i)
    if (seen.insert(std::vector<double>(&x[i * dim], &x[i * dim] + dim)).second)
      distinct.push_back(static_cast<int64_t>(i));
  std::shuffle(distinct.begin(), distinct.end(), rng);
  std::vector<int64_t> inducing(distinct.begin(),
                                distinct.begin() + static_cast<long>(std::min(m, distinct.size())));
  std::sort(inducing.begin(), inducing.end());
  return inducing;
}

/// Exact means exact: the same ids in the same slots (ties by index) and the same distances
/// (padding +inf against +inf), as brute force gives them.
inline void expect_same_answer(const KnnResult& got, const KnnResult& want,
                               const std::string& what) {
  ASSERT_EQ(got.n_queries, want.n_queries) << what;
  ASSERT_EQ(got.k, want.k) << what;
  for (size_t i = 0; i < got.indices.size(); ++i) {
    ASSERT_EQ(got.indices[i], want.indices[i])
        << what << " query " << i / got.k << " slot " << i % got.k << " distances "
        << got.distances[i] << " vs " << want.distances[i];
    if (std::isinf(want.distances[i])) {
      ASSERT_TRUE(std::isinf(got.distances[i])) << what;
    } else {
      ASSERT_LE(std::fabs(got.distances[i] - want.distances[i]), 1e-12) << what;
    }
  }
}

}  // namespace ctb::test_support
