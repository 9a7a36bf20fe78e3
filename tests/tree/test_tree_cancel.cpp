// A set CancelToken stops the tree build, the tree query, the brute force and the residual
// backend with Cancelled; a tree whose query was cancelled still answers exactly afterwards.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/cancel.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "tree/cover_tree.hpp"
#include "tree/tree_knn.hpp"

namespace ctb {
namespace {

std::vector<double> normal_coords(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * dim);
  for (double& v : x) v = normal(rng);
  return x;
}

MetricData residual_data(const std::vector<double>& x, size_t dim, const CancelToken* cancel) {
  std::vector<int64_t> inducing;
  for (int64_t i = 0; i < 40; ++i) inducing.push_back(i * 7);
  ResidualParams params;
  params.cancel = cancel;
  return build_residual(x, dim, inducing, params, 2);
}

TEST(TreeCancel, EveryLongCallStopsOnASetToken) {
  const size_t n = 800, dim = 3;
  const std::vector<double> x = normal_coords(n, dim, 5);
  CancelToken set;
  set.cancel();
  EXPECT_THROW(residual_data(x, dim, &set), Cancelled);
  const MetricData data = residual_data(x, dim, nullptr);

  BuildOptions build;
  build.threads = 2;
  build.cancel = &set;
  EXPECT_THROW(build_cover_tree(data, build), Cancelled);
  build.cancel = nullptr;
  const CoverTree tree = build_cover_tree(data, build);

  std::vector<QueryRow> queries;
  for (size_t i = 0; i < n; ++i) queries.push_back(query_row(data, i));
  TreeQueryOptions query;
  query.k = 7;
  query.threads = 2;
  query.cancel = &set;
  EXPECT_THROW(tree_knn(tree, queries, query), Cancelled);
  BruteForceOptions brute;
  brute.k = 7;
  brute.threads = 2;
  brute.cancel = &set;
  EXPECT_THROW(brute_force_knn(data, queries, brute), Cancelled);

  // The cancelled query left the tree as it was: the next query is exact.
  query.cancel = nullptr;
  brute.cancel = nullptr;
  const KnnResult got = tree_knn(tree, queries, query);
  const KnnResult want = brute_force_knn(data, queries, brute);
  EXPECT_EQ(got.indices, want.indices);
  EXPECT_EQ(got.distances, want.distances);
}

}  // namespace
}  // namespace ctb
