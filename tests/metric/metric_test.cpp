#include "metric/metric.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/error.hpp"
#include "metric/test_data.hpp"

namespace ctb {
namespace {

using testing::every_nth;
using testing::random_coords;
using testing::residual_data;

TEST(Metric, NamesAreStable) {
  EXPECT_STREQ(to_string(MetricKind::residual), "residual");
  EXPECT_STREQ(to_string(MetricKind::euclidean), "euclidean");
  EXPECT_STREQ(to_string(KernelType::rbf), "rbf");
  EXPECT_STREQ(to_string(KernelType::matern52), "matern52");
}

TEST(Metric, KernelValuesMatchClosedForms) {
  const double x[2] = {0.0, 0.0};
  const double y[2] = {1.0, 0.0};
  KernelParams rbf{KernelType::rbf, 1.5, 2.0};
  EXPECT_DOUBLE_EQ(kernel_value(rbf, x, x, 2), 1.5);
  EXPECT_DOUBLE_EQ(kernel_value(rbf, x, y, 2), 1.5 * std::exp(-0.125));
  KernelParams matern{KernelType::matern52, 1.5, 2.0};
  const double a = std::sqrt(5.0) / 2.0;
  EXPECT_DOUBLE_EQ(kernel_value(matern, x, x, 2), 1.5);
  EXPECT_DOUBLE_EQ(kernel_value(matern, x, y, 2), 1.5 * (1.0 + a + a * a / 3.0) * std::exp(-a));
}

TEST(Metric, EuclideanDataHasIdentityIds) {
  const std::vector<double> coords = {0, 0, 3, 4, 1, 1};
  const MetricData data = make_euclidean(coords, 2);
  EXPECT_EQ(data.kind, MetricKind::euclidean);
  EXPECT_EQ(data.n, 3u);
  EXPECT_EQ(data.ids, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(distance_scalar(data, query_row(data, 0), 1), 5.0);
  EXPECT_EQ(distance_scalar(data, query_row(data, 2), 2), 0.0);
  EXPECT_THROW(make_euclidean(coords, 4), InputError);
  EXPECT_THROW(make_euclidean(coords, 0), InputError);
}

// Textbook Cholesky and forward substitution, to check the Eigen backend independently.
void naive_backend(const std::vector<double>& coords, size_t dim,
                   const std::vector<int64_t>& inducing, const ResidualParams& params,
                   std::vector<double>& v, std::vector<double>& p) {
  const size_t m = inducing.size();
  const size_t n = coords.size() / dim;
  std::vector<double> l(m * m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j <= i; ++j) {
      double s =
          kernel_value(params.kernel, &coords[inducing[i] * dim], &coords[inducing[j] * dim], dim);
      if (i == j) s += params.jitter * params.kernel.variance;
      for (size_t k = 0; k < j; ++k) s -= l[i * m + k] * l[j * m + k];
      l[i * m + j] = i == j ? std::sqrt(s) : s / l[j * m + j];
    }
  }
  v.assign(n * m, 0.0);
  p.assign(n, 0.0);
  for (size_t x = 0; x < n; ++x) {
    double norm2 = 0.0;
    for (size_t i = 0; i < m; ++i) {
      double s = kernel_value(params.kernel, &coords[inducing[i] * dim], &coords[x * dim], dim);
      for (size_t k = 0; k < i; ++k) s -= l[i * m + k] * v[x * m + k];
      v[x * m + i] = s / l[i * m + i];
      norm2 += v[x * m + i] * v[x * m + i];
    }
    p[x] = std::max(params.kernel.variance - norm2, 1e-9);
  }
}

class ResidualBackend : public ::testing::TestWithParam<KernelType> {};

TEST_P(ResidualBackend, MatchesNaiveCholeskyAndPadsRows) {
  const size_t n = 300;
  const size_t dim = 3;
  ResidualParams params;
  params.kernel = {GetParam(), 1.3, 0.3};
  const std::vector<double> coords = random_coords(n, dim, 7);
  const std::vector<int64_t> inducing = every_nth(n, 23);  // m = 14, not a multiple of 8
  const MetricData data = build_residual(coords, dim, inducing, params, 2);
  ASSERT_EQ(data.kind, MetricKind::residual);
  ASSERT_EQ(data.rank, inducing.size());
  EXPECT_EQ(data.v_stride % 8, 0u);
  EXPECT_GE(data.v_stride, data.rank);
  ASSERT_EQ(data.v.size(), n * data.v_stride);
  ASSERT_EQ(data.p.size(), n);

  std::vector<double> v;
  std::vector<double> p;
  naive_backend(coords, dim, inducing, params, v, p);
  const size_t m = data.rank;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(data.ids[i], static_cast<int64_t>(i));
    for (size_t c = 0; c < m; ++c) EXPECT_NEAR(data.v_row(i)[c], v[i * m + c], 1e-9);
    for (size_t c = m; c < data.v_stride; ++c) EXPECT_EQ(data.v_row(i)[c], 0.0);
    EXPECT_NEAR(data.p[i], p[i], 1e-9);
    EXPECT_GE(data.p[i], 1e-9);
  }
  // An inducing point is explained by the low-rank part up to the jitter.
  for (int64_t u : inducing) EXPECT_LT(data.p[static_cast<size_t>(u)], 1e-5);
}

TEST_P(ResidualBackend, ThreadCountDoesNotChangeBits) {
  const size_t n = 1100;  // several solve blocks, the last one partial
  ResidualParams params;
  params.kernel = {GetParam(), 1.0, 0.4};
  const std::vector<double> coords = random_coords(n, 2, 11);
  const std::vector<int64_t> inducing = every_nth(n, 37);
  const MetricData one = build_residual(coords, 2, inducing, params, 1);
  const MetricData three = build_residual(coords, 2, inducing, params, 3);
  EXPECT_EQ(one.v, three.v);
  EXPECT_EQ(one.p, three.p);
}

INSTANTIATE_TEST_SUITE_P(Kernels, ResidualBackend,
                         ::testing::Values(KernelType::rbf, KernelType::matern52),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(Metric, DuplicateInducingPointsWithoutJitterFailCholesky) {
  // Two inducing points at the same place make K_mm exactly singular when variance is 1.
  const std::vector<double> coords = {0.5, 0.5, 0.5, 0.5, 0.1, 0.9};
  ResidualParams params;
  params.jitter = 0.0;
  const std::vector<int64_t> inducing = {0, 1};
  try {
    build_residual(coords, 2, inducing, params, 1);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Cholesky of K_mm failed"), std::string::npos) << e.what();
  }
  params.jitter = 1e-6;
  EXPECT_NO_THROW(build_residual(coords, 2, inducing, params, 1));
}

TEST(Metric, BackendRejectsBadInducingIndices) {
  const std::vector<double> coords = random_coords(10, 2, 3);
  ResidualParams params;
  const std::vector<int64_t> unsorted = {3, 1};
  const std::vector<int64_t> outside = {2, 10};
  const std::vector<int64_t> none;
  EXPECT_THROW(build_residual(coords, 2, unsorted, params, 1), InputError);
  EXPECT_THROW(build_residual(coords, 2, outside, params, 1), InputError);
  EXPECT_THROW(build_residual(coords, 2, none, params, 1), InputError);
}

TEST(Metric, ResidualFromVpPadsAndValidates) {
  const std::vector<double> coords = {0, 0, 1, 1};
  const std::vector<double> v = {1, 2, 3, 4, 5, 6};  // 2 x 3
  const std::vector<double> p = {0.5, 0.25};
  const MetricData data = residual_from_vp(coords, 2, v, 3, p, KernelParams{});
  EXPECT_EQ(data.rank, 3u);
  EXPECT_EQ(data.v_stride, 8u);
  EXPECT_EQ(data.v_row(1)[0], 4.0);
  EXPECT_EQ(data.v_row(1)[2], 6.0);
  EXPECT_EQ(data.v_row(1)[3], 0.0);
  EXPECT_EQ(data.p, p);
  const std::vector<double> short_v = {1, 2, 3};
  const std::vector<double> bad_p = {0.5, -1.0};
  EXPECT_THROW(residual_from_vp(coords, 2, short_v, 3, p, KernelParams{}), InputError);
  EXPECT_THROW(residual_from_vp(coords, 2, v, 3, bad_p, KernelParams{}), InputError);
}

TEST(Metric, ScalarDistanceIsAMetricShapedQuantity) {
  for (KernelType type : {KernelType::rbf, KernelType::matern52}) {
    const MetricData data = residual_data(120, 3, 9, type, 5);
    for (size_t i = 0; i < data.n; i += 7) {
      const QueryRow qi = query_row(data, i);
      EXPECT_EQ(distance_scalar(data, qi, i), 0.0);
      for (size_t j = 0; j < data.n; j += 5) {
        const double dij = distance_scalar(data, qi, j);
        EXPECT_GE(dij, 0.0);
        EXPECT_LE(dij, 1.0);
        EXPECT_NEAR(dij, distance_scalar(data, query_row(data, j), i), 1e-12);
      }
    }
  }
}

TEST(Metric, PermuteRowsCarriesIdsAndDistances) {
  const MetricData data = residual_data(50, 2, 6, KernelType::matern52, 8);
  std::vector<int32_t> order(data.n);
  std::iota(order.begin(), order.end(), 0);
  std::reverse(order.begin(), order.end());
  std::rotate(order.begin(), order.begin() + 17, order.end());
  const MetricData perm = permute_rows(data, order);
  ASSERT_EQ(perm.n, data.n);
  const QueryRow q = query_row(data, 3);
  for (size_t i = 0; i < data.n; ++i) {
    const size_t src = static_cast<size_t>(order[i]);
    EXPECT_EQ(perm.ids[i], data.ids[src]);
    EXPECT_EQ(perm.p[i], data.p[src]);
    EXPECT_EQ(distance_scalar(perm, q, i), distance_scalar(data, q, src));
  }
  std::vector<int32_t> bad(order);
  bad[0] = static_cast<int32_t>(data.n);
  EXPECT_THROW(permute_rows(data, bad), InputError);
}

}  // namespace
}  // namespace ctb
