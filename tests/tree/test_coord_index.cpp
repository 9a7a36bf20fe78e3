// The coordinate k-d trees' k-NN (the residual search's seeds and nearest pivots): exactly the
// `count` smallest (squared distance, node) pairs, ascending, for every count and with ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "metric/metric.hpp"
#include "tree/coord_index.hpp"

namespace ctb {
namespace {

std::vector<std::pair<double, size_t>> brute_nearest(const std::vector<double>& coords, size_t dim,
                                                     const double* x, size_t count) {
  const size_t n = coords.size() / dim;
  std::vector<std::pair<double, size_t>> all;
  for (size_t i = 0; i < n; ++i) {
    double d2 = 0.0;
    for (size_t k = 0; k < dim; ++k) {
      const double t = coords[i * dim + k] - x[k];
      d2 += t * t;
    }
    all.emplace_back(d2, i);
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(count, n));
  return all;
}

TEST(CoordIndex, NearestAreTheSmallestDistanceNodePairsInOrder) {
  std::mt19937_64 rng(7);
  int cases = 0;
  for (size_t dim : {size_t{1}, size_t{2}, size_t{3}})
    for (size_t n : {size_t{1}, size_t{5}, size_t{300}})
      for (bool grid : {false, true}) {
        // A coarse grid puts many points at equal distances (ties broken by node).
        std::vector<double> coords(n * dim);
        for (double& c : coords) {
          c = grid ? static_cast<double>(rng() % 4) : std::uniform_real_distribution<>(-1, 1)(rng);
        }
        const MetricData rows = make_euclidean(coords, dim);
        const auto index = make_coord_index(rows, {0});
        for (size_t count : {size_t{1}, size_t{3}, size_t{64}, n, n + 5}) {
          std::vector<size_t> out(count);
          std::vector<double> d2(count);
          for (int q = 0; q < 10; ++q) {
            std::vector<double> x(dim);
            for (double& c : x) c = grid ? static_cast<double>(rng() % 4) : 0.5 * c + 0.1 * q;
            const size_t got =
                nearest_by_coords(index->all_nodes(), x.data(), count, out.data(), d2.data());
            const auto want = brute_nearest(rows.coords, dim, x.data(), count);
            const std::string what = "dim=" + std::to_string(dim) + " n=" + std::to_string(n) +
                                     " grid=" + std::to_string(grid) +
                                     " count=" + std::to_string(count);
            ASSERT_EQ(got, want.size()) << what;
            for (size_t i = 0; i < got; ++i) {
              ASSERT_EQ(out[i], want[i].second) << what << " rank " << i;
              ASSERT_EQ(d2[i], want[i].first) << what << " rank " << i;
            }
            ++cases;
          }
        }
      }
  EXPECT_GT(cases, 300);
}

}  // namespace
}  // namespace ctb
