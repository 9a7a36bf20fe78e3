// `covertree-bench audit` end to end: exit codes, the table and the --json report.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cli_util.hpp"
#include "nlohmann/json.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

TEST(AuditCli, TinyScenarioPassesWithJsonReport) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  const fs::path json = dir.path() / "audit.json";
  const ProcResult r = run_cli(
      {"audit", "--scenario", "tiny-residual", "--json", json.string(), "--samples", "2000"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.out.find("verdict: PASS"), std::string::npos) << r.describe();
  ASSERT_TRUE(fs::exists(json));
  const nlohmann::json j = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(j["verdict"], "pass");
  ASSERT_TRUE(j["checks"].is_array());
  EXPECT_GT(j["checks"].size(), 10u);
  for (const auto& c : j["checks"]) {
    EXPECT_TRUE(c["name"].is_string() && c["verdict"].is_string() && c["detail"].is_string())
        << c.dump();
  }
  EXPECT_FALSE(j.contains("reference_f32_recall"));
}

TEST(AuditCli, QuietPrintsNothingButKeepsTheExitCode) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const ProcResult r =
      run_cli({"audit", "--scenario", "tiny-residual", "--quiet", "--samples", "500"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
}

// The reference's fixture4096_m64 export: parity checks pass and the reference's float32
// recall is reported (near 1 here: m=64 is well conditioned, unlike gold).
TEST(AuditCli, ReferenceFixtureParity) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const fs::path ref = fs::path(CTB_SHARED_DIR) / "reference/covertreex-numba/fixture4096_m64";
  if (!fs::is_directory(ref)) GTEST_SKIP() << "reference data not found at " << ref;
  TempDir dir;
  const fs::path json = dir.path() / "audit.json";
  const ProcResult r = run_cli({"audit", "--scenario", "fixture4096", "--reference", ref.string(),
                                "--json", json.string(), "--samples", "2000"},
                               600);
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  const nlohmann::json j = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(j["verdict"], "pass") << j.dump(2);
  ASSERT_TRUE(j.contains("reference_f32_recall"));
  EXPECT_GT(j["reference_f32_recall"].get<double>(), 0.9);
  EXPECT_LE(j["reference_f32_recall"].get<double>(), 1.0);
  bool saw_exact_f64 = false;
  for (const auto& c : j["checks"]) {
    if (c["name"] == "reference.exact_f64") saw_exact_f64 = c["verdict"] == "pass";
  }
  EXPECT_TRUE(saw_exact_f64) << j.dump(2);
  EXPECT_NE(r.out.find("reference_f32_recall"), std::string::npos) << r.out;
}

// A reference that disagrees (here: the fixture's files against a different scenario) is a
// failed check, exit 1, not unusable input.
TEST(AuditCli, MismatchedReferenceFailsWithExitOne) {
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  const fs::path ref = fs::path(CTB_SHARED_DIR) / "reference/covertreex-numba/fixture4096_m64";
  if (!fs::is_directory(ref)) GTEST_SKIP() << "reference data not found at " << ref;
  TempDir dir;
  const fs::path json = dir.path() / "audit.json";
  const ProcResult r = run_cli({"audit", "--scenario", "tiny-residual", "--reference", ref.string(),
                                "--json", json.string(), "--samples", "500"});
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.describe();
  const nlohmann::json j = nlohmann::json::parse(read_file(json));
  EXPECT_EQ(j["verdict"], "fail");
}

}  // namespace
}  // namespace ctb::cli_test
