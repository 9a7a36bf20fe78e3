// The input checks shared by the CLI's `knn` and the Python module (bench/knn_job.hpp): each
// names its input by the caller's label and the problem, in one line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "bench/knn_job.hpp"
#include "core/error.hpp"

namespace ctb {
namespace {

template <class Fn>
std::string message(Fn&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(KnnInputs, ChecksNameTheInputAndTheProblem) {
  const std::vector<size_t> cube{2, 2, 2}, empty{0, 3}, column{5};
  EXPECT_EQ(message([&] { points_dim(cube, "coords"); }),
            "coords must be a 2-D array (n x d), got 3 dimensions");
  EXPECT_EQ(message([&] { points_dim(empty, "x.npy: --points"); }), "x.npy: --points is empty");
  EXPECT_EQ(points_dim(column, "coords"), 1u);
  const std::vector<double> pts{0, 1, 2, 3, std::numeric_limits<double>::quiet_NaN(), 5};
  EXPECT_EQ(message([&] { check_points_finite(pts, 2, "coords"); }),
            "coords: point 2 has a NaN or infinite coordinate");
  EXPECT_EQ(message([&] { check_k(0, 9, "k"); }),
            "k: must be between 1 and the number of points 9 (got 0)");
  EXPECT_EQ(message([&] { check_k(-4, 9, "--k"); }),
            "--k: must be between 1 and the number of points 9 (got -4)");
  EXPECT_EQ(message([&] { check_k(9, 9, "k"); }), "");
  const std::vector<int64_t> ids{0, 8, 9};
  EXPECT_EQ(message([&] { check_query_ids(ids, 9, "queries"); }),
            "queries entry 2 is 9, outside [0, 9)");
  EXPECT_EQ(message([&] { choose_inducing_points(9, 10, 0, "inducing_count"); }),
            "inducing_count: must be between 1 and the number of points 9 (got 10)");
}

TEST(KnnInputs, InducingPointsAreSortedDistinctAndSeeded) {
  const std::vector<int64_t> a = choose_inducing_points(100, 20, 3, "m");
  EXPECT_EQ(a.size(), 20u);
  for (size_t i = 1; i < a.size(); ++i) EXPECT_LT(a[i - 1], a[i]);
  EXPECT_EQ(a, choose_inducing_points(100, 20, 3, "m"));
  EXPECT_NE(a, choose_inducing_points(100, 20, 4, "m"));
}

TEST(KnnInputs, UserVpIsCheckedAndAPBelowTheDiagonalWarns) {
  const size_t n = 4;
  const std::vector<double> coords{0, 1, 2, 3};
  const std::vector<double> v{0.1, 0.2, 0.3, 0.4};  // n x 1
  std::vector<double> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = 1.0 - v[i] * v[i];
  UserVp vp;
  vp.v = v;
  vp.v_shape = {n, 1};
  vp.p = p;
  vp.p_shape = {n};
  vp.v_label = "v_matrix";
  vp.p_label = "p_diag";
  std::vector<std::string> warnings;
  const MetricData data = residual_from_user_vp(coords, 1, vp, KernelParams{}, &warnings);
  EXPECT_EQ(data.n, n);
  EXPECT_TRUE(warnings.empty());

  std::vector<double> off = p;
  off[2] = 0.5;
  vp.p = off;
  residual_from_user_vp(coords, 1, vp, KernelParams{}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("p_diag: p[2] = 0.5 but variance - |V[2]|^2 = 0.91 (the worst of 1 "
                              "of 4 rows where p is below the residual diagonal)",
                              0),
            0u)
      << warnings[0];

  vp.p = p;
  UserVp bad = vp;
  bad.v_shape = {n - 1, 1};
  EXPECT_EQ(message([&] { residual_from_user_vp(coords, 1, bad, KernelParams{}, nullptr); }),
            "v_matrix must be n x m with n = 4 points");
  bad = vp;
  bad.p_shape = {n - 1};
  EXPECT_EQ(message([&] { residual_from_user_vp(coords, 1, bad, KernelParams{}, nullptr); }),
            "p_diag must have n = 4 entries");
  std::vector<double> negative = p;
  negative[1] = -1;
  bad = vp;
  bad.p = negative;
  EXPECT_EQ(message([&] { residual_from_user_vp(coords, 1, bad, KernelParams{}, nullptr); }),
            "p_diag: entry 1 is -1 (p must be finite and > 0)");
}

// When the warning fires: only where p_i is below variance - |V_i|^2 beyond rounding. p above
// it (a nugget, the 1e-9 floor) keeps the correlation a metric and is silent.
TEST(KnnInputs, OnlyAPBelowTheResidualDiagonalWarns) {
  const size_t n = 6;
  const std::vector<double> coords{0, 1, 2, 3, 4, 5};
  // n x 2; row 5 explains all the variance (diagonal 0: our backend's floor gives 1e-9).
  const std::vector<double> v{0.1, 0.2, 0.3, 0.1, 0.5, 0.5, 0.7, 0.1, 0.2, 0.9, 0.6, 0.8};
  std::vector<double> diagonal(n);
  for (size_t i = 0; i < n; ++i) {
    diagonal[i] = 1.0 - (v[2 * i] * v[2 * i] + v[2 * i + 1] * v[2 * i + 1]);
  }
  auto warnings_for = [&](const std::vector<double>& p) {
    UserVp vp;
    vp.v = v;
    vp.v_shape = {n, 2};
    vp.p = p;
    vp.p_shape = {n};
    vp.v_label = "V.npy: --v-matrix";
    vp.p_label = "P.npy: --p-diag";
    std::vector<std::string> warnings;
    residual_from_user_vp(coords, 1, vp, KernelParams{}, &warnings);
    return warnings;
  };
  std::vector<double> exact = diagonal;
  exact[5] = 1e-9;  // the floor
  EXPECT_TRUE(warnings_for(exact).empty());
  std::vector<double> nugget = exact;
  for (double& x : nugget) x += 0.01;
  EXPECT_TRUE(warnings_for(nugget).empty());
  std::vector<double> big = exact;
  for (double& x : big) x = 3.0;  // far above: still a metric
  EXPECT_TRUE(warnings_for(big).empty());
  // Rounding: below the diagonal by less than 1e-12 of the variance is silent, by more warns.
  std::vector<double> rounded = exact;
  for (size_t i = 0; i < 5; ++i) rounded[i] = diagonal[i] - 5e-13;
  EXPECT_TRUE(warnings_for(rounded).empty());
  std::vector<double> under = exact;
  under[1] = diagonal[1] - 1e-11;
  under[3] = diagonal[3] - 0.2;  // the worst
  under[4] = diagonal[4] * 0.5;
  const std::vector<std::string> w = warnings_for(under);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].rfind(fmt::format("P.npy: --p-diag: p[3] = {:.6g} but variance - |V[3]|^2 = "
                                   "{:.6g} (the worst of 3 of 6 rows where p is below the "
                                   "residual diagonal)",
                                   under[3], diagonal[3]),
                       0),
            0u)
      << w[0];
  EXPECT_NE(w[0].find("may not be exact"), std::string::npos) << w[0];
}

}  // namespace
}  // namespace ctb
