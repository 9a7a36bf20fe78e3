// Output files are written atomically (temp file, then rename) and main's SIGINT/SIGTERM
// handler removes a temp file in flight, so an interrupted run leaves either the old file or a
// complete new one, and no temp files.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cli_util.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

bool has_temp_file(const TempDir& dir) {
  for (const std::string& name : dir.entries()) {
    if (name.find(".tmp.") != std::string::npos) return true;
  }
  return false;
}

std::string temp_files(const TempDir& dir) {
  std::string out;
  for (const std::string& name : dir.entries()) {
    if (name.find(".tmp.") != std::string::npos) out += name + " ";
  }
  return out;
}

class KilledMidRun : public ::testing::TestWithParam<int> {};

// A run that cannot finish on its own (a million timed passes) is interrupted during its
// passes: the outputs it was asked for must keep their old content.
TEST_P(KilledMidRun, KeepsTheOldOutputFiles) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const int sig = GetParam();
  TempDir dir;
  const fs::path scenario = dir.write("long.yaml", R"(name: long
metric: residual
data: {seed: 1, n: 2000, dim: 3}
queries: {count: 64, seed: 2}
k: 8
residual: {inducing_count: 32}
repeat: 1000000
warmup: 0
threads: 1
)");
  const fs::path out = dir.write("out.npy", "old neighbours");
  const fs::path dist = dir.write("dist.npy", "old distances");
  const fs::path summary = dir.path() / "summary.json";
  Child child({"run", "--scenario", scenario.string(), "--save-neighbors", out.string(),
               "--save-distances", dist.string(), "--summary-json", summary.string()});
  // Let it get into its passes (data, backend and tree take a fraction of a second); this only
  // chooses when to interrupt, nothing is asserted about time.
  for (int i = 0; i < 20 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(child.running()) << "the run ended before it could be interrupted\n"
                               << child.wait(10).describe();
  child.signal(sig);
  const ProcResult r = child.wait(60);
  ASSERT_FALSE(r.timed_out) << "did not stop on signal " << sig << "\n" << r.describe();
  EXPECT_EQ(r.term_signal, sig) << r.describe();
  EXPECT_EQ(read_file(out), "old neighbours");
  EXPECT_EQ(read_file(dist), "old distances");
  EXPECT_FALSE(fs::exists(summary));
  EXPECT_FALSE(has_temp_file(dir)) << temp_files(dir);
}

INSTANTIATE_TEST_SUITE_P(Signals, KilledMidRun, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGINT");
                         });

// Interrupted while an output file is being written: we watch for the temp file and send
// SIGTERM the moment it appears. Either outcome is correct -- the old file (the handler
// removed the temp file) or the complete new one (the rename won the race) -- never a torn
// file or a leftover temp file. The moment the temp file appears is the edge of the window
// between its creation and its registration with the signal handler, so a few attempts are
// made: a race there shows up as a leftover temp file.
TEST(KilledWhileWriting, LeavesTheOldFileOrACompleteNewOne) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  int caught_in_flight = 0;
  constexpr int kAttempts = 6;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    TempDir dir;
    // Euclidean d=2 is quick to build and query; 20000 x 128 neighbours make a 20 MB output,
    // so the write takes long enough to be caught in flight.
    const fs::path scenario = dir.write("big.yaml", R"(name: big-output
metric: euclidean
data: {seed: 1, n: 20000, dim: 2}
queries: all
k: 128
repeat: 1
warmup: 0
threads: 2
)");
    const fs::path out = dir.write("out.npy", "old neighbours");
    Child child(
        {"run", "--scenario", scenario.string(), "--save-neighbors", out.string(), "--quiet"});
    bool caught = false;
    while (child.running()) {
      if (has_temp_file(dir)) {
        child.signal(SIGTERM);
        caught = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    caught_in_flight += caught ? 1 : 0;
    const ProcResult r = child.wait(120);
    ASSERT_FALSE(r.timed_out) << r.describe();
    const std::string content = read_file(out);
    if (content != "old neighbours") {
      // The rename happened: the file must be the whole answer.
      NpyArray a;
      ASSERT_NO_THROW(a = read_npy(out)) << "torn output file";
      EXPECT_EQ(a.shape, (std::vector<size_t>{20000, 128}));
    } else {
      EXPECT_TRUE(caught) << "the run finished but did not replace the file\n" << r.describe();
      EXPECT_EQ(r.term_signal, SIGTERM) << r.describe();
    }
    ASSERT_FALSE(has_temp_file(dir)) << "temp file left after SIGTERM: " << temp_files(dir);
  }
  std::printf("note: %d of %d attempts interrupted the write in flight\n", caught_in_flight,
              kAttempts);
}

}  // namespace
}  // namespace ctb::cli_test
