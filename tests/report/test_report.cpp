// report: its content from fixed telemetry fixtures (ours: a run with per-query rows and a
// sweep; the reference's v2 batch rows), the page's structure, and the page opened in headless
// Chromium: every chart drawn, no script error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "chromium.hpp"
#include "common/temp_dir.hpp"
#include "core/error.hpp"
#include "report/report.hpp"
#include "report/report_assets.hpp"
#include "report/report_data.hpp"
#include "report/report_html.hpp"
#include "sweep/pareto.hpp"
#include "telemetry/reader.hpp"

namespace ctb {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kFixtures = fs::path(CTB_FIXTURES_DIR);
const fs::path kRunLog = kFixtures / "report" / "run_queries.jsonl";  // run --telemetry-queries
const fs::path kSweepLog = kFixtures / "report" / "sweep.jsonl";      // sweep --telemetry
const fs::path kTreeLog = kFixtures / "report" / "tree_sweep.jsonl";  // cover tree, 4 builds
const fs::path kRefLog = kFixtures / "telemetry" / "v2_gold_warm1_batch00-01.jsonl";

std::string slurp_text(const fs::path& p) { return report_test::slurp(p); }

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::vector<TelemetryLog> fixture_logs() {
  return {read_telemetry_file(kRunLog), read_telemetry_file(kSweepLog),
          read_telemetry_file(kRefLog)};
}

TEST(ReportData, RunsSweepsAndReferenceFromFixtures) {
  const std::vector<TelemetryLog> logs = fixture_logs();
  const json data = build_report_data(logs, std::nullopt);
  size_t runs = 0;
  for (const auto& l : logs) runs += l.runs.size();
  ASSERT_EQ(data["runs"].size(), runs);
  ASSERT_GE(logs[1].runs.size(), 2u);

  // The run with --telemetry-queries: its per-query distribution, from its rows.
  const json& run = data["runs"][0];
  const TelemetryRun& src = logs[0].runs[0];
  ASSERT_TRUE(run.contains("evals_per_query"));
  const json& e = run["evals_per_query"];
  EXPECT_EQ(e["n"].get<size_t>(), src.count(RowKind::per_query));
  uint64_t binned = 0, max_evals = 0;
  for (const json& b : e["bins"]) binned += b["count"].get<uint64_t>();
  for (const auto& row : src.rows) {
    if (row.kind == RowKind::per_query) {
      max_evals = std::max(max_evals, row.fields["distance_evals"].get<uint64_t>());
    }
  }
  EXPECT_EQ(binned, e["n"].get<uint64_t>());
  EXPECT_EQ(e["max"].get<double>(), static_cast<double>(max_evals));
  EXPECT_LE(e["p50"].get<double>(), e["p99"].get<double>());
  EXPECT_EQ(run["passes"].size(), src.count(RowKind::query));
  EXPECT_EQ(run["build_rows"].size(), src.count(RowKind::build));
  const json& head = src.first(RowKind::run)->fields;
  EXPECT_DOUBLE_EQ(run["speedup_vs_brute"].get<double>(),
                   head["brute_ms_best"].get<double>() / head["query_ms_best"].get<double>());
  EXPECT_EQ(run["run_hash"], head["run_hash"]);
  EXPECT_TRUE(run["machine"].contains("cpu_model"));

  // The sweep: one point per run, the front recomputed by the one rule.
  ASSERT_EQ(data["sweeps"].size(), 1u);
  const json& sweep = data["sweeps"][0];
  ASSERT_EQ(sweep["points"].size(), logs[1].runs.size());
  std::vector<std::pair<double, double>> rq;
  for (const json& p : sweep["points"]) rq.emplace_back(p["recall"], p["qps_best"]);
  const std::vector<bool> front = pareto_front(rq);
  for (size_t i = 0; i < front.size(); ++i) {
    EXPECT_EQ(sweep["points"][i]["pareto"].get<bool>(), front[i]) << i;
  }
  EXPECT_TRUE(sweep["brute_qps"].is_number());

  // The reference: its batch rows as a build profile; build time = traversal + conflict + MIS.
  const json& ref = data["runs"][runs - 1];
  EXPECT_EQ(ref["source"], "covertreex.v2");
  double want_ms = 0;
  for (const auto& row : logs[2].runs[0].rows) {
    const json& f = row.fields;
    want_ms += f["traversal_ms"].get<double>() + f["conflict_graph_ms"].get<double>() +
               f["mis_ms"].get<double>();
  }
  EXPECT_EQ(ref["build_rows"].size(), logs[2].runs[0].count(RowKind::build));
  EXPECT_DOUBLE_EQ(ref["build_ms"].get<double>(), want_ms);
}

TEST(ReportHtml, EveryChartHasACanvasAndThePageIsSelfContained) {
  const json data = build_report_data(fixture_logs(), std::nullopt);
  const std::string html = render_report_html(data);
  for (const char* chart : {"pass-times", "evals-per-query", "build-levels", "build-counts"}) {
    EXPECT_EQ(count(html, std::string("<canvas data-chart=\"") + chart + "\""), 1u) << chart;
  }
  EXPECT_EQ(count(html, "<canvas data-chart=\"pareto\" data-sweep=\"0\""), 1u);
  EXPECT_EQ(count(html, "<tr class=\"run\">"), data["runs"].size());
  // Chart.js is inlined whole; nothing is loaded from anywhere.
  EXPECT_NE(html.find(report_detail::kChartJs), std::string::npos);
  std::string ours = html;
  ours.erase(ours.find(report_detail::kChartJs), std::string(report_detail::kChartJs).size());
  for (const char* ref : {"http://", "https://", "src=", "href=", "<link", "url(", "@import"}) {
    EXPECT_EQ(ours.find(ref), std::string::npos) << ref;
  }
  for (const char* ref : {"<script src", "<link", "<img", "<iframe"}) {
    EXPECT_EQ(html.find(ref), std::string::npos) << ref;
  }
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  // The inline data is the report data.
  const std::string open = "<script id=\"report-data\" type=\"application/json\">";
  const size_t at = html.find(open) + open.size();
  const std::string blob = html.substr(at, html.find("</script>", at) - at);
  EXPECT_EQ(blob.find('<'), std::string::npos);
  EXPECT_EQ(json::parse(blob), data);
}

// The cover-tree sweep: each run carries its tree's shape, and the page draws tree-quality.
TEST(ReportHtml, CoverTreeRunsGetTheTreeQualityChart) {
  const json data = build_report_data({read_telemetry_file(kTreeLog)}, std::nullopt);
  ASSERT_EQ(data["runs"].size(), 4u);
  for (const json& r : data["runs"]) {
    ASSERT_TRUE(r.contains("tree_quality")) << r.dump();
    const json& q = r["tree_quality"];
    EXPECT_GT(q["tree_depth"].get<int64_t>(), 1);
    EXPECT_GT(q["branching_mean"].get<double>(), 1.0);
    EXPECT_GE(q["waste"].get<double>(), 0.0);
    EXPECT_FALSE(q["levels"].empty());
    // The build rows name their phases: the cover tree's levels, then its own phases.
    bool radii = false;
    for (const json& b : r["build_rows"]) radii = radii || b["phase"] == "radii";
    EXPECT_TRUE(radii) << r.dump();
  }
  const std::string html = render_report_html(data);
  EXPECT_EQ(count(html, "<canvas data-chart=\"tree-quality\""), 1u);
  EXPECT_EQ(count(html, "<table id=\"tree-quality\">"), 1u);
  // Logs without a cover tree draw no tree-quality chart.
  const std::string plain = render_report_html(build_report_data(fixture_logs(), std::nullopt));
  EXPECT_EQ(plain.find("data-chart=\"tree-quality\""), std::string::npos);
}

TEST(ReportHtml, WithoutPerQueryRowsSaysHowToGetThem) {
  const json data = build_report_data({read_telemetry_file(kSweepLog)}, std::nullopt);
  const std::string html = render_report_html(data);
  EXPECT_EQ(html.find("data-chart=\"evals-per-query\""), std::string::npos);
  EXPECT_NE(html.find("--telemetry-queries"), std::string::npos);
}

TEST(ReportHtml, EscapesText) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

TEST(Report, GateVerdictTable) {
  test_support::TempDir dir;
  const fs::path verdict = dir.write("verdict.json", R"({"verdict": "fail", "checks": [
    {"name": "tiny/qps", "baseline": 10, "current": 5, "ratio": 0.5, "allowed_worsening": 1.3,
     "verdict": "fail", "advisory": false, "note": "regression <2x>"},
    {"name": "tiny/evals", "baseline": 7, "current": 7, "ratio": 1, "allowed_worsening": 1,
     "verdict": "pass", "advisory": false, "note": ""}]})");
  ReportInputs in;
  in.logs = {kRunLog};
  in.gate_verdict = verdict;
  const ReportOutput out = make_report(in);
  EXPECT_NE(out.html.find("<table id=\"gate\">"), std::string::npos);
  EXPECT_NE(out.html.find("tiny/qps"), std::string::npos);
  EXPECT_NE(out.html.find("regression &lt;2x&gt;"), std::string::npos);
  EXPECT_TRUE(out.warnings.empty());

  in.gate_verdict = dir.write("bad.json", R"({"checks": 3})");
  EXPECT_THROW(make_report(in), InputError);
  in.gate_verdict = dir.write("notjson.json", "{");
  EXPECT_THROW(make_report(in), InputError);
}

TEST(Report, TornLastLineIsAWarningAndTheRestIsRead) {
  test_support::TempDir dir;
  const std::string text = slurp_text(kRunLog);
  const size_t lines = count(text, "\n");
  const fs::path torn = dir.write("torn.jsonl", text + text.substr(0, 40));
  ReportInputs in;
  in.logs = {torn};
  const ReportOutput out = make_report(in);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0],
            torn.string() + ":" + std::to_string(lines + 1) + ": torn last line skipped");
  EXPECT_NE(out.html.find("<tr class=\"run\">"), std::string::npos);
}

// --- the page in a real browser -------------------------------------------------------------

bool have_chromium() { return ::access(report_test::kChromium, X_OK) == 0; }

TEST(ReportInChromium, EveryChartIsDrawnAndNoScriptFails) {
  if (!have_chromium()) {
    GTEST_SKIP() << report_test::kChromium
                 << " not found: install Debian's chromium (scripts/setup.sh does)";
  }
  test_support::TempDir dir;
  const fs::path page = dir.path() / "report.html";
  ReportInputs in;
  in.logs = {kRunLog, kSweepLog, kRefLog, kTreeLog};
  std::ofstream(page, std::ios::binary) << make_report(in).html;
  const report_test::BrowserResult r = report_test::dump_dom(page, dir.path());
  ASSERT_TRUE(r.ran) << r.log;
  const std::vector<std::string> canvases = report_test::canvas_tags(r.dom);
  std::set<std::string> names;
  for (const std::string& tag : canvases) {
    names.insert(report_test::attribute(tag, "data-chart"));
    EXPECT_EQ(report_test::attribute(tag, "data-drawn"), "1") << tag;
  }
  EXPECT_EQ(names, (std::set<std::string>{"pass-times", "evals-per-query", "build-levels",
                                          "build-counts", "tree-quality", "pareto"}));
  const size_t html_at = r.dom.find("<html");
  ASSERT_NE(html_at, std::string::npos);
  const std::string html_tag = r.dom.substr(html_at, r.dom.find('>', html_at) - html_at + 1);
  EXPECT_EQ(report_test::attribute(html_tag, "data-report-done"), "1") << html_tag;
  EXPECT_NE(html_tag.find("data-errors=\"\""), std::string::npos) << html_tag;
  EXPECT_EQ(r.log.find("Uncaught"), std::string::npos) << r.log;
}

// The harness itself can fail: a page whose script throws is caught both ways.
TEST(ReportInChromium, AScriptErrorIsSeen) {
  if (!have_chromium()) GTEST_SKIP() << report_test::kChromium << " not found";
  test_support::TempDir dir;
  ReportInputs in;
  in.logs = {kSweepLog};
  std::string html = make_report(in).html;
  html.insert(html.rfind("</body>"), "<script>undefined_function_probe();</script>");
  const fs::path page = dir.write("broken.html", html);
  const report_test::BrowserResult r = report_test::dump_dom(page, dir.path());
  ASSERT_TRUE(r.ran) << r.log;
  EXPECT_NE(r.dom.find("undefined_function_probe is not defined"), std::string::npos);
  EXPECT_NE(r.log.find("Uncaught"), std::string::npos) << r.log;
}

}  // namespace
}  // namespace ctb
