// run_audit end to end on a small scenario, with and without a reference directory (written
// here from our own answers, then corrupted one file at a time), and the report formats.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "audit/audit.hpp"
#include "audit/checks.hpp"
#include "audit_test_util.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"
#include "scenario/dataset.hpp"
#include "scenario/scenario.hpp"
#include "search/brute_force.hpp"

namespace ctb::audit {
namespace {

namespace fs = std::filesystem;

const char* kScenario = R"(name: audit-small
metric: residual
data: {seed: 42, n: 1500, dim: 3}
queries: {count: 40, seed: 43}
k: 8
residual: {inducing_count: 32}
threads: 2
)";

Scenario small_scenario() { return parse_scenario(kScenario, "audit-small.yaml", {}); }

AuditOptions quiet_options() {
  AuditOptions options;
  options.progress = false;
  options.metric_samples = 2000;
  return options;
}

std::string describe(const AuditReport& report) { return report_table(report); }

const Check* find(const AuditReport& report, const std::string& name) {
  for (const Check& c : report.checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Writes the reference layout (gold/inputs/) from our own data and exact answer.
void write_reference(const fs::path& dir, const Scenario& scenario) {
  const Dataset ds = materialize(scenario);
  ResidualParams params;
  const MetricData data = build_residual(ds.points, ds.dim, ds.inducing, params, 1);
  std::vector<QueryRow> rows;
  for (const int64_t id : ds.query_ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  BruteForceOptions bf;
  bf.k = scenario.k;
  const KnnResult exact = brute_force_knn(data, rows, bf);
  write_npy(dir / "points.npy", {ds.n, ds.dim}, ds.points.data());
  write_npy(dir / "queries.npy", {ds.query_ids.size(), 1}, ds.query_ids.data());
  write_npy(dir / "inducing_idx.npy", {ds.inducing.size()}, ds.inducing.data());
  write_npy(dir / "p_diag.npy", {data.n}, data.p.data());
  const std::vector<size_t> shape{exact.n_queries, exact.k};
  write_npy(dir / "bruteforce_residual_f64_indices.npy", shape, exact.indices.data());
  write_npy(dir / "bruteforce_residual_f64_distances.npy", shape, exact.distances.data());
  // A "float32" answer that got one neighbour of every query wrong.
  KnnResult approx = exact;
  for (size_t q = 0; q < approx.n_queries; ++q) {
    approx.indices[q * approx.k + approx.k - 1] = static_cast<int64_t>(ds.n - 1 - q);
  }
  write_npy(dir / "bruteforce_residual_indices.npy", shape, approx.indices.data());
  write_npy(dir / "bruteforce_residual_distances.npy", shape, approx.distances.data());
}

TEST(RunAudit, SmallScenarioPassesEveryCheck) {
  const AuditReport report = run_audit(small_scenario(), quiet_options());
  EXPECT_TRUE(report.passed()) << describe(report);
  for (const char* name :
       {"exact.well_formed", "exact.recall", "exact.distances", "exact.ranks", "exact.self_found",
        "exact.tree_pruning_only", "index.pivot_rows", "metric.self_distance", "metric.symmetry",
        "metric.triangle", "metric.range", "metric.p_consistency"}) {
    EXPECT_NE(find(report, name), nullptr) << name << "\n" << describe(report);
  }
  EXPECT_FALSE(report.reference_f32_recall.has_value());

  const nlohmann::json j = report_json(report);
  EXPECT_EQ(j["verdict"], "pass");
  ASSERT_TRUE(j["checks"].is_array());
  for (const auto& c : j["checks"]) {
    EXPECT_TRUE(c.contains("name") && c.contains("verdict") && c.contains("detail")) << c.dump();
    EXPECT_EQ(c["verdict"], "pass") << c.dump();
  }
  EXPECT_FALSE(j.contains("reference_f32_recall"));
  const std::string table = report_table(report);
  EXPECT_NE(table.find("verdict: PASS"), std::string::npos) << table;
}

TEST(RunAudit, EuclideanScenarioPasses) {
  const Scenario s = parse_scenario(R"(name: audit-euclid
metric: euclidean
data: {seed: 1, n: 1200, dim: 4}
queries: {count: 30, seed: 2}
k: 6
)",
                                    "audit-euclid.yaml", {});
  const AuditReport report = run_audit(s, quiet_options());
  EXPECT_TRUE(report.passed()) << describe(report);
  EXPECT_EQ(find(report, "metric.p_consistency"), nullptr);
  // The box index answers Euclidean data, and is what the audit checks.
  EXPECT_EQ(report.engine, "box");
  EXPECT_NE(find(report, "index.box"), nullptr) << describe(report);
  EXPECT_EQ(find(report, "tree.radii"), nullptr) << describe(report);

  AuditOptions cover = quiet_options();
  cover.engine = Engine::cover_tree;
  const AuditReport c = run_audit(s, cover);
  EXPECT_TRUE(c.passed()) << describe(c);
  EXPECT_EQ(c.engine, "cover-tree");
  EXPECT_NE(find(c, "index.cover_tree"), nullptr) << describe(c);
  EXPECT_NE(find(c, "tree.radii"), nullptr) << describe(c);

  AuditOptions brute = quiet_options();
  brute.engine = Engine::brute;
  EXPECT_THROW(run_audit(s, brute), InputError);
}

TEST(RunAudit, PredecessorScenarioPasses) {
  const Scenario s = parse_scenario(R"(name: audit-pred
metric: residual
data: {seed: 42, n: 800, dim: 3}
queries: {count: 50, seed: 43}
k: 10
residual: {inducing_count: 16}
query: {predecessor: true}
)",
                                    "audit-pred.yaml", {});
  const AuditReport report = run_audit(s, quiet_options());
  EXPECT_TRUE(report.passed()) << describe(report);
}

TEST(RunAudit, ReferenceParityPassesAndReportsTheFloat32Recall) {
  audit_test::TempDir dir;
  const Scenario s = small_scenario();
  write_reference(dir.path(), s);
  AuditOptions options = quiet_options();
  options.reference_dir = dir.path().string();
  const AuditReport report = run_audit(s, options);
  EXPECT_TRUE(report.passed()) << describe(report);
  for (const char* name : {"reference.points", "reference.query_indices",
                           "reference.inducing_indices", "reference.p", "reference.exact_f64"}) {
    const Check* c = find(report, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_EQ(c->verdict, Verdict::pass) << c->detail;
  }
  ASSERT_TRUE(report.reference_f32_recall.has_value());
  // One of 8 neighbours replaced per query (unless the replacement was already a neighbour).
  EXPECT_NEAR(*report.reference_f32_recall, 7.0 / 8.0, 0.01);
  const nlohmann::json j = report_json(report);
  EXPECT_NEAR(j["reference_f32_recall"].get<double>(), *report.reference_f32_recall, 0.0);
}

TEST(RunAudit, ReferenceWithAChangedPointFails) {
  audit_test::TempDir dir;
  const Scenario s = small_scenario();
  write_reference(dir.path(), s);
  NpyArray points = read_npy(dir.path() / "points.npy");
  std::vector<double> values = points.as_f64();
  values[7] = std::nextafter(values[7], 1e9);  // one bit
  write_npy(dir.path() / "points.npy", points.shape, values.data());
  AuditOptions options = quiet_options();
  options.reference_dir = dir.path().string();
  const AuditReport report = run_audit(s, options);
  EXPECT_FALSE(report.passed());
  const Check* c = find(report, "reference.points");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("element 7"), std::string::npos) << c->detail;
  EXPECT_EQ(report_json(report)["verdict"], "fail");
}

TEST(RunAudit, ReferenceWithAWrongAnswerFails) {
  audit_test::TempDir dir;
  const Scenario s = small_scenario();
  write_reference(dir.path(), s);
  NpyArray d = read_npy(dir.path() / "bruteforce_residual_f64_distances.npy");
  std::vector<double> values = d.as_f64();
  values[3] += 1e-4;  // query 0, rank 3
  write_npy(dir.path() / "bruteforce_residual_f64_distances.npy", d.shape, values.data());
  AuditOptions options = quiet_options();
  options.reference_dir = dir.path().string();
  const AuditReport report = run_audit(s, options);
  const Check* c = find(report, "reference.exact_f64");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->verdict, Verdict::fail);
  EXPECT_NE(c->detail.find("query 0"), std::string::npos) << c->detail;
}

TEST(RunAudit, UnusableReferenceIsAnInputErrorNamingTheFile) {
  audit_test::TempDir dir;
  const Scenario s = small_scenario();
  write_reference(dir.path(), s);
  fs::remove(dir.path() / "p_diag.npy");
  AuditOptions options = quiet_options();
  options.reference_dir = dir.path().string();
  try {
    run_audit(s, options);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("p_diag.npy"), std::string::npos) << e.what();
  }
  std::ofstream(dir.path() / "p_diag.npy") << "not an npy file";
  EXPECT_THROW(run_audit(s, options), InputError);
  options.reference_dir = (dir.path() / "nope").string();
  try {
    run_audit(s, options);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos) << e.what();
  }
}

TEST(RunAudit, GoldReferenceFilesLoad) {
  const fs::path dir = fs::path(CTB_SHARED_DIR) / "reference/covertreex-numba/gold/inputs";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "reference data not found at " << dir;
  const ReferenceFiles ref = load_reference(dir.string());
  EXPECT_EQ(ref.points.size(), 32768u * 3u);
  EXPECT_EQ(ref.query_ids.size(), 1024u);
  EXPECT_EQ(ref.inducing.size(), 512u);
  EXPECT_EQ(ref.p.size(), 32768u);
  EXPECT_EQ(ref.exact_f64.n_queries, 1024u);
  EXPECT_EQ(ref.exact_f64.k, 50u);
  EXPECT_EQ(ref.approx_f32.k, 50u);
}

}  // namespace
}  // namespace ctb::audit
