// sweep: the cartesian product of --set fields, validation before any work, one tree per build
// configuration, one exact answer per (inputs, k, predecessor), recall against it, the front.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "bench/runner.hpp"
#include "common/temp_dir.hpp"
#include "core/error.hpp"
#include "scenario/scenario.hpp"
#include "sweep/pareto.hpp"
#include "sweep/sweep_output.hpp"
#include "sweep/sweep_points.hpp"
#include "sweep/sweep_run.hpp"
#include "telemetry/reader.hpp"

namespace ctb {
namespace {

using nlohmann::json;

constexpr const char* kTiny = R"(name: tiny-sweep
metric: residual
data: {seed: 7, n: 250, dim: 2}
queries: {count: 40, seed: 8}
k: 6
residual: {inducing_count: 24, inducing_seed: 1}
build: {batch_size: 128}
query: {engine: cover-tree}  # reads the approximate budgets these sweeps set
repeat: 2
warmup: 0
threads: 1
)";

struct Fixture {
  test_support::TempDir dir;
  ScenarioDocument doc;
  Fixture() { doc = load_scenario_document(dir.write("tiny.yaml", kTiny).string()); }
};

std::vector<SweepAxis> axes(std::initializer_list<const char*> sets) {
  std::vector<SweepAxis> out;
  for (const char* s : sets) out.push_back(parse_sweep_axis(s));
  return out;
}

std::vector<std::string> fields_of(const std::vector<SweepAxis>& a) {
  std::vector<std::string> f;
  for (const auto& x : a) f.push_back(x.field);
  return f;
}

TEST(SweepAxis, ParsesTypedValues) {
  const SweepAxis a = parse_sweep_axis("query.survivor_cap=0,512,2048");
  EXPECT_EQ(a.field, "query.survivor_cap");
  ASSERT_EQ(a.values.size(), 3u);
  EXPECT_TRUE(a.values[1].is_number_unsigned());
  EXPECT_EQ(a.values[2].get<uint64_t>(), 2048u);
  const SweepAxis b = parse_sweep_axis("residual.kernel=rbf,matern52");
  EXPECT_EQ(b.values[1].get<std::string>(), "matern52");
  EXPECT_TRUE(parse_sweep_axis("query.predecessor=true").values[0].is_boolean());
  EXPECT_TRUE(parse_sweep_axis("residual.lengthscale=0.5").values[0].is_number_float());
}

TEST(SweepAxis, RejectsMalformedOptions) {
  for (const char* bad : {"k", "=1,2", "k=", "k=1,,2", "k=1,"}) {
    EXPECT_THROW(parse_sweep_axis(bad), InputError) << bad;
  }
}

TEST(SweepPoints, CartesianProductFirstAxisOutermost) {
  Fixture f;
  // Stable schema fields only (build.strategy, not an engine's own knobs, which change).
  const auto a =
      axes({"query.survivor_cap=0,16,64", "build.strategy=euclidean-hybrid,pure-residual"});
  const std::vector<SweepPoint> pts = expand_sweep(f.doc, a);
  ASSERT_EQ(pts.size(), 6u);
  const uint64_t caps[] = {0, 0, 16, 16, 64, 64};
  for (size_t i = 0; i < pts.size(); ++i) {
    const bool pure = i % 2 == 1;
    EXPECT_EQ(pts[i].scenario.query.survivor_cap, caps[i]) << i;
    EXPECT_EQ(pts[i].scenario.build.strategy,
              pure ? BuildStrategy::pure_residual : BuildStrategy::euclidean_hybrid)
        << i;
    EXPECT_EQ(pts[i].set["query.survivor_cap"].get<uint64_t>(), caps[i]);
    EXPECT_EQ(pts[i].set["build.strategy"], pure ? "pure-residual" : "euclidean-hybrid");
    // Fields not set keep the file's values.
    EXPECT_EQ(pts[i].scenario.build.batch_size, 128u);
  }
  // Query knobs share a tree; a build knob does not; none changes the inputs or the truth.
  EXPECT_EQ(pts[0].build_key, pts[2].build_key);
  EXPECT_EQ(pts[1].build_key, pts[5].build_key);
  EXPECT_NE(pts[0].build_key, pts[1].build_key);
  EXPECT_EQ(pts[0].inputs_key, pts[1].inputs_key);
  EXPECT_EQ(pts[0].truth_key, pts[5].truth_key);
}

TEST(SweepPoints, KAndInputsChangeTheRightKeys) {
  Fixture f;
  const auto pts = expand_sweep(f.doc, axes({"k=3,6", "residual.inducing_count=16,24"}));
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts[0].build_key, pts[2].build_key);    // k is a query field
  EXPECT_NE(pts[0].truth_key, pts[2].truth_key);    // ... but another exact answer
  EXPECT_NE(pts[0].inputs_key, pts[1].inputs_key);  // m changes the backend
  EXPECT_NE(pts[0].build_key, pts[1].build_key);
}

// query.engine decides what is built: points with different engines never share a build, and
// auto shares one with the engine it resolves to (pivot, for residual data).
TEST(SweepPoints, EngineIsPartOfTheBuildKey) {
  Fixture f;
  const auto pts = expand_sweep(f.doc, axes({"query.engine=auto,pivot,cover-tree,brute"}));
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts[0].build_key, pts[1].build_key);
  EXPECT_NE(pts[1].build_key, pts[2].build_key);
  EXPECT_NE(pts[1].build_key, pts[3].build_key);
  EXPECT_NE(pts[2].build_key, pts[3].build_key);
  EXPECT_EQ(pts[0].truth_key, pts[2].truth_key);  // one exact answer for all
}

// The roadmap's study in small: strategies x bases on the cover tree, one build per point
// (build.base decides a build), every point exact and carrying the tree's shape.
TEST(SweepRun, CoverTreeStudyPointsCarryTheTreeShape) {
  Fixture f;
  const auto a = axes({"query.engine=cover-tree", "build.strategy=euclidean-hybrid,pure-residual",
                       "build.base=2,1.5,1.3"});
  const auto pts = expand_sweep(f.doc, a);
  ASSERT_EQ(pts.size(), 6u);
  for (size_t i = 0; i < pts.size(); ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_NE(pts[i].build_key, pts[j].build_key) << i << " " << j;
  SweepOptions options;
  options.progress = false;
  const SweepResult r = run_sweep(pts, fields_of(a), options);
  EXPECT_EQ(r.builds, 6u);
  const nlohmann::json j = sweep_json(r);
  ASSERT_EQ(j["points"].size(), 6u);
  for (const auto& p : j["points"]) {
    EXPECT_EQ(p["engine"], "cover-tree") << p.dump();
    EXPECT_EQ(p["recall"].get<double>(), 1.0) << p.dump();
    EXPECT_GT(p["tree_depth"].get<int64_t>(), 1) << p.dump();
    EXPECT_GT(p["branching_mean"].get<double>(), 1.0) << p.dump();
    EXPECT_GE(p["branching_max"].get<double>(), p["branching_mean"].get<double>()) << p.dump();
    EXPECT_GE(p["waste"].get<double>(), 0.0) << p.dump();
  }
  // Smaller bases: deeper trees (for each strategy).
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_LT(j["points"][3 * s]["tree_depth"].get<int64_t>(),
              j["points"][3 * s + 2]["tree_depth"].get<int64_t>())
        << s;
  }
  const std::string table = sweep_table(r);
  for (const char* column : {"depth", "branching", "waste"})
    EXPECT_NE(table.find(column), std::string::npos) << column;
}

TEST(SweepRun, EachEngineGetsItsOwnBuildAndIsNamed) {
  Fixture f;
  const auto a = axes({"query.engine=auto,pivot,cover-tree,brute"});
  SweepOptions options;
  options.progress = false;
  const SweepResult r = run_sweep(expand_sweep(f.doc, a), fields_of(a), options);
  ASSERT_EQ(r.points.size(), 4u);
  EXPECT_EQ(r.builds, 2u);  // pivot (shared with auto) and cover-tree; brute builds nothing
  EXPECT_EQ(r.points[0].build_id, r.points[1].build_id);
  EXPECT_NE(r.points[1].build_id, r.points[2].build_id);
  const char* names[] = {"pivot", "pivot", "cover-tree", "brute"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.points[i].engine, names[i]) << i;
    EXPECT_EQ(r.points[i].recall, 1.0) << i;
  }
  EXPECT_EQ(r.points[3].build_seconds, 0.0);
  EXPECT_EQ(sweep_json(r)["points"][2]["engine"], "cover-tree");
}

TEST(SweepPoints, BadNamesAndValuesNameTheSet) {
  Fixture f;
  const auto expect_error = [&](std::initializer_list<const char*> sets, const std::string& want) {
    try {
      expand_sweep(f.doc, axes(sets));
      ADD_FAILURE() << "no error; wanted " << want;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  expect_error({"build.nope=1"}, "--set build.nope=1: ");
  expect_error({"build.nope=1"}, "field 'build.nope': unknown key");
  expect_error({"query.survivor_cap=0,-5"}, "--set query.survivor_cap=-5");
  expect_error({"k=abc"}, "field 'k': expected an integer");
  expect_error({"k=1000"}, "field 'k'");
  expect_error({"data.n.x=1"}, "data.n");
  expect_error({"k=1,2", "k=3"}, "given twice");
}

TEST(SweepPoints, ValuesValidOnlyTogetherAreAccepted) {
  Fixture f;
  // data.n=5 alone is invalid (k=6 and m=24 exceed it); with k=3 and m=4 the point is fine.
  const auto pts = expand_sweep(f.doc, axes({"data.n=5,250", "k=3", "residual.inducing_count=4"}));
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].scenario.data.n, 5u);
  EXPECT_EQ(pts[1].scenario.residual.inducing_count, 4u);
  // ... and a combination invalid only together names the whole combination.
  try {
    expand_sweep(f.doc, axes({"data.n=30", "residual.inducing_count=40"}));
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--set data.n=30 residual.inducing_count=40: "),
              std::string::npos)
        << e.what();
  }
}

TEST(Pareto, FrontOfRecallAndQps) {
  const std::vector<std::pair<double, double>> pts = {
      {1.0, 100}, {0.9, 200}, {0.8, 150}, {1.0, 50}, {0.5, 300}, {0.9, 200}, {std::nan(""), 1e9}};
  const std::vector<bool> front = pareto_front(pts);
  const std::vector<bool> want = {true, true, false, false, true, true, false};
  EXPECT_EQ(front, want);
}

TEST(SweepRun, BuildsOncePerBuildConfigAndMeasuresRecall) {
  Fixture f;
  const auto a = axes({"query.survivor_cap=0,8", "build.batch_size=64,128"});
  const std::vector<SweepPoint> pts = expand_sweep(f.doc, a);
  SweepOptions options;
  options.progress = false;
  options.telemetry = (f.dir.path() / "sweep.jsonl").string();
  const SweepResult r = run_sweep(pts, fields_of(a), options);
  ASSERT_EQ(r.points.size(), 4u);
  EXPECT_EQ(r.builds, 2u);
  EXPECT_EQ(r.exact_answers, 1u);
  // Same build config -> same build (id and time); different -> different.
  EXPECT_EQ(r.points[0].build_id, r.points[2].build_id);
  EXPECT_EQ(r.points[0].build_seconds, r.points[2].build_seconds);
  EXPECT_NE(r.points[0].build_id, r.points[1].build_id);
  // Exact points agree with the exact answer; the approximate ones are measured, not assumed.
  EXPECT_EQ(r.points[0].recall, 1.0);
  EXPECT_EQ(r.points[1].recall, 1.0);
  EXPECT_FALSE(r.points[0].approximate);
  EXPECT_TRUE(r.points[2].approximate);
  for (size_t i = 2; i < 4; ++i) {
    RunOptions ro;
    ro.progress = false;
    ro.compare_brute = true;
    const RunResult alone = run_scenario(pts[i].scenario, ro);
    EXPECT_DOUBLE_EQ(r.points[i].recall, *alone.recall_vs_brute) << i;
    EXPECT_DOUBLE_EQ(r.points[i].distance_evals_per_query,
                     static_cast<double>(alone.pass_counters.back().distance_evals) /
                         static_cast<double>(alone.n_queries))
        << i;
  }
  // The front: each point on it is beaten by nobody.
  for (size_t i = 0; i < r.points.size(); ++i) {
    bool beaten = false;
    for (size_t j = 0; j < r.points.size(); ++j) {
      const auto &p = r.points[i], &o = r.points[j];
      beaten = beaten || (o.recall >= p.recall && o.qps_best >= p.qps_best &&
                          (o.recall > p.recall || o.qps_best > p.qps_best));
    }
    EXPECT_EQ(r.points[i].pareto, !beaten) << i;
  }

  // Telemetry: one run per point (in the order run: grouped by tree), tagged with the sweep
  // and the fields it set.
  const TelemetryLog log = read_telemetry_file(options.telemetry);
  ASSERT_EQ(log.runs.size(), 4u);
  std::set<size_t> logged;
  for (size_t n = 0; n < 4; ++n) {
    const json& row = log.runs[n].first(RowKind::run)->fields;
    EXPECT_EQ(row["sweep_id"], r.sweep_id);
    size_t i = 0;
    while (i < 4 && r.points[i].set != row["sweep_set"]) ++i;
    ASSERT_LT(i, 4u) << row["sweep_set"];
    logged.insert(i);
    EXPECT_EQ(row["survivor_cap"], r.points[i].set["query.survivor_cap"]);
    EXPECT_DOUBLE_EQ(row["recall"].get<double>(), r.points[i].recall);
    EXPECT_EQ(log.runs[n].count(RowKind::query), 2u);  // warmup 0 + repeat 2
  }
  EXPECT_EQ(logged.size(), 4u);

  const json j = sweep_json(r);
  EXPECT_EQ(j["scenario"], "tiny-sweep");
  ASSERT_EQ(j["points"].size(), 4u);
  for (const char* key : {"set", "build_seconds", "qps_best", "qps_median",
                          "distance_evals_per_query", "recall", "pareto"}) {
    EXPECT_TRUE(j["points"][0].contains(key)) << key;
  }
  EXPECT_FALSE(j["points"][0].contains("speedup_vs_brute"));  // not timed without the flag
  const std::string table = sweep_table(r);
  EXPECT_NE(table.find("query.survivor_cap"), std::string::npos);
  EXPECT_NE(table.find("2 tree builds"), std::string::npos);
}

TEST(SweepRun, KSweepSharesTheTreeNotTheAnswer) {
  Fixture f;
  const auto a = axes({"k=2,6"});
  SweepOptions options;
  options.progress = false;
  options.compare_brute = true;
  const SweepResult r = run_sweep(expand_sweep(f.doc, a), fields_of(a), options);
  EXPECT_EQ(r.builds, 1u);
  EXPECT_EQ(r.exact_answers, 2u);
  for (const auto& p : r.points) {
    EXPECT_EQ(p.recall, 1.0);
    ASSERT_TRUE(p.speedup_vs_brute.has_value());
    EXPECT_GT(*p.speedup_vs_brute, 0.0);
  }
}

}  // namespace
}  // namespace ctb
