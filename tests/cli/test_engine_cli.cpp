// `--engine` / query.engine end to end: the summary and the telemetry run row name the index
// that answered (never auto or tree), and the build rows cover the whole build.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "nlohmann/json.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json run_summary(const std::vector<std::string>& extra, const std::string& scenario) {
  TempDir dir;
  const fs::path out = dir.path() / "s.json";
  std::vector<std::string> args{"run", "--scenario", scenario,         "--repeat",  "1", "--warmup",
                                "0",   "--quiet",    "--summary-json", out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const ProcResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  if (r.exit_code != 0) return json::object();
  return json::parse(read_file(out));
}

TEST(EngineCli, SummaryNamesTheIndexThatAnswered) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  // auto resolves per metric; `tree` is auto's alias.
  EXPECT_EQ(run_summary({}, "tiny-residual")["engine"], "pivot");
  EXPECT_EQ(run_summary({}, "tiny-euclid")["engine"], "box");
  EXPECT_EQ(run_summary({"--engine", "tree"}, "tiny-residual")["engine"], "pivot");
  EXPECT_EQ(run_summary({"--engine", "auto"}, "tiny-euclid")["engine"], "box");
  const json brute = run_summary({"--engine", "brute"}, "tiny-residual");
  EXPECT_EQ(brute["engine"], "brute");
  EXPECT_FALSE(brute.contains("tree_depth"));
  // The cover tree answers either metric, exactly.
  for (const char* scenario : {"tiny-residual", "tiny-euclid"}) {
    const json j = run_summary({"--engine", "cover-tree", "--compare-brute"}, scenario);
    EXPECT_EQ(j["engine"], "cover-tree") << scenario;
    EXPECT_EQ(j["recall_vs_brute"], 1.0) << scenario;
    EXPECT_GT(j["tree_depth"].get<int>(), 1) << scenario;
  }
}

TEST(EngineCli, EngineTheMetricCannotUseIsAUsageError) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const ProcResult box =
      run_cli({"run", "--scenario", "tiny-residual", "--engine", "box", "--quiet"});
  EXPECT_EQ(box.exit_code, 2) << box.describe();
  EXPECT_NE(box.err.find("--engine box"), std::string::npos) << box.describe();
  const ProcResult pivot =
      run_cli({"run", "--scenario", "tiny-euclid", "--engine", "pivot", "--quiet"});
  EXPECT_EQ(pivot.exit_code, 2) << pivot.describe();
  const ProcResult bad = run_cli({"run", "--scenario", "tiny-euclid", "--engine", "kd"});
  EXPECT_EQ(bad.exit_code, 2) << bad.describe();
}

// Sums the batch_ms of a telemetry log's build rows; `run` gets its run row.
double build_rows_ms(const fs::path& log, json* run, size_t* rows) {
  std::ifstream in(log);
  std::string line;
  double sum = 0;
  *rows = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    if (j["schema_id"] == "covertree_bench.run") *run = j;
    if (j["schema_id"] != "covertree_bench.build_batch") continue;
    ++*rows;
    sum += j["batch_ms"].get<double>();
    EXPECT_TRUE(j.contains("build_phase")) << j.dump();
    // The reference's fields stay, and diff's build total (traversal + conflict + MIS) is the
    // row's time.
    for (const char* f : {"batch_index", "batch_size", "candidates", "selected", "dominated",
                          "mis_iterations", "traversal_ms", "conflict_graph_ms", "mis_ms",
                          "rss_bytes", "metric", "run_id", "run_hash"}) {
      EXPECT_TRUE(j.contains(f)) << f << " missing in " << j.dump();
    }
    EXPECT_DOUBLE_EQ(j["traversal_ms"].get<double>() + j["conflict_graph_ms"].get<double>() +
                         j["mis_ms"].get<double>(),
                     j["batch_ms"].get<double>())
        << j.dump();
  }
  return sum;
}

// Item 6 of issue 20: the build rows' batch_ms add up to build_seconds (within 5%, or 2 ms for
// a build so small that timer noise dominates), for every engine that builds an index.
TEST(EngineCli, BuildRowsCoverTheWholeBuild) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  struct Case {
    const char* scenario;
    const char* engine;
    const char* phase;  // a phase row the engine's build must have
  };
  for (const Case& c :
       {Case{"tiny-residual", "pivot", "pivot_rows"}, Case{"tiny-residual", "cover-tree", "radii"},
        Case{"tiny-euclid", "box", "box_index"},
        Case{"tiny-euclid", "cover-tree", "nets_layout"}}) {
    TempDir dir;
    const fs::path log = dir.path() / "t.jsonl";
    const fs::path summary = dir.path() / "s.json";
    const ProcResult r =
        run_cli({"run", "--scenario", c.scenario, "--engine", c.engine, "--repeat", "1", "--warmup",
                 "0", "--quiet", "--telemetry", log.string(), "--summary-json", summary.string()});
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    json run;
    size_t rows = 0;
    const double sum_ms = build_rows_ms(log, &run, &rows);
    const json s = json::parse(read_file(summary));
    const double build_ms = s["build_seconds"].get<double>() * 1e3;
    EXPECT_EQ(run["engine"], c.engine);
    EXPECT_EQ(run["build_batches"], rows);
    EXPECT_NEAR(sum_ms, build_ms, std::max(0.05 * build_ms, 2.0))
        << c.scenario << " " << c.engine << ": rows " << sum_ms << " ms, build " << build_ms
        << " ms";
    bool found = false;
    for (const json& p : s["build_phases"]) found = found || p["name"] == c.phase;
    EXPECT_TRUE(found) << c.engine << ": no " << c.phase << " phase in "
                       << s["build_phases"].dump();
  }
}

}  // namespace
}  // namespace ctb::cli_test
