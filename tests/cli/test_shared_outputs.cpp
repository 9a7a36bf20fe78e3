// Issue 15 from the command line: runs appending to one log in parallel all keep their rows;
// two `gate --record` of one baseline cannot both write it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.hpp"
#include "core/atomic_file.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

// Small enough for the sanitizer build (tiny-residual's pivot lists take ~25 s there).
constexpr const char* kSmallResidual = R"(name: small-residual
metric: residual
data: {seed: 42, n: 250, dim: 3}
queries: {count: 32, seed: 43}
k: 8
residual: {inducing_count: 16}
repeat: 1
warmup: 0
threads: 1
)";

// A recording that takes a while (brute force over 800 x 20000) but builds in no time.
constexpr const char* kSlowerEuclid = R"(name: lock-euclid
metric: euclidean
data: {seed: 5, n: 20000, dim: 3}
queries: {count: 800, seed: 6}
k: 8
repeat: 3
warmup: 0
threads: 1
)";

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// The issue's loop (8 runs started at once, one log; it printed 5 before the fix), on a
// smaller scenario than the issue's tiny-residual.
TEST(SharedLog, EightParallelRunsKeepEightRuns) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const std::string scenario = dir.write("small.yaml", kSmallResidual).string();
  const std::string log = (dir.path() / "t.jsonl").string();
  std::vector<std::unique_ptr<Child>> runs;
  for (int i = 0; i < 8; ++i) {
    runs.push_back(std::make_unique<Child>(
        std::vector<std::string>{"run", "--scenario", scenario, "--repeat", "1", "--warmup", "0",
                                 "--threads", "1", "--telemetry", log, "-q"}));
  }
  for (auto& c : runs) {
    const ProcResult r = c->wait(120);
    EXPECT_EQ(r.exit_code, 0) << r.describe();
  }
  const std::string text = read_file(log);
  EXPECT_EQ(count(text, "\"covertree_bench.run\""), 8u);
  // Each run's rows are contiguous: the run ids change exactly 7 times down the file.
  std::string last;
  size_t changes = 0;
  for (size_t p = text.find("\"run_id\": \""); p != std::string::npos;
       p = text.find("\"run_id\": \"", p + 1)) {
    const size_t s = p + 11;
    const std::string id = text.substr(s, text.find('"', s) - s);
    if (!last.empty() && id != last) ++changes;
    last = id;
  }
  EXPECT_EQ(changes, 7u);
}

// A log whose writer died mid-append: diff warns once, reads the rest, and compares.
TEST(SharedLog, DiffWarnsAboutATornLastLineAndReadsTheRest) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const std::string log = read_file(fs::path(CTB_FIXTURES_DIR) / "report" / "run_queries.jsonl");
  const size_t lines = count(log, "\n");
  const fs::path a = dir.write("a.jsonl", log);
  // The last row cut in the middle (its newline gone): a per-query row, which diff ignores.
  const fs::path b = dir.write("b.jsonl", log.substr(0, log.size() - 30));
  const ProcResult r = run_cli({"diff", a.string(), b.string()}, 60);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(count(r.err, "torn last line skipped"), 1u) << r.describe();
  EXPECT_NE(r.err.find(b.string() + ":" + std::to_string(lines) + ": torn last line skipped"),
            std::string::npos)
      << r.describe();
  // The same cut in the middle of the file is an error.
  const size_t mid = log.find('\n', log.size() / 2);
  const fs::path c = dir.write("c.jsonl", log.substr(0, mid - 10) + log.substr(mid));
  const ProcResult rc = run_cli({"diff", a.string(), c.string()}, 60);
  EXPECT_EQ(rc.exit_code, 2) << rc.describe();
}

std::vector<std::string> record_args(const fs::path& scenario, const fs::path& baseline) {
  return {"gate",     "--scenario", scenario.string(), "--record", "--baseline", baseline.string(),
          "--repeat", "3",          "--quiet"};
}

TEST(GateRecord, HeldLockMakesARecorderFailWithExitTwo) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path scenario = dir.write("small.yaml", kSmallResidual);
  const fs::path baseline = dir.path() / "b.json";
  {
    const OutputLock held(baseline);  // as another recorder would hold it
    const ProcResult r = run_cli(record_args(scenario, baseline), 120);
    EXPECT_EQ(r.exit_code, 2) << r.describe();
    EXPECT_NE(r.err.find(baseline.string()), std::string::npos) << r.describe();
    EXPECT_NE(r.err.find("another process"), std::string::npos) << r.describe();
    EXPECT_FALSE(fs::exists(baseline));
  }
  const ProcResult r = run_cli(record_args(scenario, baseline), 120);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(fs::exists(baseline));
  EXPECT_FALSE(fs::exists(dir.path() / ".b.json.lock"));  // released and removed
}

TEST(GateRecord, TwoConcurrentRecordersOneBaselineOneExitTwo) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path scenario = dir.write("euclid.yaml", kSlowerEuclid);
  const fs::path baseline = dir.path() / "b.json";
  const fs::path lock = dir.path() / ".b.json.lock";
  Child a(record_args(scenario, baseline));
  // The second starts once the first holds the lock (its lock file exists), while the first
  // is still measuring; polling only decides when to start it, nothing is timed.
  while (!fs::exists(lock) && a.running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(a.running()) << "the first recorder ended before the second could start\n"
                           << a.wait(10).describe();
  Child b(record_args(scenario, baseline));
  const ProcResult rb = b.wait(120);
  const ProcResult ra = a.wait(120);
  EXPECT_EQ(ra.exit_code, 0) << ra.describe();
  EXPECT_EQ(rb.exit_code, 2) << rb.describe();
  EXPECT_NE(rb.err.find("another process"), std::string::npos) << rb.describe();
  EXPECT_TRUE(fs::exists(baseline));
  for (const std::string& name : dir.entries()) {
    EXPECT_TRUE(name == "b.json" || name == "euclid.yaml") << "left behind: " << name;
  }
}

}  // namespace
}  // namespace ctb::cli_test
