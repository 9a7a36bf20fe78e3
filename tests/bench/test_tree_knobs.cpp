// The tree's tuning knobs, set from a scenario, change the work but never the answer.
#include <gtest/gtest.h>

#include "bench/memory_estimate.hpp"
#include "bench/runner.hpp"
#include "core/error.hpp"
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
  // The pivot search's knobs: seeds, nearest pivots tried, windows intersected.
  same_answer_other_work(base, run_text("query: {seed_rows: 8}\n"), "seed_rows: 8");
  same_answer_other_work(base, run_text("build: {pivots: 64}\nquery: {pivot_candidates: 1}\n"),
                         "pivot_candidates: 1");
  same_answer_other_work(base, run_text("build: {pivots: 64}\nquery: {bound_pivots: 1}\n"),
                         "bound_pivots: 1");
  // The dense fallback threshold acts on the tree search.
  same_answer_other_work(no_pivots,
                         run_text("build: {pivots: 0}\nquery: {dense_fallback_evals: 40}\n"),
                         "dense_fallback_evals: 40");
}

// The summary carries the tree-quality figures: levels add up to the tree, the phases' shares of
// the distance evaluations add up to one, and the pivots cover every row.
TEST(TreeKnobs, SummaryHasTreeQualityFigures) {
  const RunResult r = run_text("build: {pivots: 64, pivot_list: 128}\n");
  const nlohmann::json j = summary_json(r);
  ASSERT_TRUE(j.contains("tree_quality"));
  const nlohmann::json& q = j["tree_quality"];
  uint64_t nodes = 0;
  for (const auto& level : q["levels"]) nodes += level["nodes"].get<uint64_t>();
  EXPECT_EQ(nodes, r.n_points);
  EXPECT_EQ(q["tree_depth"].get<int64_t>(), r.tree_depth);
  EXPECT_GT(q["branching_mean"].get<double>(), 1.0);
  EXPECT_GE(q["branching_max"].get<double>(), q["branching_mean"].get<double>());
  EXPECT_EQ(q["pivots"].get<uint64_t>(), 64u);
  EXPECT_EQ(q["pivot_list"].get<uint64_t>(), 128u);
  EXPECT_GT(q["pivot_cover_radius"].get<double>(), 0.0);
  EXPECT_LE(q["pivot_cover_radius"].get<double>(), 1.0);
  double share = 0;
  for (const auto& [phase, v] : q["eval_share"].items()) share += v.get<double>();
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_GT(q["eval_share"]["seed"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
}

// A run that cannot fit in memory is refused before the big allocations, naming the estimate.
TEST(MemoryEstimate, RefusesWhatCannotFit) {
  BuildSpec build;
  const MemoryEstimate e = estimate_memory(1u << 20, 3, 512, 1024, 50, true, build);
  EXPECT_GT(e.metric_bytes, uint64_t{4} << 30);  // V alone: 2^20 x 512 doubles
  EXPECT_GT(e.tree_bytes, e.metric_bytes);       // the rows again, in node order
  EXPECT_EQ(e.lists_bytes, 2048u * 2048u * 12u + (1u << 20) * 16u);
  EXPECT_NO_THROW(check_memory(e, e.total(), "s.yaml"));
  EXPECT_NO_THROW(check_memory(e, 0, "s.yaml"));  // unknown: no check
  try {
    check_memory(e, e.total() - 1, "s.yaml");
    FAIL() << "expected a refusal";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("s.yaml: needs an estimated"), std::string::npos);
  }
  const MemoryEstimate euclid = estimate_memory(1000, 3, 0, 10, 5, true, build);
  EXPECT_EQ(euclid.lists_bytes, 0u);
}

// Every engine gives the exact answer, and the run names the index that answered.
TEST(TreeKnobs, EveryEngineAnswersExactlyAndIsNamed) {
  const RunResult base = run_text("");
  EXPECT_EQ(base.engine, Engine::pivot);
  for (const char* engine : {"pivot", "cover-tree", "brute"}) {
    const RunResult r = run_text(std::string("query: {engine: ") + engine + "}\n");
    EXPECT_STREQ(to_string(r.engine), engine);
    EXPECT_EQ(*r.recall_vs_brute, 1.0) << engine;
    EXPECT_EQ(r.answer.indices, base.answer.indices) << engine;
  }
}

// The --compare-brute passes get a warm-up like the engine's: `warmup` untimed passes, then
// `repeat` timed ones, the answer from the last.
TEST(TreeKnobs, BrutePassesWarmUpFirst) {
  const RunResult base = run_text("");
  const Scenario s = parse_scenario(
      "name: knobs\nmetric: residual\ndata: {seed: 42, n: 1500, dim: 3}\n"
      "queries: {count: 96, seed: 43}\nk: 12\nresidual: {inducing_count: 48}\n",
      "knobs.yaml", ".");
  const PreparedInputs in = prepare_inputs(s);
  KnnResult answer;
  const std::vector<double> times =
      time_brute_passes(in.data, in.queries, 12, false, 2, 2, &answer, nullptr, 3);
  EXPECT_EQ(times.size(), 2u);
  EXPECT_EQ(answer.indices, base.answer.indices);
}

}  // namespace
}  // namespace ctb
