#include "scenario/dataset.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/npy.hpp"
#include "data/numpy_rng.hpp"
#include "scenario/scenario.hpp"
#include "scenario/temp_dir.hpp"

namespace ctb {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

void expect_in_range(const std::vector<int64_t>& ids, size_t n) {
  for (const int64_t id : ids) {
    ASSERT_GE(id, 0);
    ASSERT_LT(static_cast<size_t>(id), n);
  }
}

// materialize() must fail with an InputError whose message contains every part.
void expect_error(const Scenario& s, const std::vector<std::string>& parts) {
  try {
    materialize(s);
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    for (const auto& part : parts) {
      EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
    }
  }
}

TEST(Materialize, TinyResidualFollowsTheNumpyStreams) {
  const Scenario s = load_scenario("tiny-residual");
  const Dataset d = materialize(s);
  EXPECT_EQ(d.n, 2048u);
  EXPECT_EQ(d.dim, 3u);
  ASSERT_EQ(d.points.size(), 2048u * 3u);
  EXPECT_EQ(d.points, NumpyRng(42).normal(0, 1, 2048 * 3));
  EXPECT_EQ(d.query_ids, NumpyRng(43).integers(0, 2048, 128));
  EXPECT_TRUE(d.query_points.empty());
  EXPECT_EQ(d.n_queries(), 128u);
  ASSERT_EQ(d.inducing.size(), 64u);
  EXPECT_TRUE(std::is_sorted(d.inducing.begin(), d.inducing.end()));
  EXPECT_EQ(std::adjacent_find(d.inducing.begin(), d.inducing.end()), d.inducing.end());
  expect_in_range(d.inducing, d.n);
  auto expected = NumpyRng(0).choice_without_replacement(2048, 64);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(d.inducing, expected);
}

TEST(Materialize, TinyEuclidHasFreshQueryPointsAndNoInducing) {
  const Dataset d = materialize(load_scenario("tiny-euclid"));
  EXPECT_EQ(d.points.size(), 4096u * 3u);
  EXPECT_TRUE(d.query_ids.empty());
  EXPECT_EQ(d.query_points, NumpyRng(43).normal(0, 1, 256 * 3));
  EXPECT_EQ(d.n_queries(), 256u);
  EXPECT_TRUE(d.inducing.empty());
}

TEST(Materialize, AllQueriesAreEveryDatasetIndex) {
  Scenario s = load_scenario("tiny-residual");
  s.queries.kind = QuerySpec::Kind::all;
  const Dataset d = materialize(s);
  ASSERT_EQ(d.query_ids.size(), d.n);
  for (size_t i = 0; i < d.n; ++i) ASSERT_EQ(d.query_ids[i], static_cast<int64_t>(i));
}

// ---- NPY inputs ---------------------------------------------------------------------------

struct NpyScenario {
  TempDir dir;
  std::vector<double> points;
  static constexpr size_t n = 40, dim = 3;

  NpyScenario() {
    points = NumpyRng(5).normal(0, 1, n * dim);
    fs::create_directories(dir.path() / "in");
    write_npy(dir.path() / "in" / "points.npy", {n, dim}, points.data());
  }
  fs::path scenario(const std::string& body) const {
    return dir.write("in/s.yaml", "name: npy\nmetric: residual\ndata: points.npy\n" + body);
  }
  void ids(const std::string& name, std::vector<size_t> shape, std::vector<int64_t> v) const {
    write_npy(dir.path() / "in" / name, shape, v.data());
  }
};

TEST(Materialize, ReadsPointsQueriesAndInducingFromNpyRelativeToTheScenario) {
  NpyScenario f;
  f.ids("q.npy", {4, 1}, {3, 0, 39, 3});
  f.ids("u.npy", {3}, {30, 2, 17});
  const Scenario s = load_scenario(
      f.scenario("queries: q.npy\nk: 5\nresidual: {inducing_seed: u.npy}\n").string());
  const Dataset d = materialize(s);
  EXPECT_EQ(d.n, NpyScenario::n);
  EXPECT_EQ(d.dim, NpyScenario::dim);
  EXPECT_EQ(d.points, f.points);
  EXPECT_EQ(d.query_ids, (std::vector<int64_t>{3, 0, 39, 3}));
  EXPECT_EQ(d.inducing, (std::vector<int64_t>{2, 17, 30}));  // sorted
}

TEST(Materialize, GeneratedInducingOverNpyPoints) {
  NpyScenario f;
  const Dataset d = materialize(
      load_scenario(f.scenario("queries: all\nk: 5\nresidual: {inducing_count: 8}\n").string()));
  EXPECT_EQ(d.inducing.size(), 8u);
  EXPECT_EQ(d.query_ids.size(), NpyScenario::n);
}

TEST(Materialize, NonFiniteCoordinateNamesTheFileAndRow) {
  NpyScenario f;
  f.points[7 * 3 + 1] = std::numeric_limits<double>::quiet_NaN();
  write_npy(f.dir.path() / "in" / "points.npy", {NpyScenario::n, NpyScenario::dim},
            f.points.data());
  const Scenario s = load_scenario(f.scenario("queries: all\nk: 5\n").string());
  expect_error(s, {"field 'data'", "points.npy", "non-finite", "row 7"});
  f.points[7 * 3 + 1] = 0;
  f.points[39 * 3] = -std::numeric_limits<double>::infinity();
  write_npy(f.dir.path() / "in" / "points.npy", {NpyScenario::n, NpyScenario::dim},
            f.points.data());
  expect_error(s, {"non-finite", "row 39"});
}

TEST(Materialize, QueryIndexOutOfRange) {
  NpyScenario f;
  f.ids("q.npy", {3}, {0, 40, 1});
  expect_error(load_scenario(f.scenario("queries: q.npy\nk: 5\n").string()),
               {"field 'queries'", "q.npy", "index 40", "out of range [0, 40)"});
  f.ids("q.npy", {2}, {-1, 1});
  expect_error(load_scenario(f.scenario("queries: q.npy\nk: 5\n").string()),
               {"index -1", "out of range"});
}

TEST(Materialize, KAndMAboveNOnceTheDataIsKnown) {
  NpyScenario f;
  expect_error(load_scenario(f.scenario("queries: all\nk: 41\n").string()),
               {"field 'k'", "must be <= the number of points 40 (got 41)"});
  expect_error(
      load_scenario(f.scenario("queries: all\nk: 4\nresidual: {inducing_count: 41}\n").string()),
      {"field 'residual.inducing_count'", "must be <= the number of points 40 (got 41)"});
}

TEST(Materialize, BadInducingFiles) {
  NpyScenario f;
  f.ids("u.npy", {3}, {5, 2, 5});
  expect_error(
      load_scenario(f.scenario("queries: all\nk: 4\nresidual: {inducing_seed: u.npy}\n").string()),
      {"field 'residual.inducing_seed'", "index 5 appears more than once"});
  f.ids("u.npy", {2}, {5, 40});
  expect_error(
      load_scenario(f.scenario("queries: all\nk: 4\nresidual: {inducing_seed: u.npy}\n").string()),
      {"field 'residual.inducing_seed'", "out of range"});
}

TEST(Materialize, WrongShapesAndDtypes) {
  NpyScenario f;
  // Residual queries must be indices, not coordinates.
  const std::vector<double> floats(6, 0.5);
  write_npy(f.dir.path() / "in" / "qf.npy", {2, 3}, floats.data());
  expect_error(load_scenario(f.scenario("queries: qf.npy\nk: 5\n").string()),
               {"field 'queries'", "expected int64 dataset indices"});
  // Index arrays must be (Q,) or (Q, 1).
  f.ids("q2.npy", {2, 2}, {0, 1, 2, 3});
  expect_error(load_scenario(f.scenario("queries: q2.npy\nk: 5\n").string()),
               {"expected shape (Q,) or (Q, 1)", "(2, 2)"});
  // Points must be 2-D floats.
  f.ids("pi.npy", {4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  const fs::path bad_points =
      f.dir.write("in/p.yaml", "name: p\nmetric: euclidean\ndata: pi.npy\nqueries: all\nk: 1\n");
  expect_error(load_scenario(bad_points.string()),
               {"field 'data'", "expected a 2-D float64 or float32 array"});
}

TEST(Materialize, EuclideanQueryPointsFromNpy) {
  NpyScenario f;
  const std::vector<double> q = NumpyRng(9).normal(0, 1, 5 * 3);
  write_npy(f.dir.path() / "in" / "qp.npy", {5, 3}, q.data());
  const fs::path ok = f.dir.write(
      "in/e.yaml", "name: e\nmetric: euclidean\ndata: points.npy\nqueries: qp.npy\nk: 2\n");
  const Dataset d = materialize(load_scenario(ok.string()));
  EXPECT_EQ(d.query_points, q);
  EXPECT_EQ(d.n_queries(), 5u);
  EXPECT_TRUE(d.inducing.empty());

  write_npy(f.dir.path() / "in" / "qp.npy", {3, 5}, q.data());
  expect_error(load_scenario(ok.string()), {"expected query points of shape (Q, 3)", "(3, 5)"});

  // Index queries work for Euclidean too (and allow predecessor mode).
  f.ids("qi.npy", {2}, {4, 1});
  const fs::path idx =
      f.dir.write("in/i.yaml",
                  "name: i\nmetric: euclidean\ndata: points.npy\nqueries: qi.npy\nk: 2\n"
                  "query: {predecessor: true}\n");
  EXPECT_EQ(materialize(load_scenario(idx.string())).query_ids, (std::vector<int64_t>{4, 1}));
  const fs::path pred =
      f.dir.write("in/pp.yaml",
                  "name: pp\nmetric: euclidean\ndata: points.npy\nqueries: qp.npy\nk: 2\n"
                  "query: {predecessor: true}\n");
  write_npy(f.dir.path() / "in" / "qp.npy", {5, 3}, q.data());
  expect_error(load_scenario(pred.string()), {"field 'query.predecessor'"});
}

// ---- against the reference's exported inputs ----------------------------------------------

const fs::path kReference = fs::path(CTB_SHARED_DIR) / "reference" / "covertreex-numba";

bool same_bits(const void* a, const void* b, size_t bytes) { return std::memcmp(a, b, bytes) == 0; }

// The scenario's generated inputs equal the reference's exported .npy files bit for bit.
void expect_reference_inputs(const std::string& scenario, const fs::path& dir, bool residual) {
  if (!fs::exists(dir / "points.npy")) {
    GTEST_SKIP() << "reference data not found at " << dir;
  }
  const Dataset d = materialize(load_scenario(scenario));
  const NpyArray points = read_npy(dir / "points.npy");
  ASSERT_EQ(points.shape, (std::vector<size_t>{d.n, d.dim}));
  const std::vector<double> ref_points = points.as_f64();
  ASSERT_EQ(ref_points.size(), d.points.size());
  EXPECT_TRUE(same_bits(ref_points.data(), d.points.data(), d.points.size() * sizeof(double)));

  const NpyArray queries = read_npy(dir / "queries.npy");
  if (residual) {
    const std::vector<int64_t> ref = queries.as_i64("queries.npy");
    EXPECT_EQ(ref, d.query_ids);
    const std::vector<int64_t> inducing = read_npy(dir / "inducing_idx.npy").as_i64("inducing");
    EXPECT_EQ(inducing, d.inducing);
  } else {
    const std::vector<double> ref = queries.as_f64();
    ASSERT_EQ(ref.size(), d.query_points.size());
    EXPECT_TRUE(same_bits(ref.data(), d.query_points.data(), ref.size() * sizeof(double)));
  }
}

TEST(MaterializeReference, Gold32kEqualsTheReferenceInputsBitwise) {
  expect_reference_inputs("gold32k", kReference / "gold" / "inputs", true);
}

TEST(MaterializeReference, Fixture4096EqualsTheReferenceInputsBitwise) {
  expect_reference_inputs("fixture4096", kReference / "fixture4096_m64", true);
}

TEST(MaterializeReference, EuclidD8EqualsTheReferenceInputsBitwise) {
  expect_reference_inputs("euclid-d8-8k", kReference / "euclid_d8", false);
}

}  // namespace
}  // namespace ctb
