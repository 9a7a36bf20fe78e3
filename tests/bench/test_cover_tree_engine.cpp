// The cover-tree engine end to end: every build strategy and expansion base answers exactly,
// the exact heuristics keep the answer, the approximate budgets report their recall, and an
// engine that does not read a knob refuses it.
#include <gtest/gtest.h>

#include <string>

#include "bench/runner.hpp"
#include "core/error.hpp"
#include "scenario/scenario.hpp"

namespace ctb {
namespace {

Scenario scenario_text(const std::string& metric, const std::string& extra) {
  const std::string residual = metric == "residual" ? "residual: {inducing_count: 32}\n" : "";
  return parse_scenario("name: ct\nmetric: " + metric +
                            "\ndata: {seed: 5, n: 3000, dim: 3}\nqueries: {count: 64, seed: 6}\n"
                            "k: 10\n" +
                            residual + extra,
                        "ct.yaml", ".");
}

RunResult run(const Scenario& s, std::optional<Engine> engine = std::nullopt) {
  RunOptions options;
  options.repeat = 1;
  options.warmup = 0;
  options.threads = 2;
  options.compare_brute = true;
  options.progress = false;
  options.engine = engine;
  return run_scenario(s, options);
}

TEST(CoverTreeEngine, EveryStrategyAndBaseIsExact) {
  for (const std::string metric : {"residual", "euclidean"}) {
    const RunResult exact = run(scenario_text(metric, "query: {engine: brute}\n"));
    for (const char* strategy : {"euclidean-hybrid", "pure-residual"}) {
      if (metric == "euclidean" && std::string(strategy) == "pure-residual") continue;
      int64_t depth_base2 = 0;
      for (const char* base : {"2", "1.5", "1.3"}) {
        const std::string what = metric + " " + strategy + " base " + base;
        const RunResult r =
            run(scenario_text(metric, std::string("build: {strategy: ") + strategy +
                                          ", base: " + base + "}\nquery: {engine: cover-tree}\n"));
        EXPECT_EQ(r.engine, Engine::cover_tree) << what;
        EXPECT_EQ(*r.recall_vs_brute, 1.0) << what;
        EXPECT_EQ(r.answer.indices, exact.answer.indices) << what;
        ASSERT_TRUE(r.tree_stats) << what;
        EXPECT_EQ(r.tree_stats->nodes, r.n_points) << what;
        EXPECT_EQ(r.tree_stats->base, std::stod(base)) << what;
        EXPECT_GE(r.tree_stats->waste, 0.0) << what;
        const nlohmann::json q = summary_json(r)["tree_quality"];
        EXPECT_EQ(q["base"].get<double>(), std::stod(base)) << what;
        EXPECT_TRUE(q.contains("waste")) << what;
        if (std::string(base) == "2") depth_base2 = r.tree_depth;
        if (std::string(base) == "1.3") {
          EXPECT_GT(r.tree_depth, depth_base2) << what;
        }
        // The whole build in rows: one per nets level, then the cover tree's own phases.
        ASSERT_FALSE(r.build_batches.empty()) << what;
        EXPECT_EQ(r.build_batches.back().build_phase.value_or(""), "other") << what;
      }
    }
  }
}

TEST(CoverTreeEngine, ExactHeuristicsKeepTheAnswer) {
  const RunResult plain = run(scenario_text("residual", "query: {engine: cover-tree}\n"));
  ASSERT_EQ(*plain.recall_vs_brute, 1.0);
  for (const char* knobs :
       {"child_order: bound", "frontier_block: 8", "child_order: bound, frontier_block: 4"}) {
    const RunResult r =
        run(scenario_text("residual", std::string("query: {engine: cover-tree, ") + knobs + "}\n"));
    EXPECT_EQ(*r.recall_vs_brute, 1.0) << knobs;
    EXPECT_EQ(r.answer.indices, plain.answer.indices) << knobs;
    EXPECT_EQ(r.answer.distances, plain.answer.distances) << knobs;
    EXPECT_FALSE(r.approximate) << knobs;
    EXPECT_NE(r.pass_counters.back().distance_evals, plain.pass_counters.back().distance_evals)
        << knobs << ": the knob should change the work";
  }
}

TEST(CoverTreeEngine, ApproximateBudgetsReportRecall) {
  const RunResult r =
      run(scenario_text("residual", "query: {engine: cover-tree, survivor_cap: 60}\n"));
  EXPECT_TRUE(r.approximate);
  EXPECT_GT(r.pass_counters.back().caps_applied, 0u);
  EXPECT_LT(*r.recall_vs_brute, 1.0);
  EXPECT_GT(*r.recall_vs_brute, 0.0);
  // The k-safe guard: every row is full (k admissible neighbours, no padding).
  for (const int64_t id : r.answer.indices) EXPECT_GE(id, 0);
  const nlohmann::json j = summary_json(r);
  EXPECT_TRUE(j["approximate"].get<bool>());
  EXPECT_LT(j["recall_vs_brute"].get<double>(), 1.0);
}

TEST(CoverTreeEngine, EnginesRefuseKnobsTheyDoNotRead) {
  const Scenario s = scenario_text(
      "residual", "build: {base: 1.5}\nquery: {engine: cover-tree, survivor_cap: 60}\n");
  const auto refused = [&](std::optional<Engine> engine, const char* field) {
    try {
      run(s, engine);
      ADD_FAILURE() << "expected a refusal naming " << field;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("field '") + field + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("ct.yaml"), std::string::npos) << what;
      EXPECT_NE(what.find("does not read it"), std::string::npos) << what;
    }
  };
  refused(Engine::pivot, "query.survivor_cap");
  refused(Engine::brute, "query.survivor_cap");
  // The box index reads the budgets but not the cover tree's base.
  const Scenario e = scenario_text(
      "euclidean", "build: {base: 1.5}\nquery: {engine: cover-tree, low_yield_stop: 2}\n");
  try {
    run(e, Engine::box);
    ADD_FAILURE() << "expected a refusal naming build.base";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("field 'build.base'"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace ctb
