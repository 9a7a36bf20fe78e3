// The bridge from a harness run to the gate's Measurement, on a synthetic RunResult.
#include <gtest/gtest.h>

#include "gate/gate_run.hpp"

namespace ctb::gate {
namespace {

RunResult synthetic_run() {
  RunResult r;
  r.scenario.name = "synthetic";
  r.scenario.k = 2;
  r.n_queries = 2;
  r.build_seconds = 0.25;
  r.query_seconds = {0.1, 0.12, 0.11};
  r.brute_seconds = std::vector<double>{1.0, 1.1, 1.05};
  r.recall_vs_brute = 1.0;
  r.tree_depth = 9;
  r.answer.resize(2, 2);
  r.answer.indices = {0, 5, 1, 7};
  QueryCounters c;
  c.queries = 2;
  c.distance_evals = 40;
  c.frontier_expanded = 6;
  r.pass_counters = {c, c, c};
  return r;
}

TEST(GateRun, MeasurementFromRun) {
  const Measurement m = measurement_from(synthetic_run());
  EXPECT_EQ(m.scenario, "synthetic");
  EXPECT_EQ(m.n_queries, 2u);
  EXPECT_EQ(m.recall, 1.0);
  EXPECT_TRUE(m.counters_stable);
  EXPECT_EQ(m.counters.at("distance_evals"), 40);
  EXPECT_EQ(m.counters.at("frontier_expanded"), 6);
  EXPECT_EQ(m.counters.at("tree_depth"), 9);
  EXPECT_EQ(m.counters.at("k"), 2);
  EXPECT_EQ(m.query_seconds.size(), 3u);
  EXPECT_EQ(m.brute_seconds.size(), 3u);
  EXPECT_EQ(m.answer_checksum.size(), 64u);
  EXPECT_EQ(m.build_seconds, std::vector<double>{0.25});
  // One run has one build: too few repetitions to record; merged runs are enough.
  EXPECT_FALSE(recording_problems(m, Policy{}).empty());
  EXPECT_TRUE(recording_problems(merge_runs({m, m, m}), Policy{}).empty());
}

TEST(GateRun, UnstableCountersAndMissingBruteAreSeen) {
  RunResult r = synthetic_run();
  r.pass_counters[1].distance_evals += 1;
  r.brute_seconds.reset();
  r.recall_vs_brute.reset();
  const Measurement m = measurement_from(r);
  EXPECT_FALSE(m.counters_stable);
  EXPECT_TRUE(std::isnan(m.recall));
  EXPECT_TRUE(m.brute_seconds.empty());
  EXPECT_FALSE(recording_problems(m, Policy{}).empty());
}

TEST(GateRun, ChecksumFollowsTheIndices) {
  RunResult r = synthetic_run();
  const std::string a = answer_checksum(r.answer);
  EXPECT_EQ(a, answer_checksum(r.answer));
  r.answer.indices[3] = 8;
  EXPECT_NE(a, answer_checksum(r.answer));
  // Distances are not part of it: exactness is judged by recall and the indices.
  RunResult s = synthetic_run();
  s.answer.distances[0] = 0.5;
  EXPECT_EQ(a, answer_checksum(s.answer));
}

// End to end on a real (tiny) scenario, judging only what is deterministic: two runs agree on
// every counter and the checksum, and an injected slowdown changes neither (it must show up in
// time alone). No time is compared here.
TEST(GateRun, RealRunsAgreeOnCountersAndSlowdownLeavesThemAlone) {
  GateRunOptions options;
  options.repeat = 3;
  options.warmup = 0;
  options.progress = false;
  int threads = 0;
  const Measurement a = measure_scenario("tiny-residual", options, &threads);
  EXPECT_GE(threads, 1);
  EXPECT_TRUE(recording_problems(a, Policy{}).empty());
  options.inject_slowdown = 1.5;
  const Measurement b = measure_scenario("tiny-residual", options, &threads);
  Policy policy;
  policy.time_advisory = true;
  const Fingerprint fp = current_fingerprint(threads);
  const GateReport r = evaluate(fp, {a}, fp, {b}, policy);
  for (const Check& c : r.checks) {
    if (c.kind != CheckKind::time) {
      EXPECT_EQ(c.verdict, Verdict::pass) << c.name() << c.note;
    }
  }
  EXPECT_EQ(r.verdict, Verdict::pass);
}

}  // namespace
}  // namespace ctb::gate
