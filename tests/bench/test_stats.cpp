#include <gtest/gtest.h>

#include <cmath>

#include "bench/runner.hpp"
#include "bench/stats.hpp"

namespace ctb {
namespace {

TEST(Stats, QuantilesInterpolateLikeNumpy) {
  const std::vector<double> xs{5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(best_of(xs), 1.0);
  EXPECT_DOUBLE_EQ(median_of(xs), 3.0);
  EXPECT_DOUBLE_EQ(quantile_of(xs, 0.9), 4.6);
  EXPECT_DOUBLE_EQ(median_of({1, 2}), 1.5);
  EXPECT_TRUE(std::isnan(median_of({})));
}

TEST(Recall, CountsSharedIdsIgnoringPadding) {
  KnnResult truth;
  truth.resize(2, 3);
  truth.indices = {0, 1, 2, 5, -1, -1};
  KnnResult got;
  got.resize(2, 3);
  got.indices = {0, 2, 7, 5, -1, -1};
  EXPECT_DOUBLE_EQ(recall_at_k(got, truth), 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(recall_at_k(truth, truth), 1.0);
}

}  // namespace
}  // namespace ctb
