// The gate's decisions on synthetic measurements: no clock is read anywhere in these tests.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "gate/gate.hpp"

namespace ctb::gate {
namespace {

Measurement make(std::vector<double> tree, std::vector<double> brute,
                 std::vector<double> build = {0.5, 0.505, 0.502, 0.506, 0.503}) {
  Measurement m;
  m.scenario = "synthetic";
  m.n_queries = 1000;
  m.recall = 1.0;
  m.counters = {{"queries", 1000},
                {"distance_evals", 250000},
                {"frontier_expanded", 9000},
                {"tree_depth", 14},
                {"k", 50}};
  m.answer_checksum = "abc123";
  m.query_seconds = std::move(tree);
  m.brute_seconds = std::move(brute);
  m.build_seconds = std::move(build);
  return m;
}

// Quiet repetitions: about 1% spread.
Measurement quiet(double tree_scale = 1.0, double brute_scale = 1.0, double build_scale = 1.0) {
  std::vector<double> tree{0.100, 0.101, 0.1005, 0.1012, 0.1008};
  std::vector<double> brute{1.00, 1.01, 1.005, 1.012, 1.008};
  for (double& t : tree) t *= tree_scale;
  for (double& t : brute) t *= brute_scale;
  std::vector<double> build{0.5, 0.505, 0.502, 0.506, 0.503};
  for (double& t : build) t *= build_scale;
  return make(tree, brute, build);
}

Fingerprint machine() { return {"AMD EPYC", "AVX3", 2, "GNU 12.2.0", "Release"}; }

GateReport gate(const Measurement& baseline, const Measurement& current, Policy policy = {},
                Fingerprint current_fp = machine()) {
  return evaluate(machine(), {baseline}, current_fp, {current}, policy);
}

const Check& find(const GateReport& r, const std::string& figure) {
  for (const Check& c : r.checks) {
    if (c.figure == figure) return c;
  }
  throw std::runtime_error("no check " + figure);
}

TEST(GateLogic, IdenticalMeasurementsPass) {
  const GateReport r = gate(quiet(), quiet());
  EXPECT_EQ(r.verdict, Verdict::pass);
  EXPECT_TRUE(r.fingerprint_match);
  EXPECT_FALSE(r.time_advisory);
  for (const Check& c : r.checks) EXPECT_EQ(c.verdict, Verdict::pass) << c.name() << c.note;
  EXPECT_EQ(exit_code(r.verdict), 0);
}

TEST(GateLogic, EveryFigureIsChecked) {
  const GateReport r = gate(quiet(), quiet());
  for (const char* figure : {"recall_vs_brute", "answer_checksum", "counters_stable", "queries",
                             "distance_evals", "frontier_expanded", "tree_depth", "k",
                             "query_speedup_vs_brute", "build_vs_brute_pass", "brute_qps"}) {
    EXPECT_NO_THROW(find(r, figure)) << figure;
  }
}

TEST(GateLogic, SmallDriftWithinThresholdPasses) {
  const GateReport r = gate(quiet(), quiet(1.08));
  EXPECT_EQ(r.verdict, Verdict::pass);
  EXPECT_NEAR(find(r, "query_speedup_vs_brute").ratio, 1 / 1.08, 1e-9);
}

TEST(GateLogic, QueryRegressionFails) {
  // What --inject-slowdown 1.5 produces: the tree 1.5x slower, the brute force unchanged.
  const GateReport r = gate(quiet(), quiet(1.5));
  EXPECT_EQ(r.verdict, Verdict::fail);
  const Check& c = find(r, "query_speedup_vs_brute");
  EXPECT_EQ(c.verdict, Verdict::fail);
  EXPECT_NEAR(c.ratio, 1 / 1.5, 1e-9);
  EXPECT_NE(c.note.find("regression"), std::string::npos);
  EXPECT_EQ(exit_code(r.verdict), 1);
}

TEST(GateLogic, MachineWideSlowdownCancelsInRatiosButBruteQpsCatchesASlowKernel) {
  // Both engines 1.3x slower (a busy machine): ratios unchanged, brute q/s within its wide band.
  EXPECT_EQ(gate(quiet(), quiet(1.3, 1.3, 1.3)).verdict, Verdict::pass);
  // A shared distance kernel 2.5x slower: the ratios hide it, brute q/s does not.
  const GateReport r = gate(quiet(), quiet(2.5, 2.5, 2.5));
  EXPECT_EQ(find(r, "query_speedup_vs_brute").verdict, Verdict::pass);
  EXPECT_EQ(find(r, "build_vs_brute_pass").verdict, Verdict::pass);
  EXPECT_EQ(find(r, "brute_qps").verdict, Verdict::fail);
  EXPECT_EQ(r.verdict, Verdict::fail);
}

TEST(GateLogic, BuildRegressionFails) {
  const GateReport r = gate(quiet(), quiet(1.0, 1.0, 1.6));
  EXPECT_EQ(find(r, "build_vs_brute_pass").verdict, Verdict::fail);
  EXPECT_EQ(find(r, "query_speedup_vs_brute").verdict, Verdict::pass);
  EXPECT_EQ(r.verdict, Verdict::fail);
}

TEST(GateLogic, BuildIsJudgedWithItsOwnSpread) {
  // A 1.5x slower best build whose repetitions spread by 38%: the noise decides, so the gate
  // says inconclusive instead of blaming the build for a busy machine.
  Measurement noisy =
      make(quiet().query_seconds, quiet().brute_seconds, {0.75, 1.035, 1.05, 1.0875, 1.125});
  EXPECT_NEAR(build_vs_brute(noisy).noise, std::hypot(0.38, relative_spread(quiet().brute_seconds)),
              1e-9);
  EXPECT_EQ(find(gate(quiet(), noisy), "build_vs_brute_pass").verdict, Verdict::inconclusive);
  EXPECT_FALSE(noise_warnings(noisy, Policy{}).empty());
  EXPECT_TRUE(noise_warnings(quiet(), Policy{}).empty());
}

TEST(GateLogic, MergeRunsConcatenatesAndChecksAgreement) {
  const Measurement one = make({0.1}, {1.0}, {0.5});
  Measurement merged = merge_runs({one, one, one});
  EXPECT_EQ(merged.query_seconds.size(), 3u);
  EXPECT_EQ(merged.brute_seconds.size(), 3u);
  EXPECT_EQ(merged.build_seconds.size(), 3u);
  EXPECT_TRUE(merged.counters_stable);
  EXPECT_EQ(merged.recall, 1.0);

  Measurement other = one;
  other.counters["distance_evals"] += 1;
  EXPECT_FALSE(merge_runs({one, other}).counters_stable);
  other = one;
  other.answer_checksum = "different";
  EXPECT_FALSE(merge_runs({one, other}).counters_stable);
  other = one;
  other.recall = 0.5;
  EXPECT_EQ(merge_runs({one, other}).recall, 0.5);
  other.recall = kNaN;
  EXPECT_TRUE(std::isnan(merge_runs({other, one}).recall));
  EXPECT_TRUE(std::isnan(merge_runs({one, other}).recall));
  EXPECT_TRUE(merge_runs({}).scenario.empty());
}

TEST(GateLogic, ImplausibleImprovementFails) {
  const GateReport r = gate(quiet(), quiet(0.3));
  const Check& c = find(r, "query_speedup_vs_brute");
  EXPECT_EQ(c.verdict, Verdict::fail);
  EXPECT_NE(c.note.find("implausible"), std::string::npos);
  EXPECT_EQ(r.verdict, Verdict::fail);
  // A real but modest improvement passes.
  EXPECT_EQ(gate(quiet(), quiet(0.7)).verdict, Verdict::pass);
}

TEST(GateLogic, NoiseWidensTheBand) {
  // 1.25x worse: beyond the 15% threshold. With quiet repetitions that is a failure ...
  EXPECT_EQ(find(gate(quiet(), quiet(1.25)), "query_speedup_vs_brute").verdict, Verdict::fail);
  // ... with 12% spread in the current tree passes it lies inside the band: a pass.
  Measurement noisy = make({0.125, 0.15, 0.15, 0.16, 0.14}, quiet().brute_seconds);
  EXPECT_NEAR(relative_spread(noisy.query_seconds), 0.12, 1e-12);
  const GateReport r = gate(quiet(), noisy);
  const Check& c = find(r, "query_speedup_vs_brute");
  EXPECT_EQ(c.verdict, Verdict::pass) << c.note;
  EXPECT_NE(c.note.find("within noise"), std::string::npos);
  EXPECT_GT(c.band, 1.15 + 0.12);
}

TEST(GateLogic, TooNoisyToJudgeIsInconclusive) {
  // 38% spread: the band is wider than max_noise and the ratio lies inside it.
  Measurement noisy = make({0.13, 0.2, 0.195, 0.25, 0.18}, quiet().brute_seconds);
  const GateReport r = gate(quiet(), noisy);
  const Check& c = find(r, "query_speedup_vs_brute");
  EXPECT_EQ(c.verdict, Verdict::inconclusive) << c.note;
  EXPECT_EQ(r.verdict, Verdict::inconclusive);
  EXPECT_EQ(exit_code(r.verdict), 3);
}

TEST(GateLogic, ClearRegressionFailsEvenWhenNoisy) {
  Measurement noisy = make({0.3, 0.45, 0.44, 0.5, 0.4}, quiet().brute_seconds);
  const GateReport r = gate(quiet(), noisy);
  EXPECT_EQ(find(r, "query_speedup_vs_brute").verdict, Verdict::fail);
  EXPECT_EQ(r.verdict, Verdict::fail);
}

TEST(GateLogic, FailureBeatsInconclusive) {
  Measurement noisy = make({0.13, 0.2, 0.195, 0.25, 0.18}, quiet().brute_seconds);
  noisy.counters["distance_evals"] += 1;
  EXPECT_EQ(gate(quiet(), noisy).verdict, Verdict::fail);
}

TEST(GateLogic, TooFewRepetitionsIsInconclusive) {
  const Measurement two = make({0.1, 0.1}, {1.0, 1.0});
  const GateReport r = gate(quiet(), two);
  EXPECT_EQ(find(r, "query_speedup_vs_brute").verdict, Verdict::inconclusive);
  EXPECT_EQ(r.verdict, Verdict::inconclusive);
}

TEST(GateLogic, CounterChangesFailAndAllBreachesAreReported) {
  Measurement current = quiet();
  current.counters["distance_evals"] = 250001;
  current.counters["tree_depth"] = 15;
  current.answer_checksum = "def456";
  const GateReport r = gate(quiet(), current);
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(find(r, "distance_evals").verdict, Verdict::fail);
  EXPECT_EQ(find(r, "tree_depth").verdict, Verdict::fail);
  EXPECT_EQ(find(r, "answer_checksum").verdict, Verdict::fail);
  EXPECT_EQ(find(r, "frontier_expanded").verdict, Verdict::pass);
  // Fewer distance evaluations is a change too: counters are deterministic, so any change means
  // the algorithm changed and the baseline must be re-recorded deliberately.
  current = quiet();
  current.counters["distance_evals"] = 100;
  EXPECT_EQ(find(gate(quiet(), current), "distance_evals").verdict, Verdict::fail);
}

TEST(GateLogic, InexactOrApproximateFails) {
  Measurement current = quiet();
  current.recall = 0.9995;
  EXPECT_EQ(find(gate(quiet(), current), "recall_vs_brute").verdict, Verdict::fail);
  current = quiet();
  current.approximate = true;
  EXPECT_EQ(find(gate(quiet(), current), "recall_vs_brute").verdict, Verdict::fail);
  current = quiet();
  current.counters_stable = false;
  EXPECT_EQ(find(gate(quiet(), current), "counters_stable").verdict, Verdict::fail);
}

TEST(GateLogic, MissingZeroOrNanFiguresFail) {
  auto verdict_of = [](const Measurement& current, const std::string& figure) {
    return find(gate(quiet(), current), figure).verdict;
  };
  Measurement m = quiet();
  m.recall = kNaN;
  EXPECT_EQ(verdict_of(m, "recall_vs_brute"), Verdict::fail);

  m = quiet();
  m.counters.erase("frontier_expanded");
  EXPECT_EQ(verdict_of(m, "frontier_expanded"), Verdict::fail);

  m = quiet();
  m.counters["distance_evals"] = 0;
  EXPECT_EQ(verdict_of(m, "distance_evals"), Verdict::fail);

  m = quiet();
  m.answer_checksum.clear();
  EXPECT_EQ(verdict_of(m, "answer_checksum"), Verdict::fail);

  m = quiet();
  m.query_seconds[2] = kNaN;
  EXPECT_EQ(verdict_of(m, "query_speedup_vs_brute"), Verdict::fail);

  m = quiet();
  m.query_seconds[0] = 0;
  EXPECT_EQ(verdict_of(m, "query_speedup_vs_brute"), Verdict::fail);

  m = quiet();
  m.brute_seconds.clear();
  EXPECT_EQ(verdict_of(m, "brute_qps"), Verdict::fail);
  EXPECT_EQ(verdict_of(m, "query_speedup_vs_brute"), Verdict::fail);

  m = quiet();
  m.build_seconds[1] = kNaN;
  EXPECT_EQ(verdict_of(m, "build_vs_brute_pass"), Verdict::fail);

  m = quiet();
  m.build_seconds[0] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(verdict_of(m, "build_vs_brute_pass"), Verdict::fail);

  // Missing on the baseline's side fails the same way.
  Measurement b = quiet();
  b.counters.erase("tree_depth");
  b.build_seconds.clear();
  const GateReport r = gate(b, quiet());
  EXPECT_EQ(find(r, "tree_depth").verdict, Verdict::fail);
  EXPECT_EQ(find(r, "build_vs_brute_pass").verdict, Verdict::fail);
}

TEST(GateLogic, EmptyRunOrUnknownScenarioFails) {
  EXPECT_EQ(evaluate(machine(), {quiet()}, machine(), {}, Policy{}).verdict, Verdict::fail);
  Measurement other = quiet();
  other.scenario = "other";
  const GateReport r = evaluate(machine(), {quiet()}, machine(), {other}, Policy{});
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(find(r, "baseline").verdict, Verdict::fail);
}

TEST(GateLogic, FingerprintMismatchMakesTimeChecksAdvisory) {
  Fingerprint other = machine();
  other.cpu_model = "Intel Xeon";
  other.simd_target = "AVX2";
  // A time regression on another machine is reported but does not decide.
  GateReport r = gate(quiet(), quiet(1.5), Policy{}, other);
  EXPECT_FALSE(r.fingerprint_match);
  EXPECT_TRUE(r.time_advisory);
  EXPECT_EQ(r.fingerprint_notes.size(), 2u);
  const Check& c = find(r, "query_speedup_vs_brute");
  EXPECT_EQ(c.verdict, Verdict::fail);
  EXPECT_TRUE(c.advisory);
  EXPECT_EQ(r.verdict, Verdict::pass);
  // Counters and exactness still gate.
  Measurement current = quiet(1.5);
  current.counters["distance_evals"] += 7;
  r = gate(quiet(), current, Policy{}, other);
  EXPECT_FALSE(find(r, "distance_evals").advisory);
  EXPECT_EQ(r.verdict, Verdict::fail);
  // Inconclusive time checks do not decide either.
  Measurement noisy = make({0.13, 0.2, 0.195, 0.25, 0.18}, quiet().brute_seconds);
  EXPECT_EQ(gate(quiet(), noisy, Policy{}, other).verdict, Verdict::pass);
}

TEST(GateLogic, TimeAdvisoryFlag) {
  Policy policy;
  policy.time_advisory = true;
  const GateReport r = gate(quiet(), quiet(1.5), policy);
  EXPECT_TRUE(r.fingerprint_match);
  EXPECT_TRUE(r.time_advisory);
  EXPECT_EQ(find(r, "query_speedup_vs_brute").verdict, Verdict::fail);
  EXPECT_EQ(r.verdict, Verdict::pass);
  Measurement wrong = quiet();
  wrong.recall = 0.5;
  EXPECT_EQ(gate(quiet(), wrong, policy).verdict, Verdict::fail);
}

TEST(GateLogic, FingerprintDifferencesNameTheFields) {
  Fingerprint other = machine();
  other.threads = 1;
  const auto diffs = fingerprint_differences(machine(), other);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_NE(diffs[0].find("threads"), std::string::npos);
  EXPECT_TRUE(fingerprint_differences(machine(), machine()).empty());
}

TEST(GateLogic, PolicyRejectsNanAndNonsense) {
  EXPECT_NO_THROW(validate(Policy{}));
  Policy p;
  p.query.threshold = kNaN;
  EXPECT_THROW(validate(p), std::invalid_argument);
  EXPECT_THROW(evaluate(machine(), {quiet()}, machine(), {quiet()}, p), std::invalid_argument);
  p = Policy{};
  p.build.implausible = 0.5;
  EXPECT_THROW(validate(p), std::invalid_argument);
  p = Policy{};
  p.max_noise = std::numeric_limits<double>::infinity();
  EXPECT_THROW(validate(p), std::invalid_argument);
  p = Policy{};
  p.min_repetitions = 1;
  EXPECT_THROW(validate(p), std::invalid_argument);
}

TEST(GateLogic, JudgeTimeBoundaries) {
  Policy policy;
  const TimeLimits limits{0.15, 2.0};
  Check c;
  judge_time(c, 1.149, 0.0, limits, policy);
  EXPECT_EQ(c.verdict, Verdict::pass);
  c = Check{};
  judge_time(c, 1.151, 0.0, limits, policy);
  EXPECT_EQ(c.verdict, Verdict::fail);
  c = Check{};
  judge_time(c, 0.5, 0.0, limits, policy);
  EXPECT_EQ(c.verdict, Verdict::pass);
  c = Check{};
  judge_time(c, 0.49, 0.0, limits, policy);
  EXPECT_EQ(c.verdict, Verdict::fail);
  // An improvement just past the plausible limit but inside a wide noise band: inconclusive.
  c = Check{};
  judge_time(c, 0.45, 0.5, limits, policy);
  EXPECT_EQ(c.verdict, Verdict::inconclusive);
}

TEST(GateLogic, RelativeSpread) {
  EXPECT_DOUBLE_EQ(relative_spread({2.0}), 0.0);
  EXPECT_DOUBLE_EQ(relative_spread({1.0, 1.5, 2.0}), 0.25);
  // One pass disturbed by other load does not widen the band.
  EXPECT_NEAR(relative_spread({1.0, 1.01, 1.02, 1.01, 3.0}), 0.01, 1e-12);
  EXPECT_TRUE(std::isnan(relative_spread({})));
  EXPECT_TRUE(std::isnan(relative_spread({1.0, -1.0})));
}

TEST(GateLogic, RecordingProblems) {
  EXPECT_TRUE(recording_problems(quiet(), Policy{}).empty());
  Measurement m = quiet();
  m.recall = 0.99;
  m.counters_stable = false;
  m.query_seconds.resize(2);
  EXPECT_EQ(recording_problems(m, Policy{}).size(), 3u);
  m = quiet();
  m.counters.erase("distance_evals");
  m.build_seconds[0] = kNaN;
  EXPECT_EQ(recording_problems(m, Policy{}).size(), 2u);
}

}  // namespace
}  // namespace ctb::gate
