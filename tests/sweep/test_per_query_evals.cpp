// run --telemetry-queries: per-query distance evaluations are collected inside the timed pass
// (lib/bench -> tree_knn's per_query_evals); they must add up to the pass's counter, for the
// tree search and the dense fallback alike, and leave the answer unchanged.
#include <gtest/gtest.h>

#include <numeric>
#include <string>

#include "bench/runner.hpp"
#include "common/temp_dir.hpp"
#include "scenario/scenario.hpp"

namespace ctb {
namespace {

void check(const std::string& yaml) {
  test_support::TempDir dir;
  const Scenario s = load_scenario(dir.write("s.yaml", yaml).string());
  RunOptions plain;
  plain.progress = false;
  RunOptions per_query = plain;
  per_query.per_query_telemetry = true;
  const RunResult a = run_scenario(s, plain);
  const RunResult b = run_scenario(s, per_query);
  EXPECT_TRUE(a.per_query_evals.empty());
  ASSERT_EQ(b.per_query_evals.size(), b.n_queries);
  ASSERT_EQ(b.query_ids.size(), b.n_queries);
  const uint64_t sum =
      std::accumulate(b.per_query_evals.begin(), b.per_query_evals.end(), uint64_t{0});
  EXPECT_EQ(sum, b.pass_counters.back().distance_evals);
  EXPECT_EQ(b.pass_counters.back(), a.pass_counters.back());
  EXPECT_EQ(b.answer.indices, a.answer.indices);
  EXPECT_EQ(b.answer.distances, a.answer.distances);
}

constexpr const char* kResidual = R"(name: pq-residual
metric: residual
data: {seed: 11, n: 300, dim: 3}
queries: {count: 50, seed: 12}
k: 7
residual: {inducing_count: 40}
repeat: 2
warmup: 1
threads: 2
)";

TEST(PerQueryEvals, ResidualSumToThePassCounter) { check(kResidual); }

TEST(PerQueryEvals, DenseFallbackCountsToo) {
  // A fallback after one tree evaluation sends (nearly) every query to the dense phase.
  check(std::string(R"(name: pq-euclid
metric: euclidean
data: {seed: 13, n: 900, dim: 4}
queries: {count: 40, seed: 14}
k: 5
query: {dense_fallback_evals: 1}
repeat: 1
warmup: 0
threads: 2
)"));
}

TEST(PerQueryEvals, BruteEngineIsRefused) {
  test_support::TempDir dir;
  const Scenario s = load_scenario(dir.write("s.yaml", kResidual).string());
  RunOptions o;
  o.progress = false;
  o.engine = Engine::brute;
  o.per_query_telemetry = true;
  EXPECT_THROW(run_scenario(s, o), std::exception);
}

}  // namespace
}  // namespace ctb
