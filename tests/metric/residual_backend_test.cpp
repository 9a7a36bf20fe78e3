// The OpenBLAS residual backend: V's bits do not depend on the thread count or on the shard of
// rows built, and V and p agree with the previous implementation (glibc exp, Eigen's blocked
// triangular solve) to rounding.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/error.hpp"
#include "metric/metric.hpp"
#include "test_data.hpp"

namespace ctb {
namespace {

using ::ctb::testing::every_nth;
using ::ctb::testing::random_coords;
using ColMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// The backend as it was before OpenBLAS: kernel_value (glibc exp), Eigen's LLT and its blocked
// triangular solve over all points at once. V is n x m row-major.
void eigen_backend(const std::vector<double>& coords, size_t dim,
                   const std::vector<int64_t>& inducing, const ResidualParams& params,
                   std::vector<double>& v, std::vector<double>& p) {
  const size_t m = inducing.size();
  const size_t n = coords.size() / dim;
  auto point = [&](size_t i) { return coords.data() + i * dim; };
  ColMatrix kmm(m, m);
  for (size_t a = 0; a < m; ++a) {
    for (size_t b = 0; b < m; ++b) {
      kmm(a, b) = kernel_value(params.kernel, point(inducing[a]), point(inducing[b]), dim);
    }
    kmm(a, a) += params.jitter * params.kernel.variance;
  }
  const Eigen::LLT<ColMatrix> llt(kmm);
  ASSERT_EQ(llt.info(), Eigen::Success);
  ColMatrix rhs(m, n);
  for (size_t j = 0; j < n; ++j) {
    for (size_t a = 0; a < m; ++a)
      rhs(a, j) = kernel_value(params.kernel, point(inducing[a]), point(j), dim);
  }
  const ColMatrix lower = llt.matrixL();
  lower.triangularView<Eigen::Lower>().solveInPlace(rhs);
  v.assign(n * m, 0.0);
  p.assign(n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    double norm2 = 0.0;
    for (size_t a = 0; a < m; ++a) {
      v[j * m + a] = rhs(a, j);
      norm2 += rhs(a, j) * rhs(a, j);
    }
    p[j] = std::max(params.kernel.variance - norm2, 1e-9);
  }
}

bool same_bits(const double* a, const double* b, size_t count) {
  return std::memcmp(a, b, count * sizeof(double)) == 0;
}

// n spans three full solve blocks and a partial fourth.
constexpr size_t kN = 3 * kResidualRowBlock + 517;
constexpr size_t kDim = 3;

struct Problem {
  std::vector<double> coords;
  std::vector<int64_t> inducing;
  ResidualParams params;
};

Problem problem(KernelType type) {
  Problem pr;
  pr.coords = random_coords(kN, kDim, 5);
  pr.inducing = every_nth(kN, 71);  // m = 51, not a multiple of 8
  pr.params.kernel = {type, 1.7, 0.35};
  return pr;
}

class OpenBlasBackend : public ::testing::TestWithParam<KernelType> {};

TEST_P(OpenBlasBackend, SameBitsForAnyThreadCount) {
  const Problem pr = problem(GetParam());
  const MetricData one = build_residual(pr.coords, kDim, pr.inducing, pr.params, 1);
  for (const int threads : {2, 3}) {
    const MetricData other = build_residual(pr.coords, kDim, pr.inducing, pr.params, threads);
    ASSERT_EQ(other.v.size(), one.v.size());
    EXPECT_TRUE(same_bits(one.v.data(), other.v.data(), one.v.size())) << threads << " threads";
    EXPECT_TRUE(same_bits(one.p.data(), other.p.data(), one.p.size())) << threads << " threads";
  }
}

TEST_P(OpenBlasBackend, MatchesThePreviousEigenBackend) {
  const Problem pr = problem(GetParam());
  const MetricData data = build_residual(pr.coords, kDim, pr.inducing, pr.params, 2);
  std::vector<double> v;
  std::vector<double> p;
  eigen_backend(pr.coords, kDim, pr.inducing, pr.params, v, p);
  const size_t m = data.rank;
  const double var = pr.params.kernel.variance;
  double worst_v = 0.0;
  double worst_p = 0.0;
  for (size_t i = 0; i < kN; ++i) {
    // Relative to the row's size |V_i| (<= sqrt(var)): entries of V are combinations of the
    // kernel column whose cancellations make an entry-wise relative error meaningless.
    double norm2 = 0.0;
    for (size_t a = 0; a < m; ++a) norm2 += v[i * m + a] * v[i * m + a];
    const double scale = std::max(std::sqrt(norm2), 1e-3 * std::sqrt(var));
    for (size_t a = 0; a < m; ++a) {
      worst_v = std::max(worst_v, std::abs(data.v_row(i)[a] - v[i * m + a]) / scale);
    }
    for (size_t a = m; a < data.v_stride; ++a) ASSERT_EQ(data.v_row(i)[a], 0.0);
    worst_p = std::max(worst_p, std::abs(data.p[i] - p[i]) / var);
  }
  EXPECT_LT(worst_v, 1e-12) << worst_v;
  EXPECT_LT(worst_p, 1e-12) << worst_p;
}

TEST_P(OpenBlasBackend, AShardOfRowsHasTheBitsOfTheFullBuild) {
  const Problem pr = problem(GetParam());
  const MetricData full = build_residual(pr.coords, kDim, pr.inducing, pr.params, 2);
  const size_t b = kResidualRowBlock;
  const std::vector<std::pair<size_t, size_t>> shards = {
      {0, kN},            // everything
      {b, 2 * b},         // one whole block
      {b - 300, b + 7},   // across a block boundary, both ends inside blocks
      {17, 18},           // one row
      {2 * b + 5, kN},    // to the end, through the partial last block
      {kN - 3, kN},       // inside the partial last block
      {b + 10, b + 10}};  // empty
  for (const auto& [begin, end] : shards) {
    for (const int threads : {1, 3}) {
      const MetricData shard =
          build_residual_rows(pr.coords, kDim, pr.inducing, pr.params, threads, begin, end);
      SCOPED_TRACE(::testing::Message()
                   << "rows [" << begin << ", " << end << "), " << threads << " threads");
      ASSERT_EQ(shard.n, end - begin);
      ASSERT_EQ(shard.rank, full.rank);
      ASSERT_EQ(shard.v_stride, full.v_stride);
      ASSERT_EQ(shard.v.size(), shard.n * shard.v_stride);
      ASSERT_EQ(shard.p.size(), shard.n);
      for (size_t i = 0; i < shard.n; ++i) {
        ASSERT_EQ(shard.ids[i], static_cast<int64_t>(begin + i));
        ASSERT_TRUE(same_bits(shard.coord_row(i), full.coord_row(begin + i), kDim));
        ASSERT_TRUE(same_bits(shard.v_row(i), full.v_row(begin + i), full.v_stride)) << i;
        ASSERT_TRUE(same_bits(&shard.p[i], &full.p[begin + i], 1)) << i;
      }
    }
  }
  EXPECT_THROW(build_residual_rows(pr.coords, kDim, pr.inducing, pr.params, 1, 5, kN + 1),
               InputError);
  EXPECT_THROW(build_residual_rows(pr.coords, kDim, pr.inducing, pr.params, 1, 9, 8), InputError);
}

INSTANTIATE_TEST_SUITE_P(Kernels, OpenBlasBackend,
                         ::testing::Values(KernelType::rbf, KernelType::matern52),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(OpenBlasBackend, FarPointsHaveZeroKernelAndFullVariance) {
  // exp underflows (argument below -708): the kernel column is exactly 0, V_i = 0, p_i = var.
  std::vector<double> coords = random_coords(40, 2, 3);
  coords[2 * 39] = 1e3;
  const std::vector<int64_t> inducing = every_nth(39, 4);
  ResidualParams params;
  params.kernel.lengthscale = 0.5;
  const MetricData data = build_residual(coords, 2, inducing, params, 1);
  for (size_t a = 0; a < data.v_stride; ++a) EXPECT_EQ(data.v_row(39)[a], 0.0);
  EXPECT_EQ(data.p[39], params.kernel.variance);
  // An inducing point's kernel with itself is the variance exactly (exp(0) = 1).
  EXPECT_LT(data.p[0], 1e-5);
}

}  // namespace
}  // namespace ctb
