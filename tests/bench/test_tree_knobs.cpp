// The tree's tuning knobs, set from a scenario, change the work but never the answer.
#include <gtest/gtest.h>

#include "bench/runner.hpp"
#include "scenario/scenario.hpp"

namespace ctb {
namespace {

RunResult run_text(const std::string& extra) {
  const std::string text =
      "name: knobs\nmetric: residual\ndata: {seed: 42, n: 1500, dim: 3}\n"
      "queries: {count: 96, seed: 43}\nk: 12\nresidual: {inducing_count: 48}\n" +
      extra;
  RunOptions options;
  options.repeat = 1;
  options.warmup = 0;
  options.threads = 2;
  options.compare_brute = true;
  options.progress = false;
  return run_scenario(parse_scenario(text, "knobs.yaml", "."), options);
}

TEST(TreeKnobs, PivotsAndDenseFallbackChangeWorkNotAnswers) {
  const RunResult base = run_text("");
  ASSERT_EQ(*base.recall_vs_brute, 1.0);
  const auto same_answer_other_work = [&](const RunResult& a, const RunResult& b,
                                          const char* what) {
    EXPECT_EQ(*b.recall_vs_brute, 1.0) << what;
    EXPECT_EQ(b.answer.indices, a.answer.indices) << what;
    EXPECT_EQ(b.answer.distances, a.answer.distances) << what;
    EXPECT_NE(b.pass_counters.back().distance_evals, a.pass_counters.back().distance_evals)
        << what << ": the knob should change the work";
  };
  // Pivot lists off (best-first tree search) and small lists.
  const RunResult no_pivots = run_text("build: {pivots: 0}\n");
  same_answer_other_work(base, no_pivots, "pivots: 0");
  same_answer_other_work(base, run_text("build: {pivots: 16, pivot_list: 32}\n"), "small lists");
  // The dense fallback threshold acts on the tree search.
  same_answer_other_work(no_pivots,
                         run_text("build: {pivots: 0}\nquery: {dense_fallback_evals: 40}\n"),
                         "dense_fallback_evals: 40");
}

}  // namespace
}  // namespace ctb
