#include "telemetry/diff.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "core/error.hpp"
#include "telemetry/json_line.hpp"
#include "telemetry/mapping.hpp"
#include "test_util.hpp"

namespace ctb {
namespace {

using nlohmann::json;
using telemetry_test::read_file;
using telemetry_test::synthetic_run;
using telemetry_test::TempDir;

// Rewrites one row of a log: `edit` gets the parsed object of the first line whose schema_id
// is `schema` and whose `index_key` equals `index`.
std::string edit_row(const std::string& text, const std::string& schema, const char* index_key,
                     int index, const std::function<void(json&)>& edit) {
  std::string out;
  size_t start = 0;
  bool done = false;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    json j = parse_telemetry_line(line, "edit", 1);
    if (!done && j["schema_id"] == schema && j.value(index_key, -1) == index) {
      edit(j);
      line = dump_json(j);
      done = true;
    }
    out += line + "\n";
  }
  EXPECT_TRUE(done);
  return out;
}

TEST(Mapping, BuiltInTableIsTheShippedConfigFile) {
  const std::string shipped = read_file(CTB_SOURCE_DIR "/configs/telemetry_mapping.json");
  EXPECT_EQ(std::string(builtin_mapping_text()), shipped);
  const TelemetryMapping& m = builtin_mapping();
  EXPECT_FALSE(m.aggregates.empty());
  EXPECT_EQ(m.classify("traversal_ms", 1.0, 2.0), FieldClass::timing);
  EXPECT_EQ(m.classify("conflict_adj_scatter_ms", 1.0, 2.0), FieldClass::timing);
  EXPECT_EQ(m.classify("conflict_arena_bytes", 1, 2), FieldClass::memory);
  EXPECT_EQ(m.classify("candidates", 1, 2), FieldClass::counter);
  EXPECT_EQ(m.classify("traversal_scope_chunk_scans", 1, 2), FieldClass::counter);
  EXPECT_EQ(m.classify("traversal_scope_radius_obs_mean", 1.0, 2.0), FieldClass::real);
  EXPECT_EQ(m.classify("runtime", json::object(), json::object()), FieldClass::exact);
  EXPECT_EQ(m.classify("run_id", "a", "b"), FieldClass::ignore);
}

TEST(Mapping, BadTablesAreInputErrors) {
  EXPECT_THROW(parse_mapping("{}", "m.json"), InputError);
  EXPECT_THROW(parse_mapping("not json", "m.json"), InputError);
  std::string text(builtin_mapping_text());
  text.replace(text.find("\"class\": \"counter\""), 18, "\"class\": \"bogus\"");
  EXPECT_THROW(parse_mapping(text, "m.json"), InputError);
}

class DiffFiles : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string ours_ = synthetic_run(4, 3).render();

  DiffResult diff(const std::string& a, const std::string& b, DiffOptions opt = {}) {
    return run_diff(dir_.write("a.jsonl", a), dir_.write("b.jsonl", b), opt);
  }
};

TEST_F(DiffFiles, LogAgainstItselfIsWithinTolerance) {
  const DiffResult r = diff(ours_, ours_);
  EXPECT_EQ(r.exit_code, 0) << r.error << r.output;
  EXPECT_NE(r.output.find("paired by run_hash"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("build_total_ms"), std::string::npos);
  EXPECT_NE(r.output.find("Result: within tolerance"), std::string::npos);
  const json j = json::parse(r.json);
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["pairs"][0]["rows_compared"]["build"], 4);
  EXPECT_EQ(j["pairs"][0]["rows_compared"]["query"], 3);
  EXPECT_EQ(j["pairs"][0]["mismatch_count"], 0);
}

TEST_F(DiffFiles, AlteredQueryCounterFails) {
  const std::string b = edit_row(ours_, "covertree_bench.query_pass", "pass_index", 1,
                                 [](json& j) { j["distance_evals"] = 1000001; });
  const DiffResult r = diff(ours_, b);
  EXPECT_EQ(r.exit_code, 1) << r.error << r.output;
  const json j = json::parse(r.json);
  ASSERT_EQ(j["pairs"][0]["mismatch_count"], 1);
  const json& mm = j["pairs"][0]["mismatches"][0];
  EXPECT_EQ(mm["field"], "distance_evals");
  EXPECT_EQ(mm["row"], "query");
  EXPECT_EQ(mm["index"], 1);
  EXPECT_EQ(mm["class"], "counter");
  EXPECT_NE(r.output.find("OUTSIDE tolerance"), std::string::npos);
}

TEST_F(DiffFiles, TimingBeyondToleranceFailsAndWithinPasses) {
  const std::string far = edit_row(ours_, "covertree_bench.build_batch", "batch_index", 2,
                                   [](json& j) { j["traversal_ms"] = 200.0; });
  const DiffResult r = diff(ours_, far);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("traversal_ms"), std::string::npos);

  const std::string near = edit_row(ours_, "covertree_bench.build_batch", "batch_index", 2,
                                    [](json& j) { j["traversal_ms"] = 103.0; });
  EXPECT_EQ(diff(ours_, near).exit_code, 0);
  // The tolerance is settable: 1% rejects a 1% change in one batch (102 -> 103).
  DiffOptions strict;
  strict.timing_rel_tol = 0.001;
  EXPECT_EQ(diff(ours_, near, strict).exit_code, 1);
}

TEST_F(DiffFiles, NaNEqualsNaNButNotANumber) {
  const auto set_recall = [&](double v) {
    return edit_row(ours_, "covertree_bench.query_pass", "pass_index", 0,
                    [v](json& j) { j["recall"] = v; });
  };
  const std::string nan_log = set_recall(std::nan(""));
  EXPECT_EQ(diff(nan_log, nan_log).exit_code, 0);
  EXPECT_EQ(diff(nan_log, set_recall(1.0)).exit_code, 1);
}

TEST_F(DiffFiles, MalformedLineIsExit2NamingTheLine) {
  std::string bad = ours_;
  const size_t second = bad.find('\n') + 1;
  bad.insert(bad.find('\n', second) + 1, "{\"schema_id\": \"covertree_bench.run\", oops\n");
  const DiffResult r = diff(ours_, bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.error.find("b.jsonl:3:"), std::string::npos) << r.error;
  EXPECT_TRUE(r.output.empty());
  const DiffResult missing = run_diff(dir_.path() / "nope.jsonl", dir_.path() / "nope.jsonl", {});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.error.find("nope.jsonl"), std::string::npos);
}

TEST_F(DiffFiles, DifferentConfigurationsNeedForce) {
  RunInfo other = telemetry_test::gold_like_info();
  other.k = 8;
  TelemetryWriter w(other, "ctb-other");
  const std::string b = w.render();
  const DiffResult refused = diff(ours_, b);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.error.find("k: 50 vs 8"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("--force"), std::string::npos);
  EXPECT_NE(refused.error.find("a.jsonl:1"), std::string::npos) << refused.error;
  DiffOptions force;
  force.force = true;
  const DiffResult forced = diff(ours_, b, force);
  EXPECT_EQ(forced.exit_code, 1);  // B has no batches: rows only in A
  EXPECT_NE(forced.output.find("config DIFFERS (compared anyway: --force)"), std::string::npos);
  EXPECT_NE(forced.output.find("only in A"), std::string::npos);
}

TEST_F(DiffFiles, AppendedRunsPairByHashThenPosition) {
  const std::string two =
      synthetic_run(2, 2, "ctb-1").render() + synthetic_run(2, 2, "ctb-2").render();
  const DiffResult r = diff(two, two);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const json j = json::parse(r.json);
  ASSERT_EQ(j["pairs"].size(), 2u);
  // Equal hashes pair first-come: ctb-1 with ctb-1, ctb-2 with ctb-2.
  EXPECT_EQ(j["pairs"][1]["run_id_a"], "ctb-2");
  EXPECT_EQ(j["pairs"][1]["run_id_b"], "ctb-2");
  // One extra run on one side is reported and fails.
  EXPECT_EQ(diff(two, synthetic_run(2, 2, "ctb-1").render()).exit_code, 1);
}

TEST_F(DiffFiles, JsonAndMarkdownOutputs) {
  DiffOptions opt;
  opt.markdown = true;
  opt.json_path = dir_.path() / "report.json";
  const DiffResult r = diff(ours_, ours_, opt);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("| aggregate | unit |"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(opt.json_path), r.json);
}

TEST_F(DiffFiles, ReferenceLogAgainstItself) {
  const std::string v2 = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v2_gold_warm1_batch00-01.jsonl");
  const DiffResult r = diff(v2, v2);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string v1 = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v1_pairmerge32k_run1_batch32_steady.jsonl");
  EXPECT_EQ(diff(v1, v1).exit_code, 0);
  // A timing edit in a reference row is caught with the reference's own field names.
  const std::string slow = edit_row(v2, "covertreex.benchmark_batch.v2", "batch_index", 1,
                                    [](json& j) { j["traversal_semisort_ms"] = 1e6; });
  const DiffResult rs = diff(v2, slow);
  EXPECT_EQ(rs.exit_code, 1);
  EXPECT_NE(rs.output.find("traversal_semisort_ms"), std::string::npos);
}

TEST_F(DiffFiles, OursAgainstReferenceShowsBothSidesAggregates) {
  const std::string v2 = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v2_gold_warm1_batch00-01.jsonl");
  DiffOptions force;
  force.force = true;
  const DiffResult r = diff(synthetic_run(2, 3).render(), v2, force);
  ASSERT_NE(r.exit_code, 2) << r.error;
  const json j = json::parse(r.json);
  const json& p = j["pairs"][0];
  EXPECT_EQ(p["source_a"], "covertree_bench");
  EXPECT_EQ(p["source_b"], "covertreex.v2");
  EXPECT_TRUE(p["config_differences"].empty()) << p["config_differences"].dump();
  bool found = false;
  for (const auto& ag : p["aggregates"]) {
    if (ag["name"] != "build_total_ms") continue;
    found = true;
    EXPECT_EQ(ag["a"]["n"], 2);
    EXPECT_EQ(ag["b"]["n"], 2);
    EXPECT_GT(ag["b"]["sum"].get<double>(), 100.0);
  }
  EXPECT_TRUE(found);
  // The reference's extra fields are listed, and ours too.
  EXPECT_FALSE(p["only_in_b"]["build"].empty());
  EXPECT_FALSE(p["only_in_a"]["build"].empty());
}

TEST(DiffGold, OursAgainstGoldWarm1PrintsAlignedAggregates) {
  const std::filesystem::path gold(CTB_SHARED_DIR
                                   "/reference/covertreex-numba/gold/runs/gold_warm1.jsonl");
  if (!std::filesystem::exists(gold)) GTEST_SKIP() << gold << " is absent (../shared missing)";
  TempDir dir;
  const auto ours = dir.path() / "ours.jsonl";
  synthetic_run(64, 3).append_to(ours);
  DiffOptions force;
  force.force = true;
  const DiffResult r = run_diff(ours, gold, force);
  ASSERT_NE(r.exit_code, 2) << r.error;
  for (const char* name : {"build_rows", "build_total_ms", "traversal_ms", "conflict_graph_ms",
                           "mis_ms", "candidates"}) {
    EXPECT_NE(r.output.find(name), std::string::npos) << name;
  }
  const json j = json::parse(r.json);
  for (const auto& ag : j["pairs"][0]["aggregates"]) {
    if (ag["name"] == "build_rows" || ag["name"] == "candidates") {
      EXPECT_EQ(ag["a"]["sum"], ag["b"]["sum"]) << ag.dump();  // 64 rows, 32768 points
    }
  }
}

}  // namespace
}  // namespace ctb
