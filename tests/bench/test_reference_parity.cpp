// Our exact answers reproduce the reference's float64 brute force by the cross-implementation
// rule of spec §2: sorted distances within 1e-6; index sets equal except among neighbours
// within 1e-6 of the k-th distance. Both engines, on the fixture4096 scenario.
#include <gtest/gtest.h>

#include <filesystem>

#include "audit/compare.hpp"
#include "bench/runner.hpp"
#include "data/npy.hpp"
#include "scenario/scenario.hpp"

namespace ctb {
namespace {

KnnResult load_reference(const std::filesystem::path& dir) {
  const NpyArray ids = read_npy(dir / "bruteforce_residual_f64_indices.npy");
  const NpyArray dist = read_npy(dir / "bruteforce_residual_f64_distances.npy");
  KnnResult r;
  r.n_queries = ids.shape.at(0);
  r.k = ids.shape.at(1);
  r.indices = ids.as_i64("reference indices");
  r.distances = dist.as_f64();
  return r;
}

void expect_parity(Engine engine) {
  const KnnResult reference =
      load_reference(std::filesystem::path(CTB_FIXTURES_DIR) / "reference/fixture4096_m64");
  RunOptions options;
  options.engine = engine;
  options.repeat = 1;
  options.warmup = 0;
  options.threads = 2;
  options.progress = false;
  const RunResult run = run_scenario(load_scenario("fixture4096"), options);
  const audit::KnnComparison c =
      audit::compare_knn(run.answer, reference, audit::kCrossImplementationTolerance);
  EXPECT_TRUE(c.exact()) << c.first_problem;
  EXPECT_EQ(c.queries, 256u);
  EXPECT_EQ(c.k, 50u);
  EXPECT_LE(c.max_distance_error, 1e-6);
  EXPECT_GT(c.recall(), 0.99);
}

TEST(ReferenceParity, BruteForceMatchesReferenceFloat64Answer) { expect_parity(Engine::brute); }
TEST(ReferenceParity, TreeMatchesReferenceFloat64Answer) { expect_parity(Engine::automatic); }
TEST(ReferenceParity, CoverTreeEngineMatchesReferenceFloat64Answer) {
  expect_parity(Engine::cover_tree);
}

TEST(ReferenceParity, GoldWhenSharedReferenceIsPresent) {
  const std::filesystem::path dir =
      std::filesystem::path(CTB_SHARED_DIR) / "reference/covertreex-numba/gold/inputs";
  if (!std::filesystem::exists(dir)) {
    GTEST_SKIP() << "reference data not found at " << dir << " (only in the project's workspace)";
  }
#ifndef NDEBUG
  GTEST_SKIP() << "gold32k parity runs in release builds only (too slow under sanitizers)";
#endif
  const KnnResult reference = load_reference(dir);
  for (const Engine engine : {Engine::brute, Engine::automatic}) {
    RunOptions options;
    options.engine = engine;
    options.repeat = 1;
    options.warmup = 0;
    options.progress = false;
    const RunResult run = run_scenario(load_scenario("gold32k"), options);
    const audit::KnnComparison c =
        audit::compare_knn(run.answer, reference, audit::kCrossImplementationTolerance);
    EXPECT_TRUE(c.exact()) << to_string(engine) << ": " << c.first_problem;
    EXPECT_LE(c.max_distance_error, 1e-6) << to_string(engine);
  }
}

}  // namespace
}  // namespace ctb
