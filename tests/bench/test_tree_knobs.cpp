// The tree's tuning knobs, set from a scenario, change the work but never the answer.
#include <gtest/gtest.h>

#include "bench/memory_estimate.hpp"
#include "bench/runner.hpp"
#include "core/error.hpp"
#include "scenario/scenario.hpp"

namespace ctb {
namespace {

// m = 512 (the gold setting): at small m a scan of 8,000 rows is cheaper than the pivot index,
// and its batch plan (rightly) scans every query, leaving the knobs nothing to change.
RunResult run_text(const std::string& extra) {
  const std::string text =
      "name: knobs\nmetric: residual\ndata: {seed: 42, n: 8000, dim: 3}\n"
      "queries: {count: 96, seed: 43}\nk: 12\nresidual: {inducing_count: 512}\n" +
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
  // The cover tree's best-first search, and fewer pivots in the pivot index.
  const RunResult tree = run_text("query: {engine: cover-tree}\n");
  same_answer_other_work(base, tree, "cover-tree");
  same_answer_other_work(base, run_text("build: {pivots: 16}\n"), "pivots: 16");
  // The pivot search's knobs: seeds, nearest pivots tried, pivots in the bound, the plan.
  same_answer_other_work(base, run_text("query: {seed_rows: 8}\n"), "seed_rows: 8");
  same_answer_other_work(base, run_text("build: {pivots: 64}\nquery: {pivot_candidates: 1}\n"),
                         "pivot_candidates: 1");
  same_answer_other_work(base, run_text("build: {pivots: 64}\nquery: {bound_pivots: 1}\n"),
                         "bound_pivots: 1");
  same_answer_other_work(base, run_text("query: {dense_fallback_evals: 5}\n"),
                         "dense_fallback_evals: 5 (pivot index)");
  // The dense fallback threshold acts on the tree search.
  same_answer_other_work(tree, run_text("query: {engine: cover-tree, dense_fallback_evals: 40}\n"),
                         "dense_fallback_evals: 40");
}

// The summary carries the tree-quality figures: levels add up to the tree, the phases' shares of
// the distance evaluations add up to one, and the pivots cover every row.
TEST(TreeKnobs, SummaryHasTreeQualityFigures) {
  const RunResult t = run_text("query: {engine: cover-tree}\n");
  const nlohmann::json jt = summary_json(t);
  ASSERT_TRUE(jt.contains("tree_quality"));
  const nlohmann::json& qt = jt["tree_quality"];
  uint64_t nodes = 0;
  for (const auto& level : qt["levels"]) nodes += level["nodes"].get<uint64_t>();
  EXPECT_EQ(nodes, t.n_points);
  EXPECT_EQ(qt["tree_depth"].get<int64_t>(), t.tree_depth);
  EXPECT_GT(qt["branching_mean"].get<double>(), 1.0);
  EXPECT_GE(qt["branching_max"].get<double>(), qt["branching_mean"].get<double>());

  // The pivot index: its pivots (forced here), whole rows, its rule, the plan and eval shares.
  const RunResult r = run_text("build: {pivots: 64}\n");
  const nlohmann::json j = summary_json(r);
  const nlohmann::json& q = j["tree_quality"];
  EXPECT_EQ(q["index"], "pivot");
  EXPECT_EQ(q["pivots"].get<uint64_t>(), 64u);
  EXPECT_EQ(q["pivot_list"].get<uint64_t>(), r.n_points);
  EXPECT_NE(q["pivot_rule"].get<std::string>().find("forced"), std::string::npos);
  EXPECT_GT(q["tree_bytes"].get<uint64_t>(), 64u * r.n_points * 2);
  EXPECT_GE(q["dense_share"].get<double>(), 0.0);
  ASSERT_TRUE(j.contains("plan"));
  EXPECT_EQ(j["plan"]["scan_share"].get<double>(), q["dense_share"].get<double>());
  EXPECT_TRUE(j["plan"]["choice"] == "index" || j["plan"]["choice"] == "mixed" ||
              j["plan"]["choice"] == "scan");
  const nlohmann::json ja = summary_json(run_text(""));
  EXPECT_NE(ja["tree_quality"]["pivot_rule"].get<std::string>().find("auto"), std::string::npos);
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
  EXPECT_LT(e.tree_bytes, e.metric_bytes / 8);   // the pivot index reads the rows in place
  // auto at 1M: 1,024 pivots (2 GiB of int16 rows), their group ranges and Gram matrix.
  EXPECT_EQ(e.lists_bytes, uint64_t{1024} * (1u << 20) * 2 + uint64_t{1024} * (1u << 16) * 8 +
                               uint64_t{1024} * 1024 * 8);
  EXPECT_LT(e.total(), uint64_t{8} << 30);
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
  build.pivots = 64;  // a number forces it
  EXPECT_EQ(estimate_memory(1000, 3, 16, 10, 5, true, build).lists_bytes,
            64u * 1000u * 2u + 64u * 63u * 8u + 64u * 64u * 8u);
  // Ranks sharing a host: rows and indexes per rank; answers per rank only when each keeps its own.
  const MemoryEstimate three = times_ranks_on_host(e, 3, false);
  EXPECT_EQ(three.metric_bytes, 3 * e.metric_bytes);
  EXPECT_EQ(three.tree_bytes, 3 * e.tree_bytes);
  EXPECT_EQ(three.lists_bytes, 3 * e.lists_bytes);
  EXPECT_EQ(three.answer_bytes, e.answer_bytes);
  EXPECT_EQ(times_ranks_on_host(e, 3, true).answer_bytes, 3 * e.answer_bytes);
  EXPECT_EQ(times_ranks_on_host(e, 0, true).total(), e.total());  // at least one rank
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
      "name: knobs\nmetric: residual\ndata: {seed: 42, n: 8000, dim: 3}\n"
      "queries: {count: 96, seed: 43}\nk: 12\nresidual: {inducing_count: 512}\n",
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
