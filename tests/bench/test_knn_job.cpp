// `knn` on users' own data equals brute force exactly, in every query mode and input form.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "bench/knn_job.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"
#include "data/numpy_rng.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"

namespace ctb {
namespace {

namespace fs = std::filesystem;

struct Workdir {
  fs::path dir;
  Workdir() {
    dir = fs::temp_directory_path() /
          ("ctb_knn_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  ~Workdir() { fs::remove_all(dir); }
};

std::vector<double> random_points(size_t n, size_t dim, uint64_t seed) {
  NumpyRng rng(seed);
  return rng.normal(0.0, 1.0, n * dim);
}

// The truth: brute force over the same metric data the job builds.
KnnResult brute(const MetricData& data, const std::vector<int64_t>& ids, size_t k, bool pred) {
  std::vector<QueryRow> queries;
  for (const int64_t id : ids) queries.push_back(query_row(data, static_cast<size_t>(id)));
  BruteForceOptions o;
  o.k = k;
  o.predecessor = pred;
  o.threads = 2;
  return brute_force_knn(data, queries, o);
}

void expect_equal(const KnnResult& got, const KnnResult& want) {
  ASSERT_EQ(got.n_queries, want.n_queries);
  ASSERT_EQ(got.k, want.k);
  for (size_t i = 0; i < got.indices.size(); ++i) {
    ASSERT_EQ(got.indices[i], want.indices[i]) << "slot " << i;
    if (std::isinf(want.distances[i])) {
      ASSERT_TRUE(std::isinf(got.distances[i]));
    } else {
      ASSERT_NEAR(got.distances[i], want.distances[i], 1e-12) << "slot " << i;
    }
  }
}

std::vector<int64_t> iota_ids(size_t n) {
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  return ids;
}

TEST(KnnJob, ResidualAllModesBothKernelsEqualBruteForce) {
  Workdir w;
  const size_t n = 300, dim = 2, m = 24, k = 7;
  const std::vector<double> pts = random_points(n, dim, 5);
  const fs::path points = w.dir / "x.npy";
  write_npy(points, {n, dim}, pts.data());
  const std::vector<int64_t> listed{299, 0, 17, 17, 150};
  const fs::path qpath = w.dir / "q.npy";
  write_npy(qpath, {listed.size()}, listed.data());

  for (const KernelType kernel : {KernelType::rbf, KernelType::matern52}) {
    KnnJob job;
    job.points_path = points.string();
    job.kernel.type = kernel;
    job.kernel.lengthscale = 0.7;
    job.inducing_count = m;
    job.inducing_count_given = true;
    job.inducing_seed = 3;
    job.k = k;
    job.threads = 2;
    job.progress = false;

    NumpyRng rng(3);
    std::vector<int64_t> inducing = rng.choice_without_replacement(n, m);
    std::sort(inducing.begin(), inducing.end());
    ResidualParams params;
    params.kernel = job.kernel;
    const MetricData data = build_residual(pts, dim, inducing, params, 1);

    job.mode = KnnQueryMode::all_points;
    expect_equal(run_knn_job(job).answer, brute(data, iota_ids(n), k, false));
    job.mode = KnnQueryMode::all_predecessors;
    const KnnResult pred = run_knn_job(job).answer;
    expect_equal(pred, brute(data, iota_ids(n), k, true));
    // Point 0 has no predecessors and point 3 has three: padding with -1 / +inf.
    EXPECT_EQ(pred.indices[0], -1);
    EXPECT_TRUE(std::isinf(pred.distances[0]));
    EXPECT_EQ(pred.indices[3 * k + 3], -1);
    EXPECT_GE(pred.indices[3 * k + 2], 0);
    job.mode = KnnQueryMode::listed;
    job.queries_path = qpath.string();
    expect_equal(run_knn_job(job).answer, brute(data, listed, k, false));
  }
}

TEST(KnnJob, UserSuppliedVAndPFromCsvPoints) {
  Workdir w;
  const size_t n = 200, dim = 3, m = 10, k = 5;
  const std::vector<double> pts = random_points(n, dim, 9);
  {
    std::ofstream csv(w.dir / "x.csv");
    csv.precision(17);
    for (size_t i = 0; i < n; ++i) {
      csv << pts[i * dim] << "," << pts[i * dim + 1] << "," << pts[i * dim + 2] << "\n";
    }
  }
  // A user's own V and p, as their GP code would produce them (V = L^-1 k(U, x), p = diag of
  // the residual): only then is the residual correlation a metric.
  std::vector<int64_t> inducing;
  for (size_t i = 0; i < m; ++i) inducing.push_back(static_cast<int64_t>(i * 17));
  ResidualParams params;
  params.kernel.lengthscale = 0.8;
  const MetricData theirs = build_residual(pts, dim, inducing, params, 1);
  std::vector<double> v(n * m);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < m; ++j) v[i * m + j] = theirs.v_row(i)[j];
  }
  const std::vector<double> p = theirs.p;
  write_npy(w.dir / "v.npy", {n, m}, v.data());
  write_npy(w.dir / "p.npy", {n}, p.data());

  KnnJob job;
  job.points_path = (w.dir / "x.csv").string();
  job.v_matrix_path = (w.dir / "v.npy").string();
  job.p_diag_path = (w.dir / "p.npy").string();
  job.kernel = params.kernel;
  job.k = k;
  job.threads = 2;
  job.progress = false;
  const MetricData data = residual_from_vp(pts, dim, v, m, p, job.kernel);
  job.mode = KnnQueryMode::all_points;
  expect_equal(run_knn_job(job).answer, brute(data, iota_ids(n), k, false));
  job.mode = KnnQueryMode::all_predecessors;
  expect_equal(run_knn_job(job).answer, brute(data, iota_ids(n), k, true));
}

// A user's V with p above the residual diagonal (a nugget: p = k(x,x) - |V|^2 + 0.01) is still a
// valid correlation (the residual covariance plus a non-negative diagonal), so the tree's k-NN
// is exact, and `knn` says nothing. p below the diagonal warns.
TEST(KnnJob, UserVpWithANuggetIsExactAndSilent) {
  Workdir w;
  const size_t n = 1500, dim = 2, m = 30, k = 8;
  const std::vector<double> pts = random_points(n, dim, 13);
  write_npy(w.dir / "x.npy", {n, dim}, pts.data());
  std::vector<int64_t> inducing;
  for (size_t i = 0; i < m; ++i) inducing.push_back(static_cast<int64_t>(i * 49));
  for (const KernelType type : {KernelType::rbf, KernelType::matern52}) {
    ResidualParams params;
    params.kernel = {type, 1.5, 0.6};
    const MetricData theirs = build_residual(pts, dim, inducing, params, 1);
    std::vector<double> v(n * m);
    std::vector<double> p(n);
    for (size_t i = 0; i < n; ++i) {
      double norm2 = 0;
      for (size_t j = 0; j < m; ++j) {
        v[i * m + j] = theirs.v_row(i)[j];
        norm2 += v[i * m + j] * v[i * m + j];
      }
      p[i] = params.kernel.variance - norm2 + 0.01;
    }
    write_npy(w.dir / "v.npy", {n, m}, v.data());
    write_npy(w.dir / "p.npy", {n}, p.data());

    KnnJob job;
    job.points_path = (w.dir / "x.npy").string();
    job.v_matrix_path = (w.dir / "v.npy").string();
    job.p_diag_path = (w.dir / "p.npy").string();
    job.kernel = params.kernel;
    job.k = k;
    job.threads = 2;
    job.progress = false;
    const MetricData data = residual_from_vp(pts, dim, v, m, p, job.kernel);
    for (const KnnQueryMode mode : {KnnQueryMode::all_points, KnnQueryMode::all_predecessors}) {
      job.mode = mode;
      const KnnJobResult r = run_knn_job(job);
      EXPECT_TRUE(r.warnings.empty()) << (r.warnings.empty() ? "" : r.warnings.front());
      expect_equal(r.answer, brute(data, iota_ids(n), k, mode == KnnQueryMode::all_predecessors));
    }

    // p below the residual diagonal in 7 rows: one warning naming them.
    std::vector<double> under = p;
    for (size_t i = 100; i < 107; ++i) under[i] = (p[i] - 0.01) * 0.5;
    write_npy(w.dir / "p.npy", {n}, under.data());
    job.mode = KnnQueryMode::all_points;
    const KnnJobResult r = run_knn_job(job);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_NE(r.warnings[0].find("(the worst of 7 of 1500 rows where p is below the residual "
                                 "diagonal)"),
              std::string::npos)
        << r.warnings[0];
  }
}

TEST(KnnJob, EuclideanEqualsBruteForce) {
  Workdir w;
  const size_t n = 400, dim = 2, k = 9;
  std::vector<double> pts = random_points(n, dim, 21);
  for (double& x : pts) x = std::round(x * 4.0);  // a grid: many exact ties and duplicates
  write_npy(w.dir / "x.npy", {n, dim}, pts.data());
  KnnJob job;
  job.points_path = (w.dir / "x.npy").string();
  job.metric = MetricKind::euclidean;
  job.k = k;
  job.threads = 2;
  job.progress = false;
  const MetricData data = make_euclidean(pts, dim);
  job.mode = KnnQueryMode::all_points;
  expect_equal(run_knn_job(job).answer, brute(data, iota_ids(n), k, false));
  job.mode = KnnQueryMode::all_predecessors;
  expect_equal(run_knn_job(job).answer, brute(data, iota_ids(n), k, true));
}

TEST(KnnJob, BadInputNamesTheProblem) {
  Workdir w;
  const std::vector<double> pts = random_points(20, 2, 1);
  write_npy(w.dir / "x.npy", {20, 2}, pts.data());
  auto message = [&](KnnJob job) -> std::string {
    job.progress = false;
    try {
      run_knn_job(job);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  KnnJob job;
  job.points_path = (w.dir / "x.npy").string();
  job.k = 21;
  EXPECT_NE(message(job).find("--k"), std::string::npos);
  job.k = 3;
  job.inducing_count = 30;
  job.inducing_count_given = true;
  EXPECT_NE(message(job).find("--inducing"), std::string::npos);
  job.inducing_count_given = false;
  const std::vector<int64_t> bad{3, 20};
  write_npy(w.dir / "q.npy", {2}, bad.data());
  job.mode = KnnQueryMode::listed;
  job.queries_path = (w.dir / "q.npy").string();
  EXPECT_NE(message(job).find("outside [0, 20)"), std::string::npos);
  job.mode = KnnQueryMode::all_points;
  job.points_path = (w.dir / "missing.npy").string();
  EXPECT_NE(message(job).find("missing.npy"), std::string::npos);
}

}  // namespace
}  // namespace ctb
