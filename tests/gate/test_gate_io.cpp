// Baseline files, the JSON report and the table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "gate/gate.hpp"
#include "gate/gate_io.hpp"

namespace ctb::gate {
namespace {

Measurement sample() {
  Measurement m;
  m.scenario = "tiny";
  m.n_queries = 64;
  m.recall = 1.0;
  m.counters = {{"queries", 64}, {"distance_evals", 4096}, {"tree_depth", 7}};
  m.answer_checksum = std::string(64, 'a');
  m.query_seconds = {0.01, 0.011, 0.0105};
  m.brute_seconds = {0.05, 0.051, 0.052};
  m.build_seconds = {0.02, 0.021, 0.022};
  return m;
}

Baseline sample_baseline() {
  Baseline b;
  b.fingerprint = {"AMD EPYC", "AVX3", 2, "GNU 12.2.0", "Release"};
  b.repeat = 3;
  b.warmup = 1;
  b.git_revision = "abc";
  b.policy.query.threshold = 0.2;
  b.scenarios = {sample()};
  return b;
}

TEST(GateIo, BaselineRoundTrips) {
  const Baseline b = sample_baseline();
  const Baseline r = baseline_from_json(nlohmann::json::parse(to_json(b).dump()), "test");
  EXPECT_EQ(r.fingerprint, b.fingerprint);
  EXPECT_EQ(r.repeat, 3u);
  EXPECT_EQ(r.git_revision, "abc");
  EXPECT_DOUBLE_EQ(r.policy.query.threshold, 0.2);
  ASSERT_EQ(r.scenarios.size(), 1u);
  const Measurement& m = r.scenarios[0];
  EXPECT_EQ(m.scenario, "tiny");
  EXPECT_EQ(m.counters, b.scenarios[0].counters);
  EXPECT_EQ(m.query_seconds, b.scenarios[0].query_seconds);
  EXPECT_EQ(m.brute_seconds, b.scenarios[0].brute_seconds);
  EXPECT_EQ(m.answer_checksum, b.scenarios[0].answer_checksum);
  EXPECT_TRUE(m.counters_stable);
  ASSERT_NE(r.find("tiny"), nullptr);
  EXPECT_EQ(r.find("other"), nullptr);
  // The same data judged against itself passes.
  EXPECT_EQ(evaluate(r.fingerprint, r.scenarios, b.fingerprint, b.scenarios, r.policy).verdict,
            Verdict::pass);
}

TEST(GateIo, NullFiguresLoadAsMissingAndFail) {
  nlohmann::json j = to_json(sample_baseline());
  j["scenarios"][0]["build_seconds"] = nullptr;
  j["scenarios"][0]["recall"] = nullptr;
  j["scenarios"][0]["counters"]["distance_evals"] = nullptr;
  const Baseline b = baseline_from_json(j, "test");
  const Measurement& m = b.scenarios[0];
  EXPECT_TRUE(m.build_seconds.empty());
  EXPECT_TRUE(std::isnan(m.recall));
  EXPECT_EQ(m.counters.count("distance_evals"), 0u);
  const GateReport r = evaluate(b.fingerprint, b.scenarios, b.fingerprint, {sample()}, b.policy);
  EXPECT_EQ(r.verdict, Verdict::fail);
}

TEST(GateIo, MalformedBaselinesAreInputErrors) {
  const nlohmann::json good = to_json(sample_baseline());
  auto broken = [&](auto edit) {
    nlohmann::json j = good;
    edit(j);
    return j;
  };
  EXPECT_THROW(baseline_from_json(broken([](auto& j) { j["schema_id"] = "x"; }), "t"), InputError);
  EXPECT_THROW(baseline_from_json(broken([](auto& j) { j["schema_version"] = 99; }), "t"),
               InputError);
  EXPECT_THROW(baseline_from_json(broken([](auto& j) { j.erase("fingerprint"); }), "t"),
               InputError);
  EXPECT_THROW(
      baseline_from_json(broken([](auto& j) { j["scenarios"] = nlohmann::json::array(); }), "t"),
      InputError);
  EXPECT_THROW(
      baseline_from_json(broken([](auto& j) { j["scenarios"][0]["counters"]["k"] = "x"; }), "t"),
      InputError);
  EXPECT_THROW(
      baseline_from_json(broken([](auto& j) { j["policy"]["query"]["threshold"] = -1; }), "t"),
      InputError);
  EXPECT_THROW(baseline_from_json(broken([](auto& j) { j["policy"]["typo"] = 1; }), "t"),
               InputError);
  EXPECT_THROW(
      baseline_from_json(broken([](auto& j) { j["scenarios"].push_back(j["scenarios"][0]); }), "t"),
      InputError);
  EXPECT_THROW(load_baseline("/nonexistent/baseline.json"), InputError);
}

TEST(GateIo, SaveAndLoadFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("ctb_gate_io_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "b.json";
  save_baseline(path, sample_baseline());
  EXPECT_EQ(load_baseline(path).scenarios.size(), 1u);
  std::ofstream(dir / "bad.json") << "{ not json";
  EXPECT_THROW(load_baseline(dir / "bad.json"), InputError);
  std::filesystem::remove_all(dir);
}

TEST(GateIo, ReportJsonAndTableAgree) {
  Measurement slow = sample();
  for (double& t : slow.query_seconds) t *= 2;
  slow.counters["distance_evals"] = 5000;
  const Baseline b = sample_baseline();
  const GateReport r = evaluate(b.fingerprint, b.scenarios, b.fingerprint, {slow}, b.policy);
  ASSERT_EQ(r.verdict, Verdict::fail);

  const nlohmann::json j = report_json(r);
  EXPECT_EQ(j["verdict"], "fail");
  ASSERT_EQ(j["checks"].size(), r.checks.size());
  size_t failed = 0;
  for (const auto& c : j["checks"]) {
    for (const char* key : {"name", "baseline", "current", "ratio", "verdict"}) {
      EXPECT_TRUE(c.contains(key)) << key;
    }
    failed += c["verdict"] == "fail";
  }
  EXPECT_EQ(failed, 2u);  // distance_evals and the query speed-up, both reported

  const std::string table = report_table(r);
  for (const Check& c : r.checks) EXPECT_NE(table.find(c.name()), std::string::npos) << c.name();
  EXPECT_NE(table.find("FAIL"), std::string::npos);
  EXPECT_NE(table.find("gate: fail"), std::string::npos);
  EXPECT_NE(table.find("tiny/distance_evals"), std::string::npos);
  EXPECT_NE(table.find("tiny/query_speedup_vs_brute"), std::string::npos);
}

TEST(GateIo, NanIsNullInTheReport) {
  Measurement m = sample();
  m.recall = kNaN;
  const Baseline b = sample_baseline();
  const GateReport r = evaluate(b.fingerprint, b.scenarios, b.fingerprint, {m}, b.policy);
  const nlohmann::json j = report_json(r);
  bool seen = false;
  for (const auto& c : j["checks"]) {
    if (c["figure"] == "recall_vs_brute") {
      EXPECT_TRUE(c["current"].is_null());
      EXPECT_EQ(c["verdict"], "fail");
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

TEST(GateIo, AdvisoryIsShown) {
  Baseline b = sample_baseline();
  Fingerprint other = b.fingerprint;
  other.compiler = "Clang 16";
  Measurement slow = sample();
  for (double& t : slow.query_seconds) t *= 2;
  const GateReport r = evaluate(b.fingerprint, b.scenarios, other, {slow}, b.policy);
  EXPECT_EQ(r.verdict, Verdict::pass);
  const std::string table = report_table(r);
  EXPECT_NE(table.find("FAIL (advisory)"), std::string::npos);
  EXPECT_NE(table.find("fingerprint differs"), std::string::npos);
  EXPECT_NE(table.find("compiler"), std::string::npos);
  EXPECT_EQ(report_json(r)["time_advisory"], true);
}

}  // namespace
}  // namespace ctb::gate
