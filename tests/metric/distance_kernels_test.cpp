#include "metric/distance_kernels.hpp"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "metric/test_data.hpp"

namespace ctb {
namespace {

// SIMD vs the plain scalar reference, compared on 1 - |rho| = d^2: the two differ only in
// summation order and in Highway's Exp (<= 1 ulp), an absolute error of a few 1e-16 in
// k - V.V, which the metric divides by sqrt(p_q p_r). Hence the bound below (with a 10x
// margin on that); inducing rows have p ~ jitter and are the worst case. Within one target
// the entry points must agree bit for bit; Euclidean must match the reference exactly.
double scalar_tolerance(const MetricData& data, const QueryRow& q, size_t row) {
  return 1e-12 + 1e-14 / std::sqrt(std::max(q.p * data.p[row], 1e-18));
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

// Restores normal dispatch even when an assertion returns early.
struct ForcedTarget {
  explicit ForcedTarget(int64_t target) { force_simd_target(target); }
  ~ForcedTarget() { reset_simd_target(); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

struct Case {
  MetricKind kind;
  KernelType kernel;
  size_t dim;
  size_t step;  // inducing spacing: rank = ceil(n / step)
};

std::string case_name(const Case& c) {
  std::string name = to_string(c.kind);
  if (c.kind == MetricKind::residual) name += std::string("_") + to_string(c.kernel);
  return name + "_d" + std::to_string(c.dim) + "_s" + std::to_string(c.step);
}

MetricData make_case(const Case& c, size_t n) {
  if (c.kind == MetricKind::euclidean) {
    return make_euclidean(testing::random_coords(n, c.dim, 21), c.dim);
  }
  return testing::residual_data(n, c.dim, c.step, c.kernel, 21);
}

class DistanceKernels : public ::testing::TestWithParam<Case> {};

TEST_P(DistanceKernels, EveryTargetMatchesScalarAndIsBitIdenticalAcrossEntryPoints) {
  const size_t n = 203;  // not a multiple of any tile, lane count or chunk
  const MetricData data = make_case(GetParam(), n);
  if (data.kind == MetricKind::residual) {
    ASSERT_NE(data.rank % 8, 0u) << "rank should leave a padded tail";
    ASSERT_GT(*std::min_element(data.p.begin(), data.p.end()), 1e-6) << "ill-conditioned data";
  }
  // Queries: 9 data rows (odd count: a partial query tile) and one outside point.
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < 9; ++i) queries.push_back(query_row(data, (i * 37 + 5) % n));
  QueryRow outside = query_row(data, 100);
  outside.id = -1;
  queries.push_back(outside);
  const size_t begin = 3;
  const size_t end = n - 1;
  const size_t width = end - begin;
  std::vector<int32_t> rows;
  std::mt19937 gen(4);
  for (size_t j = 0; j < 150; ++j) rows.push_back(static_cast<int32_t>(gen() % n));

  const std::vector<int64_t> targets = available_simd_targets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    ForcedTarget forced(target);
    SCOPED_TRACE(hwy::TargetName(target));
    EXPECT_EQ(simd_target_name(), hwy::TargetName(target));

    std::vector<double> block(queries.size() * width);
    distances_block(data, queries, begin, end, block.data());
    // A different batch composition: queries two at a time over a shifted, shorter range.
    std::vector<double> pairs(2 * (width - 5));
    for (size_t i = 0; i + 1 < queries.size(); i += 2) {
      distances_block(data, std::span(queries).subspan(i, 2), begin + 5, end, pairs.data());
      for (size_t t = 0; t < 2; ++t) {
        for (size_t j = 0; j + 5 < width; ++j) {
          ASSERT_TRUE(same_bits(pairs[t * (width - 5) + j], block[(i + t) * width + j + 5]));
        }
      }
    }

    std::vector<double> range(width);
    std::vector<double> listed(rows.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      const QueryRow& q = queries[i];
      distances_to_range(data, q, begin, end, range.data());
      distances_to_rows(data, q, rows, listed.data());
      for (size_t j = 0; j < width; ++j) {
        const double d = block[i * width + j];
        ASSERT_TRUE(same_bits(d, range[j])) << "query " << i << " row " << begin + j;
        EXPECT_GE(d, 0.0);
        EXPECT_LE(d, 1.0 + (data.kind == MetricKind::euclidean ? 1.0 : 0.0));
        const double ref = distance_scalar(data, q, begin + j);
        if (data.kind == MetricKind::euclidean) {
          EXPECT_TRUE(same_bits(d, ref)) << d << " vs " << ref;
        } else {
          EXPECT_NEAR(d * d, ref * ref, scalar_tolerance(data, q, begin + j))
              << "query " << i << " row " << j;
        }
        if (q.id == data.ids[begin + j]) {
          EXPECT_EQ(d, 0.0);
        }
      }
      for (size_t j = 0; j < rows.size(); ++j) {
        const size_t row = static_cast<size_t>(rows[j]);
        if (row >= begin && row < end) {
          ASSERT_TRUE(same_bits(listed[j], range[row - begin])) << "row " << row;
        } else {
          const double ref = distance_scalar(data, q, row);
          if (data.kind == MetricKind::euclidean) {
            EXPECT_TRUE(same_bits(listed[j], ref));
          } else {
            EXPECT_NEAR(listed[j] * listed[j], ref * ref, scalar_tolerance(data, q, row));
          }
        }
      }
    }

    // Symmetry holds bit for bit: every step of the pair's computation is commutative.
    for (size_t i = 0; i < n; i += 11) {
      std::vector<double> from_i(n);
      distances_to_range(data, query_row(data, i), 0, n, from_i.data());
      EXPECT_EQ(from_i[i], 0.0);
      for (size_t j = 0; j < n; j += 13) {
        double back = -1.0;
        const int32_t row_i = static_cast<int32_t>(i);
        distances_to_rows(data, query_row(data, j), std::span(&row_i, 1), &back);
        EXPECT_TRUE(same_bits(from_i[j], back)) << i << "," << j;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, DistanceKernels,
                         ::testing::Values(Case{MetricKind::residual, KernelType::rbf, 3, 17},
                                           Case{MetricKind::residual, KernelType::matern52, 3, 17},
                                           Case{MetricKind::residual, KernelType::rbf, 2, 10},
                                           Case{MetricKind::residual, KernelType::matern52, 2, 29},
                                           Case{MetricKind::euclidean, KernelType::rbf, 3, 1},
                                           Case{MetricKind::euclidean, KernelType::rbf, 5, 1}),
                         [](const auto& info) { return case_name(info.param); });

TEST(DistanceKernelsDispatch, ResetRestoresTheBestTarget) {
  const std::vector<int64_t> targets = available_simd_targets();
  ASSERT_FALSE(targets.empty());
  // Targets are listed best first (lowest bit is the best target).
  const std::string best = hwy::TargetName(targets.front());
  force_simd_target(targets.back());
  EXPECT_EQ(simd_target_name(), hwy::TargetName(targets.back()));
  reset_simd_target();
  EXPECT_EQ(simd_target_name(), best);
}

TEST(DistanceKernelsDispatch, EmptyBatchesAreFine) {
  const MetricData data = testing::residual_data(20, 2, 5, KernelType::rbf, 2);
  const QueryRow q = query_row(data, 0);
  double sentinel = 7.0;
  distances_to_range(data, q, 4, 4, &sentinel);
  distances_to_rows(data, q, {}, &sentinel);
  distances_block(data, {}, 0, data.n, &sentinel);
  EXPECT_EQ(sentinel, 7.0);
}

}  // namespace
}  // namespace ctb
