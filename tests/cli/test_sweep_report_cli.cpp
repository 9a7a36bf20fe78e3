// sweep and report from the command line: bad --set values fail before any work, a sweep's
// outputs, the report of its log, and both sweep and report ending cleanly on signals.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "cli_util.hpp"
#include "nlohmann/json.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTiny = R"(name: tiny-cli-sweep
metric: residual
data: {seed: 3, n: 250, dim: 2}
queries: {count: 32, seed: 4}
k: 5
residual: {inducing_count: 16}
query: {engine: cover-tree}  # reads the approximate budgets these sweeps set
repeat: 2
warmup: 0
threads: 1
)";

size_t lines_of(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

TEST(SweepCli, BadFieldOrValueExitsTwoBeforeAnyWork) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path sc = dir.write("tiny.yaml", kTiny);
  const fs::path json = dir.path() / "out.json";
  const fs::path tele = dir.path() / "t.jsonl";
  struct Case {
    std::vector<std::string> sets;
    std::string want;
  };
  const Case cases[] = {
      {{"build.nope=1,2"}, "field 'build.nope': unknown key"},
      {{"query.survivor_cap=0,banana"}, "--set query.survivor_cap=banana"},
      {{"k=0"}, "field 'k': must be >= 1"},
      {{"nofield"}, "expected FIELD=V1,V2"},
      {{"query.survivor_cap=0,512", "build.batch_size=1,x"}, "--set build.batch_size=x"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"sweep",       "--scenario",  sc.string(),  "--json",
                                     json.string(), "--telemetry", tele.string()};
    for (const std::string& s : c.sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    const ProcResult r = run_cli(args, 30);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(lines_of(r.err), 1u) << r.describe();
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.describe();
    EXPECT_TRUE(r.out.empty()) << r.describe();
    EXPECT_FALSE(fs::exists(json));
    EXPECT_FALSE(fs::exists(tele));
  }
}

TEST(SweepCli, WritesJsonAndTelemetryThatReportDraws) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path sc = dir.write("tiny.yaml", kTiny);
  const fs::path json_path = dir.path() / "sweep.json";
  const fs::path tele = dir.path() / "sweep.jsonl";
  const ProcResult r =
      run_cli({"sweep", "--scenario", sc.string(), "--set", "query.survivor_cap=0,8", "--set",
               "build.batch_size=64,128", "--compare-brute", "--json", json_path.string(),
               "--telemetry", tele.string()},
              120);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("4 points, 2 tree builds"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(read_file(json_path));
  EXPECT_EQ(j["scenario"], "tiny-cli-sweep");
  ASSERT_EQ(j["points"].size(), 4u);
  size_t front = 0;
  for (const auto& p : j["points"]) {
    EXPECT_TRUE(p["set"].contains("query.survivor_cap"));
    EXPECT_TRUE(p.contains("speedup_vs_brute"));
    front += p["pareto"].get<bool>() ? 1 : 0;
  }
  EXPECT_GE(front, 1u);

  const fs::path html = dir.path() / "report.html";
  const ProcResult rep = run_cli({"report", tele.string(), "--out", html.string()}, 60);
  ASSERT_EQ(rep.exit_code, 0) << rep.describe();
  const std::string page = read_file(html);
  EXPECT_NE(page.find("data-chart=\"pareto\""), std::string::npos);
  EXPECT_NE(page.find("data-chart=\"pass-times\""), std::string::npos);
}

TEST(ReportCli, BadInputsExitTwo) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path html = dir.path() / "r.html";
  const fs::path garbage = dir.write("bad.jsonl", "{\"schema_id\": \"nope\", \"run_id\": \"x\"}\n");
  const fs::path good =
      dir.write("good.jsonl", read_file(fs::path(CTB_FIXTURES_DIR) / "report" / "sweep.jsonl"));
  const std::vector<std::vector<std::string>> cases = {
      {"report", (dir.path() / "missing.jsonl").string(), "--out", html.string()},
      {"report", garbage.string(), "--out", html.string()},
      {"report", good.string()},  // no --out
      {"report", good.string(), "--out", (dir.path() / "no" / "r.html").string()},
      {"report", good.string(), "--gate", garbage.string(), "--out", html.string()},
  };
  for (const auto& args : cases) {
    const ProcResult r = run_cli(args, 30);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_EQ(lines_of(r.err), 1u) << r.describe();
    EXPECT_FALSE(fs::exists(html));
  }
}

class SweepKilled : public ::testing::TestWithParam<int> {};

// A sweep that cannot finish on its own ends on SIGINT/SIGTERM, leaving no temp files and no
// --json (written only at the end, by rename).
TEST_P(SweepKilled, EndsCleanly) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const int sig = GetParam();
  TempDir dir;
  const fs::path sc = dir.write("tiny.yaml", kTiny);
  const fs::path json_path = dir.write("sweep.json", "old");
  Child child({"sweep", "--scenario", sc.string(), "--set", "repeat=1000000", "--set",
               "query.survivor_cap=0,8", "--json", json_path.string(), "--telemetry",
               (dir.path() / "t.jsonl").string()});
  for (int i = 0; i < 20 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(child.running()) << child.wait(10).describe();
  child.signal(sig);
  const ProcResult r = child.wait(60);
  ASSERT_FALSE(r.timed_out) << r.describe();
  EXPECT_EQ(r.term_signal, sig) << r.describe();
  EXPECT_EQ(read_file(json_path), "old");
  for (const std::string& name : dir.entries()) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, SweepKilled, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGINT");
                         });

}  // namespace
}  // namespace ctb::cli_test
