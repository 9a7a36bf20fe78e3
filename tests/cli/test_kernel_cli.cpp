// `--simd` and `run --compare-openblas` end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli_util.hpp"
#include "nlohmann/json.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

// The portable fallback is forced and reported; the OpenBLAS peer runs over the same passes
// and agrees under the cross-implementation rule.
TEST(KernelCli, ForcedScalarTargetWithTheOpenBlasPeer) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path json = dir.path() / "s.json";
  const ProcResult r =
      run_cli({"run", "--scenario", "tiny-residual", "--engine", "brute", "--simd", "scalar",
               "--compare-openblas", "--repeat", "2", "--summary-json", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("openblas"), std::string::npos) << r.describe();
  const nlohmann::json j = nlohmann::json::parse(read_file(json));
  EXPECT_TRUE(j["simd_target"] == "EMU128" || j["simd_target"] == "SCALAR") << j.dump(2);
  EXPECT_EQ(j["recall_vs_openblas"], 1.0);
  EXPECT_LT(j["openblas_max_distance_error"].get<double>(), 1e-6);
  EXPECT_GT(j["openblas_qps"].get<double>(), 0.0);
  EXPECT_GT(j["speedup_vs_openblas"].get<double>(), 0.0);
  EXPECT_EQ(j["openblas_seconds_all"].size(), 2u);
  EXPECT_NE(j["openblas"].get<std::string>().find("OpenBLAS"), std::string::npos);
}

// Every runnable target gives the same exact answer (checksums of neighbours agree).
TEST(KernelCli, EveryAcceptedSimdNameRuns) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const ProcResult help = run_cli({"run", "--help"});
  const size_t at = help.out.find("This CPU runs: ");
  ASSERT_NE(at, std::string::npos) << help.describe();
  std::string list = help.out.substr(at + 15);
  list = list.substr(0, list.find('.'));
  size_t runs = 0;
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    name.erase(0, name.find_first_not_of(" \n"));
    name.erase(name.find_last_not_of(" \n") + 1);
    start = end + 1;
    if (name.empty()) continue;
    const ProcResult r = run_cli({"run", "--scenario", "tiny-residual", "--simd", name, "--repeat",
                                  "1", "--warmup", "0", "-q"});
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << r.describe();
    ++runs;
  }
  EXPECT_GE(runs, 3u) << list;
}

}  // namespace
}  // namespace ctb::cli_test
