#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

#include "core/error.hpp"
#include "telemetry/json_line.hpp"
#include "telemetry/reader.hpp"
#include "telemetry/telemetry.hpp"
#include "test_util.hpp"

namespace ctb {
namespace {

using nlohmann::json;
using telemetry_test::gold_like_info;
using telemetry_test::read_file;
using telemetry_test::synthetic_run;
using telemetry_test::TempDir;

TEST(RunId, HasTheDocumentedShapeAndDiffers) {
  const std::regex shape("ctb-[0-9]{8}-[0-9]{6}-[0-9a-f]{6}");
  const std::string a = make_run_id();
  EXPECT_TRUE(std::regex_match(a, shape)) << a;
  // 24 random bits: two ids colliding in a row would be a 1-in-16M fluke or a broken generator.
  EXPECT_NE(a, make_run_id());
}

TEST(RunHash, CoversConfigurationAndSeedsOnly) {
  RunInfo a = gold_like_info();
  RunInfo b = a;
  b.hostname = "elsewhere";
  b.cpu_model = "Other CPU";
  b.build_seconds = 99;
  b.qps_best = 1;
  EXPECT_EQ(compute_run_hash(a), compute_run_hash(b));
  EXPECT_EQ(compute_run_hash(a).size(), 64u);
  b.data_seed = 43;
  EXPECT_NE(compute_run_hash(a), compute_run_hash(b));
  b = a;
  b.query_seed.reset();
  EXPECT_NE(compute_run_hash(a), compute_run_hash(b));
  b = a;
  b.k = 51;
  EXPECT_NE(compute_run_hash(a), compute_run_hash(b));
}

TEST(RunConfig, KeysAreTheDocumentedConfigKeys) {
  const json c = run_config_json(gold_like_info());
  for (auto it = c.begin(); it != c.end(); ++it) {
    const auto& keys = run_config_keys();
    EXPECT_NE(std::find(keys.begin(), keys.end(), it.key()), keys.end()) << it.key();
  }
}

TEST(TelemetryWriter, RowsRoundTripThroughTheReader) {
  const TelemetryWriter w = synthetic_run(4, 3);
  const std::string text = w.render();
  const TelemetryLog log = parse_telemetry_log(text, "ours.jsonl");
  ASSERT_EQ(log.runs.size(), 1u);
  const TelemetryRun& run = log.runs[0];
  EXPECT_EQ(run.run_id, w.run_id());
  EXPECT_EQ(run.run_hash, w.run_hash());
  EXPECT_EQ(run.source, LogSource::ours);
  EXPECT_EQ(run.count(RowKind::run), 1u);
  EXPECT_EQ(run.count(RowKind::build), 4u);
  EXPECT_EQ(run.count(RowKind::query), 3u);

  const json& r = run.first(RowKind::run)->fields;
  EXPECT_EQ(r["schema_id"], "covertree_bench.run");
  EXPECT_EQ(r["schema_version"], 1);
  EXPECT_EQ(r["tree_points"], 32768);
  EXPECT_EQ(r["dimension"], 3);
  EXPECT_EQ(r["batch_order_strategy"], "natural");
  EXPECT_DOUBLE_EQ(r["build_ms"].get<double>(), 1250.0);
  EXPECT_EQ(r["build_batches"], 4);
  EXPECT_FALSE(r.contains("backend_ms"));  // unknown headline figures are omitted

  const json& b = run.rows[2].fields;  // second build row
  EXPECT_EQ(b["schema_id"], "covertree_bench.build_batch");
  EXPECT_EQ(b["batch_index"], 1);
  EXPECT_EQ(b["selected"], 7);
  EXPECT_EQ(b["dominated"], 505);
  EXPECT_TRUE(b["traversal_ms"].is_number_float());
  EXPECT_DOUBLE_EQ(b["traversal_ms"].get<double>(), 101.0);
  EXPECT_EQ(b["rss_delta_bytes"], 4096);
  EXPECT_EQ(b["level"], 2);

  const json& q = run.rows.back().fields;
  EXPECT_EQ(q["schema_id"], "covertree_bench.query_pass");
  EXPECT_EQ(q["pass_index"], 2);
  EXPECT_EQ(q["warmup"], false);
  EXPECT_EQ(q["distance_evals"], 1000000);
  EXPECT_EQ(q["block_size_hist"], json({0, 1, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(q["blocks"], 2);
  EXPECT_NEAR(q["qps"].get<double>(), 1024 / 0.52, 1e-9);
  EXPECT_TRUE(run.rows[5].fields["warmup"].get<bool>());

  // Each line is exactly what the writer's serializer produces from the parsed row: keys
  // sorted, Python spelling.
  size_t start = 0;
  for (const auto& row : run.rows) {
    const size_t end = text.find('\n', start);
    EXPECT_EQ(text.substr(start, end - start), dump_json(row.fields));
    start = end + 1;
  }
}

TEST(TelemetryWriter, NonFiniteValuesAreWrittenAndReadAsBareTokens) {
  TelemetryWriter w(gold_like_info(), "ctb-x");
  QueryPassStats q;
  q.query_ms = 0;  // qps = Infinity
  q.counters.queries = 5;
  q.recall = std::nan("");
  w.add_query_pass(q);
  const std::string text = w.render();
  EXPECT_NE(text.find("\"qps\": Infinity"), std::string::npos);
  EXPECT_NE(text.find("\"recall\": NaN"), std::string::npos);
  const TelemetryLog log = parse_telemetry_log(text, "nf.jsonl");
  const json& row = log.runs[0].rows.back().fields;
  EXPECT_EQ(row["qps"].get<double>(), INFINITY);
  EXPECT_TRUE(std::isnan(row["recall"].get<double>()));
}

TEST(TelemetryWriter, AppendingRunsKeepsEachRunSeparate) {
  TempDir dir;
  const auto path = dir.path() / "log.jsonl";
  synthetic_run(2, 2, "ctb-run-a").append_to(path);
  synthetic_run(3, 1, "ctb-run-b").append_to(path);
  const TelemetryLog log = read_telemetry_file(path);
  ASSERT_EQ(log.runs.size(), 2u);
  EXPECT_EQ(log.runs[0].run_id, "ctb-run-a");
  EXPECT_EQ(log.runs[0].count(RowKind::build), 2u);
  EXPECT_EQ(log.runs[1].run_id, "ctb-run-b");
  EXPECT_EQ(log.runs[1].count(RowKind::build), 3u);
  EXPECT_EQ(log.runs[1].first_line, 6u);  // 1 run + 2 build + 2 query rows before it
  const std::string text = read_file(path);
  EXPECT_EQ(text.back(), '\n');
}

TEST(Reader, ClassifiesReferenceRows) {
  const std::string v2 = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v2_gold_warm1_batch00-01.jsonl");
  const TelemetryLog log = parse_telemetry_log(v2, "gold.jsonl");
  ASSERT_EQ(log.runs.size(), 1u);
  EXPECT_EQ(log.runs[0].source, LogSource::covertreex_v2);
  EXPECT_EQ(log.runs[0].count(RowKind::build), 2u);
  EXPECT_EQ(log.runs[0].rows[1].index, 1);
  EXPECT_EQ(log.runs[0].run_hash.size(), 64u);

  const std::string v1 = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v1_pairmerge32k_run1_batch32_steady.jsonl");
  const TelemetryLog l1 = parse_telemetry_log(v1, "v1.jsonl");
  EXPECT_EQ(l1.runs[0].source, LogSource::covertreex_v1);
  EXPECT_EQ(l1.runs[0].rows[0].index, 32);
  EXPECT_TRUE(l1.runs[0].run_hash.empty());

  const std::string ev = read_file(std::filesystem::path(CTB_FIXTURES_DIR) /
                                   "telemetry/v2_query_summary_event_CONSTRUCTED.jsonl");
  const TelemetryLog le = parse_telemetry_log(ev, "ev.jsonl");
  EXPECT_EQ(le.runs[0].rows[0].kind, RowKind::query_summary);
}

void expect_log_error(const std::string& text, const std::string& needle) {
  try {
    parse_telemetry_log(text, "x.jsonl");
    ADD_FAILURE() << "no error for: " << text;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Reader, RejectsRowsItCannotUse) {
  const std::string good = synthetic_run(1, 0).render();
  expect_log_error("", "x.jsonl: no telemetry rows");
  expect_log_error(good + "{\"a\": 1}\n", "x.jsonl:3: not a telemetry row");
  expect_log_error(good + "\n{\"schema_id\": \"other\", \"run_id\": \"r\"}\n",
                   "x.jsonl:4: unknown schema_id");
  expect_log_error(good + "not json\n", "x.jsonl:3: column 1");
  expect_log_error(
      "{\"run_id\": \"r\", \"schema_id\": \"covertree_bench.build_batch\", "
      "\"schema_version\": 1}\n",
      "x.jsonl:1: missing \"batch_index\"");
  expect_log_error(
      "{\"run_id\": \"r\", \"schema_id\": \"covertree_bench.run\", \"schema_version\": 9}\n",
      "not supported");
  // The same batch twice in one run.
  const std::string line = good.substr(good.find('\n') + 1);
  expect_log_error(good + line, "x.jsonl:3: duplicate build row index 0");
}

}  // namespace
}  // namespace ctb
