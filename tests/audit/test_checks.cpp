// The tree and metric checks on small data: they pass on what the library builds and fail, with
// a message naming the problem, on deliberately corrupted trees and metric data.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "audit/checks.hpp"
#include "audit/compare.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "tree/cover_tree.hpp"
#include "tree/hilbert_index.hpp"

namespace ctb::audit {
namespace {

std::vector<double> normal_points(size_t n, size_t dim, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * dim);
  for (double& v : x) v = normal(rng);
  return x;
}

MetricData small_residual(size_t n = 400, size_t m = 40) {
  static const std::vector<double> coords = normal_points(n, 3, 7);
  std::vector<int64_t> inducing;
  for (size_t i = 0; i < m; ++i) inducing.push_back(static_cast<int64_t>(i * (n / m)));
  ResidualParams params;
  return build_residual(coords, 3, inducing, params, 1);
}

const Check* find(const std::vector<Check>& checks, const std::string& name) {
  for (const Check& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string describe(const std::vector<Check>& checks) {
  std::string out;
  for (const Check& c : checks) {
    out += c.name + " " + to_string(c.verdict) + ": " + c.detail + "\n";
  }
  return out;
}

std::vector<int64_t> first_ids(size_t count) {
  std::vector<int64_t> ids(count);
  for (size_t i = 0; i < count; ++i) ids[i] = static_cast<int64_t>(3 * i);
  return ids;
}

KnnResult brute(const MetricData& data, const std::vector<int64_t>& ids, size_t k) {
  std::vector<QueryRow> rows;
  for (const int64_t id : ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  BruteForceOptions options;
  options.k = k;
  return brute_force_knn(data, rows, options);
}

TEST(MetricChecks, PassOnResidualData) {
  const MetricData data = small_residual();
  const std::vector<int64_t> ids = first_ids(30);
  const auto checks = check_metric(data, ids, brute(data, ids, 10), 2000, 1, 1);
  for (const char* name : {"metric.self_distance", "metric.symmetry", "metric.triangle",
                           "metric.range", "metric.p_consistency"}) {
    const Check* c = find(checks, name);
    ASSERT_NE(c, nullptr) << name << "\n" << describe(checks);
    EXPECT_EQ(c->verdict, Verdict::pass) << describe(checks);
  }
}

TEST(MetricChecks, PassOnEuclideanDataWithoutAPCheck) {
  const std::vector<double> coords = normal_points(300, 4, 3);
  const MetricData data = make_euclidean(coords, 4);
  const std::vector<int64_t> ids = first_ids(20);
  const auto checks = check_metric(data, ids, brute(data, ids, 5), 1000, 1, 1);
  for (const Check& c : checks) EXPECT_EQ(c.verdict, Verdict::pass) << describe(checks);
  EXPECT_EQ(find(checks, "metric.p_consistency"), nullptr);
}

TEST(MetricChecks, InconsistentPIsNamed) {
  MetricData data = small_residual();
  data.p[5] *= 2.0;
  const std::vector<int64_t> ids = first_ids(10);
  const auto checks = check_metric(data, ids, brute(data, ids, 5), 200, 1, 1);
  const Check* c = find(checks, "metric.p_consistency");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("row 5"), std::string::npos) << c->detail;
}

TEST(MetricChecks, ErrorBoundIsSmallWhenWellConditioned) {
  const MetricData data = small_residual();
  for (size_t j : {1, 50, 399}) {
    const double bound = residual_distance_error_bound(data, 0, j, 0.5);
    EXPECT_GT(bound, 0.0);
    EXPECT_LT(bound, 1e-6) << "row " << j << " p " << data.p[j];
  }
}

class TreeChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = small_residual();
    tree_ = build_cover_tree(data_, BuildOptions{});
  }
  MetricData data_;
  CoverTree tree_;
};

TEST_F(TreeChecks, PassOnABuiltTree) {
  const auto checks = check_tree(tree_, 2);
  for (const char* name : {"tree.structure", "tree.root", "tree.levels", "tree.subtree_min_id",
                           "tree.radii", "tree.parent_bounds"}) {
    const Check* c = find(checks, name);
    ASSERT_NE(c, nullptr) << name << "\n" << describe(checks);
    EXPECT_EQ(c->verdict, Verdict::pass) << describe(checks);
  }
}

TEST_F(TreeChecks, ShrunkRootRadiusFails) {
  tree_.radius[0] = 0.0;
  const auto checks1 = check_tree(tree_, 1);
  const Check* c = find(checks1, "tree.radii");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("ancestor 0"), std::string::npos) << c->detail;
}

TEST_F(TreeChecks, WrongSubtreeMinimumFails) {
  tree_.subtree_min_id[0] += 1;
  const auto checks2 = check_tree(tree_, 1);
  const Check* c = find(checks2, "tree.subtree_min_id");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("node 0"), std::string::npos) << c->detail;
}

TEST_F(TreeChecks, ChildAtItsParentsLevelFails) {
  ASSERT_GT(tree_.size(), 1u);
  tree_.level[1] = tree_.level[static_cast<size_t>(tree_.parent[1])];
  const auto checks3 = check_tree(tree_, 1);
  const Check* c = find(checks3, "tree.levels");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("node 1"), std::string::npos) << c->detail;
}

TEST_F(TreeChecks, WrongParentBoundsFail) {
  tree_.parent_dist[1] += 0.1;
  const auto checks4 = check_tree(tree_, 1);
  const Check* c = find(checks4, "tree.parent_bounds");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("node 1: parent_dist"), std::string::npos) << c->detail;

  tree_.parent_dist[1] -= 0.1;
  tree_.parent_max[2] = tree_.parent_min[2] - 0.01;
  const auto checks5 = check_tree(tree_, 1);
  c = find(checks5, "tree.parent_bounds");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("parent_max"), std::string::npos) << c->detail;
}

TEST_F(TreeChecks, SecondRootFails) {
  tree_.parent[tree_.size() - 1] = -1;
  const auto checks = check_tree(tree_, 1);
  EXPECT_EQ(find(checks, "tree.root")->verdict, Verdict::fail) << describe(checks);
  EXPECT_EQ(find(checks, "tree.structure")->verdict, Verdict::fail) << describe(checks);
}

TEST_F(TreeChecks, BrokenPermutationFails) {
  std::swap(tree_.node_of_id[0], tree_.node_of_id[1]);
  const auto checks6 = check_tree(tree_, 1);
  const Check* c = find(checks6, "tree.structure");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("node_of_id"), std::string::npos) << c->detail;
}

TEST_F(TreeChecks, TruncatedArraysFailWithoutCrashing) {
  tree_.radius.pop_back();
  const auto checks = check_tree(tree_, 1);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].verdict, Verdict::fail);
  EXPECT_NE(checks[0].detail.find("radius"), std::string::npos) << checks[0].detail;
}

TEST(RunTree, AnswersEqualBruteForce) {
  const MetricData data = small_residual();
  const std::vector<int64_t> ids = first_ids(40);
  std::vector<QueryRow> rows;
  for (const int64_t id : ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  TreeQueryKnobs query;
  query.k = 12;
  const TreeRun run = run_tree(data, TreeBuildParams{}, rows, query);
  const KnnResult truth = brute(data, ids, 12);
  EXPECT_TRUE(compare_knn(run.answer, truth, kSameKernelTolerance).exact());
  EXPECT_TRUE(compare_knn(run.answer_no_fallback, truth, kSameKernelTolerance).exact());
  for (const Check& c : run.checks) EXPECT_EQ(c.verdict, Verdict::pass) << describe(run.checks);
}

// index.pivot_rows passes on the index the library builds and fails when a stored entry is
// corrupted: a quantised correlation moved by more than half a step (outside its group range
// too), one moved within its group's range, a Gram entry, or a group range narrowed.
TEST(PivotRowsCheck, PassesOnTheBuiltIndexAndFailsOnACorruptedEntry) {
  const MetricData data = small_residual();
  HilbertIndexParams hp;
  hp.pivots = 16;
  hp.group_size = 8;
  const HilbertIndex built = build_hilbert_index(data, hp);
  ASSERT_EQ(built.pivots, 16u);
  const Check ok = check_pivot_rows(built, data, 16, 2);
  EXPECT_EQ(ok.name, "index.pivot_rows");
  EXPECT_EQ(ok.verdict, Verdict::pass) << ok.detail;
  {
    HilbertIndex t = built;  // pivot 0, position 5: off by 2 steps (sampled pivot)
    t.rho[5] = static_cast<int16_t>(t.rho[5] > 0 ? t.rho[5] - 2 : t.rho[5] + 2);
    const Check c = check_pivot_rows(t, data, 16, 2);
    EXPECT_EQ(c.verdict, Verdict::fail) << c.detail;
    EXPECT_NE(c.detail.find("a fresh correlation is"), std::string::npos) << c.detail;
  }
  {
    HilbertIndex t = built;  // the last pivot's Gram entry
    t.gram[(t.pivots - 1) * t.pivots] += 1e-6;
    EXPECT_EQ(check_pivot_rows(t, data, 16, 1).verdict, Verdict::fail);
  }
  {
    HilbertIndex t = built;  // a group range that no longer holds its members
    t.group_hi[3] = static_cast<int16_t>(t.group_lo[3] - 1);
    const Check c = check_pivot_rows(t, data, 16, 2);
    EXPECT_EQ(c.verdict, Verdict::fail) << c.detail;
    EXPECT_NE(c.detail.find("range"), std::string::npos) << c.detail;
  }
  {
    HilbertIndex t = built;  // no pivots at all
    t.pivots = 0;
    EXPECT_EQ(check_pivot_rows(t, data, 16, 2).verdict, Verdict::fail);
  }
}

// The audit's run builds and queries each engine's index through `run`'s calls and checks
// the index that answered.
TEST(RunTree, EachEngineIsCheckedByItsIndexChecks) {
  const MetricData data = small_residual();
  const std::vector<int64_t> ids = first_ids(40);
  std::vector<QueryRow> rows;
  for (const int64_t id : ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  TreeQueryKnobs query;
  query.k = 12;
  const KnnResult truth = brute(data, ids, 12);
  for (const Engine engine : {Engine::automatic, Engine::cover_tree}) {
    TreeBuildParams params;
    params.engine = engine;
    const TreeRun run = run_tree(data, params, rows, query);
    const char* want = engine == Engine::automatic ? "index.pivot_rows" : "index.cover_tree";
    EXPECT_EQ(run.engine, engine == Engine::automatic ? Engine::pivot : Engine::cover_tree);
    ASSERT_NE(find(run.checks, want), nullptr) << describe(run.checks);
    EXPECT_TRUE(compare_knn(run.answer, truth, kSameKernelTolerance).exact());
    for (const Check& c : run.checks) EXPECT_EQ(c.verdict, Verdict::pass) << describe(run.checks);
  }
}

}  // namespace
}  // namespace ctb::audit
