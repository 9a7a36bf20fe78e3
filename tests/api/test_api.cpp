// The installed API (include/covertree_bench/covertree_bench.hpp), linked as a consumer links
// it (the shared library only): version, every engine against brute force on both metrics,
// the query forms, and bad input as ctb::InputError.
#include <gtest/gtest.h>

#include <cmath>
#include <covertree_bench/covertree_bench.hpp>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

// Points on a coarse grid, some duplicated: many equal distances, so ties by index matter.
std::vector<double> grid_points(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> cell(0, 9);
  std::vector<double> points(n * dim);
  for (double& x : points) x = 0.5 * cell(rng);
  for (size_t d = 0; d < dim; ++d) points[(n - 1) * dim + d] = points[d];  // last == first
  return points;
}

void expect_same(const ctb::Neighbours& a, const ctb::Neighbours& b) {
  ASSERT_EQ(a.rows, b.rows);
  ASSERT_EQ(a.k, b.k);
  EXPECT_EQ(a.indices, b.indices);
  ASSERT_EQ(a.distances.size(), b.distances.size());
  for (size_t i = 0; i < a.distances.size(); ++i) {
    if (std::isinf(a.distances[i])) {
      EXPECT_TRUE(std::isinf(b.distances[i])) << i;
    } else {
      EXPECT_NEAR(a.distances[i], b.distances[i], 1e-12) << i;
    }
  }
}

TEST(Api, VersionIsTheProjectVersion) { EXPECT_EQ(ctb::version(), CTB_EXPECTED_VERSION); }

TEST(Api, EuclideanEveryEngineMatchesBruteForce) {
  const std::vector<double> points = grid_points(600, 3, 1);
  const ctb::EuclideanInput input{points, 3};
  ctb::KnnQuery query;
  query.k = 7;
  const ctb::Neighbours brute = ctb::brute_force_knn(input, query);
  for (const char* engine : {"auto", "box", "cover-tree", "brute", "tree"}) {
    ctb::IndexOptions options;
    options.engine = engine;
    options.threads = 2;
    const ctb::Index index = ctb::build_index(input, options);
    EXPECT_EQ(index.size(), 600u);
    EXPECT_EQ(index.dim(), 3u);
    EXPECT_EQ(index.metric(), "euclidean");
    SCOPED_TRACE(engine);
    expect_same(index.knn(query), brute);
  }
  EXPECT_EQ(ctb::build_index(input).engine(), "box");
  // A point is at distance 0 from itself; the first point's duplicate (the last) ties with it.
  EXPECT_EQ(brute.indices[0], 0);
  EXPECT_EQ(brute.distances[0], 0.0);
  EXPECT_EQ(brute.indices[(600 - 1) * 7], 0);
  EXPECT_EQ(brute.distances[(600 - 1) * 7], 0.0);
  // Nearest first; equal distances by ascending index.
  for (size_t i = 0; i < brute.rows; ++i) {
    for (size_t j = 1; j < brute.k; ++j) {
      const size_t a = i * brute.k + j - 1, b = a + 1;
      EXPECT_TRUE(brute.distances[a] < brute.distances[b] ||
                  (brute.distances[a] == brute.distances[b] && brute.indices[a] < brute.indices[b]))
          << "row " << i;
    }
  }
}

TEST(Api, EuclideanIdsCoordsAndPredecessors) {
  const std::vector<double> points = grid_points(300, 2, 2);
  const ctb::EuclideanInput input{points, 2};
  const ctb::Index index = ctb::build_index(input);
  ctb::KnnQuery query;
  query.k = 5;
  const std::vector<int64_t> ids = {299, 0, 17};
  query.ids = ids;
  expect_same(index.knn(query), ctb::brute_force_knn(input, query));
  query.ids = {};
  const std::vector<double> coords = {0.25, 0.25, 4.5, 1.0};
  query.coords = coords;
  const ctb::Neighbours by_coords = index.knn(query);
  EXPECT_EQ(by_coords.rows, 2u);
  expect_same(by_coords, ctb::brute_force_knn(input, query));
  query.coords = {};
  query.predecessor = true;
  const ctb::Neighbours pred = index.knn(query);
  expect_same(pred, ctb::brute_force_knn(input, query));
  EXPECT_EQ(pred.indices[0], -1);  // point 0 has no predecessor
  for (size_t i = 0; i < pred.rows; ++i) {
    for (size_t j = 0; j < pred.k; ++j) EXPECT_LT(pred.indices[i * pred.k + j], int64_t(i));
  }
}

TEST(Api, ResidualEveryEngineMatchesBruteForce) {
  const std::vector<double> points = grid_points(500, 2, 3);
  ctb::ResidualInput input;
  input.points = points;
  input.dim = 2;
  input.kernel = ctb::Kernel::matern52;
  input.lengthscale = 0.7;
  input.inducing_count = 64;
  ctb::KnnQuery query;
  query.k = 6;
  query.predecessor = true;
  const ctb::Neighbours brute = ctb::brute_force_knn(input, query);
  for (const char* engine : {"auto", "pivot", "cover-tree", "brute"}) {
    for (const char* strategy : {"euclidean-hybrid", "pure-residual"}) {
      ctb::IndexOptions options;
      options.engine = engine;
      options.build_strategy = strategy;
      const ctb::Index index = ctb::build_index(input, options);
      EXPECT_EQ(index.metric(), "residual");
      SCOPED_TRACE(std::string(engine) + " " + strategy);
      expect_same(index.knn(query), brute);
    }
  }
  EXPECT_EQ(ctb::build_index(input).engine(), "pivot");
}

TEST(Api, ResidualFromOwnVp) {
  const size_t n = 200, rank = 3;
  const std::vector<double> points = grid_points(n, 1, 4);
  std::vector<double> v(n * rank), p(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < rank; ++c) v[i * rank + c] = 0.3 * std::sin(points[i] * double(c + 1));
    p[i] = 1.0;  // above 1 - |V_i|^2: exact, no warning
  }
  ctb::ResidualInput input;
  input.points = points;
  input.dim = 1;
  input.v = v;
  input.rank = rank;
  input.p = p;
  ctb::KnnQuery query;
  query.k = 4;
  const ctb::Index index = ctb::build_index(input);
  EXPECT_TRUE(index.warnings().empty());
  expect_same(index.knn(query), ctb::brute_force_knn(input, query));
}

TEST(Api, BadInputThrowsInputError) {
  const std::vector<double> points = grid_points(50, 2, 5);
  const ctb::EuclideanInput input{points, 2};
  ctb::IndexOptions options;
  options.engine = "pivot";  // residual only
  EXPECT_THROW(ctb::build_index(input, options), ctb::InputError);
  options.engine = "nonsense";
  EXPECT_THROW(ctb::build_index(input, options), ctb::InputError);
  options = {};
  options.build_strategy = "nonsense";
  EXPECT_THROW(ctb::build_index(input, options), ctb::InputError);
  EXPECT_THROW(ctb::build_index(ctb::EuclideanInput{points, 3}), ctb::InputError);
  EXPECT_THROW(ctb::build_index(ctb::EuclideanInput{points, 0}), ctb::InputError);
  std::vector<double> bad = points;
  bad[5] = std::nan("");
  EXPECT_THROW(ctb::build_index(ctb::EuclideanInput{bad, 2}), ctb::InputError);

  const ctb::Index index = ctb::build_index(input);
  ctb::KnnQuery query;
  query.k = 0;
  EXPECT_THROW(index.knn(query), ctb::InputError);
  query.k = 51;
  EXPECT_THROW(index.knn(query), ctb::InputError);
  query.k = 1;
  const std::vector<int64_t> ids = {50};
  query.ids = ids;
  EXPECT_THROW(index.knn(query), ctb::InputError);
  try {
    query.k = 0;
    (void)index.knn(query);
  } catch (const ctb::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("k"), std::string::npos);
  }

  ctb::ResidualInput residual;
  residual.points = points;
  residual.dim = 2;
  residual.variance = -1;
  EXPECT_THROW(ctb::build_index(residual), ctb::InputError);
  residual.variance = 1;
  residual.inducing_count = 51;  // more than n
  EXPECT_THROW(ctb::build_index(residual), ctb::InputError);
}

TEST(Api, NpyRoundTrip) {
  const std::filesystem::path dir = std::filesystem::path(CTB_BINARY_DIR) / "tests-api-npy";
  std::filesystem::create_directories(dir);
  EXPECT_THROW(ctb::read_points_npy((dir / "missing.npy").string()), ctb::InputError);
  const std::vector<double> points = grid_points(40, 2, 6);
  ctb::KnnQuery query;
  query.k = 3;
  const ctb::Neighbours nn = ctb::brute_force_knn(ctb::EuclideanInput{points, 2}, query);
  ctb::write_indices_npy((dir / "i.npy").string(), nn);
  ctb::write_distances_npy((dir / "d.npy").string(), nn);
  // Distances read back as points (float64, 40 x 3).
  const ctb::PointArray d = ctb::read_points_npy((dir / "d.npy").string());
  EXPECT_EQ(d.n, 40u);
  EXPECT_EQ(d.dim, 3u);
  EXPECT_EQ(d.values, nn.distances);
  // Indices are int64: not points.
  EXPECT_THROW(ctb::read_points_npy((dir / "i.npy").string()), ctb::InputError);
}

}  // namespace
