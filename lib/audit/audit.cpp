#include "audit/audit.hpp"

#include <algorithm>
#include <cmath>

#include "audit/checks.hpp"
#include "audit/compare.hpp"
#include "bench/progress.hpp"
#include "bench/runner.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "fmt/format.h"
#include "scenario/dataset.hpp"
#include "search/brute_force.hpp"

namespace ctb::audit {
namespace {

Check make(std::string name, bool ok, std::string detail) {
  return Check{std::move(name), ok ? Verdict::pass : Verdict::fail, std::move(detail)};
}

void add_exactness_checks(const KnnResult& tree, const KnnResult& brute, size_t n_points,
                          bool approximate, std::vector<Check>& checks) {
  std::string example;
  const size_t bad_tree = check_well_formed(tree, n_points, &example);
  std::string brute_example;
  const size_t bad_brute = check_well_formed(brute, n_points, &brute_example);
  checks.push_back(make(
      "exact.well_formed", bad_tree == 0 && bad_brute == 0,
      bad_tree == 0 && bad_brute == 0
          ? fmt::format("both answers {} x {}: ids in range, rows sorted by (distance, index), "
                        "no duplicates",
                        tree.n_queries, tree.k)
      : bad_tree > 0
          ? fmt::format("tree answer: {} bad rows; first: {}", bad_tree, example)
          : fmt::format("brute-force answer: {} bad rows; first: {}", bad_brute, brute_example)));

  const KnnComparison c = compare_knn(tree, brute, kSameKernelTolerance);
  const std::string suffix = approximate ? " [an APPROXIMATE query budget is on]" : "";
  if (!c.shape_ok) {
    checks.push_back(make("exact.recall", false, c.shape_problem + suffix));
    return;
  }
  const std::string first = c.exact() ? "" : "; first: " + c.first_problem;
  checks.push_back(make(
      "exact.recall", c.set_differences_unexplained() == 0,
      fmt::format("recall@{} {:.6f} over {} queries; {} index differences, {} explained by ties "
                  "within {:.0e} of the k-th distance{}{}",
                  c.k, c.recall(), c.queries, c.set_differences, c.set_differences_explained,
                  kSameKernelTolerance, c.set_differences_unexplained() ? first : "", suffix)));
  checks.push_back(make(
      "exact.distances", c.distance_violations == 0,
      fmt::format("max |sorted distance difference| {:.3g} (tolerance {:.0e}); {} ranks beyond{}{}",
                  c.max_distance_error, kSameKernelTolerance, c.distance_violations,
                  c.distance_violations ? first : "", suffix)));
  checks.push_back(make(
      "exact.ranks", c.rank_mismatches_unexplained() == 0,
      fmt::format("{} of {} ranks hold a different index; {} of them are ties (equal distances "
                  "within {:.0e}){}{}",
                  c.rank_mismatches, c.queries * c.k, c.rank_mismatches_explained,
                  kSameKernelTolerance, c.rank_mismatches_unexplained() ? first : "", suffix)));
}

// A query that is a tree point finds itself at distance 0 (spec §2), unless other points at
// distance 0 (duplicates) with lower indices fill all k slots.
void add_self_check(const KnnResult& tree, std::span<const int64_t> query_ids,
                    std::vector<Check>& checks) {
  size_t bad = 0;
  std::string example;
  for (size_t q = 0; q < tree.n_queries && q < query_ids.size(); ++q) {
    const int64_t self = query_ids[q];
    bool found = false;
    for (size_t r = 0; r < tree.k && !found; ++r) {
      found = tree.indices[q * tree.k + r] == self && tree.distances[q * tree.k + r] == 0.0;
    }
    const bool crowded = tree.distances[q * tree.k + tree.k - 1] == 0.0;
    if (!found && !crowded) {
      if (bad++ == 0) {
        example = fmt::format("query {} (dataset index {}): nearest is {} at {:.17g}", q, self,
                              tree.indices[q * tree.k], tree.distances[q * tree.k]);
      }
    }
  }
  checks.push_back(make("exact.self_found", bad == 0,
                        bad == 0 ? fmt::format("every one of {} tree-point queries finds itself "
                                               "at distance 0",
                                               query_ids.size())
                                 : fmt::format("{} queries do not find themselves at distance 0; "
                                               "first: {}",
                                               bad, example)));
}

}  // namespace

const char* to_string(Verdict verdict) { return verdict == Verdict::pass ? "pass" : "fail"; }

bool AuditReport::passed() const {
  return !checks.empty() && std::all_of(checks.begin(), checks.end(),
                                        [](const Check& c) { return c.verdict == Verdict::pass; });
}

AuditReport run_audit(const Scenario& scenario_in, const AuditOptions& options) {
  Scenario scenario = scenario_in;
  if (options.threads) scenario.threads = *options.threads;
  apply_engine_option(scenario, options.engine);
  const Engine engine = resolve_engine(scenario.query.engine, scenario.metric);
  if (engine == Engine::brute) {
    throw InputError(
        "engine 'brute': audit checks the index that answers, and the brute force has none "
        "(choose --engine auto, pivot, box or cover-tree)");
  }
  const int threads = scenario.threads > 0 ? scenario.threads : hardware_threads();
  Progress progress(options.progress);

  // Read the reference first: an unusable reference directory fails before minutes of work.
  std::optional<ReferenceFiles> ref;
  if (!options.reference_dir.empty()) {
    if (scenario.metric != MetricKind::residual) {
      throw InputError(
          fmt::format("--reference: the reference's files are residual k-NN "
                      "answers, but scenario '{}' is Euclidean",
                      scenario.name));
    }
    progress.status("audit: reading the reference files");
    ref = load_reference(options.reference_dir);
  }

  progress.status(fmt::format("{}: loading data", scenario.name));
  const Dataset dataset = materialize(scenario);
  if (scenario.k < 1 || scenario.k > dataset.n) {
    throw InputError(fmt::format("{}: field 'k': must be between 1 and n = {} (got {})",
                                 scenario.source, dataset.n, scenario.k));
  }
  AuditReport report;
  report.scenario = scenario.name;
  report.metric = to_string(scenario.metric);
  report.n_points = dataset.n;
  report.dim = dataset.dim;
  report.n_queries = dataset.n_queries();
  report.k = scenario.k;
  report.engine = to_string(engine);

  MetricData data;
  if (scenario.metric == MetricKind::residual) {
    progress.status(fmt::format("{}: residual backend (V, p)", scenario.name));
    const ResidualParams params = residual_params(scenario.residual);
    data = build_residual(dataset.points, dataset.dim, dataset.inducing, params, threads);
  } else {
    data = make_euclidean(dataset.points, dataset.dim);
  }
  const std::vector<QueryRow> queries = make_query_rows(data, dataset);

  // The index: built and queried as `run` builds and queries it (the harness's engine calls),
  // once as `run` does and once with the dense fallback off.
  progress.status(
      fmt::format("{}: building and querying the {} index", scenario.name, to_string(engine)));
  TreeBuildParams build;
  build.spec = scenario.build;
  build.threads = threads;
  build.engine = engine;
  TreeRun tree = run_tree(data, build, queries, tree_query_knobs(scenario, threads));
  const KnnResult& tree_answer = tree.answer;

  progress.status(fmt::format("{}: brute force", scenario.name));
  BruteForceOptions brute;
  brute.k = scenario.k;
  brute.predecessor = scenario.query.predecessor;
  brute.threads = threads;
  const KnnResult brute_answer = brute_force_knn(data, queries, brute);

  const bool approximate = scenario.query.survivor_cap > 0 || scenario.query.low_yield_stop > 0;
  add_exactness_checks(tree_answer, brute_answer, dataset.n, approximate, report.checks);
  if (!dataset.query_ids.empty() && !scenario.query.predecessor) {
    add_self_check(tree_answer, dataset.query_ids, report.checks);
  }

  {
    // Without the fallback, every answer comes from tree pruning alone.
    const KnnComparison c =
        compare_knn(tree.answer_no_fallback, brute_answer, kSameKernelTolerance);
    report.checks.push_back(
        make("exact.tree_pruning_only", c.exact(),  // the name predates the other indexes
             fmt::format("with the dense fallback off: recall@{} {:.6f}, max "
                         "|distance difference| {:.3g}, {} unexplained index "
                         "differences{}",
                         c.k, c.recall(), c.max_distance_error,
                         c.set_differences_unexplained() + c.rank_mismatches_unexplained(),
                         c.exact() ? "" : "; first: " + c.first_problem)));
  }
  for (Check& c : tree.checks) report.checks.push_back(std::move(c));

  progress.status(fmt::format("{}: metric sanity", scenario.name));
  for (Check& c : check_metric(data, dataset.query_ids, brute_answer, options.metric_samples,
                               options.sample_seed, threads)) {
    report.checks.push_back(std::move(c));
  }

  if (ref) {
    progress.status(fmt::format("{}: reference parity", scenario.name));
    check_reference(*ref, dataset.points, dataset.query_ids, dataset.inducing, data, tree_answer,
                    report);
  }
  progress.clear();
  return report;
}

nlohmann::json report_json(const AuditReport& report) {
  nlohmann::json j;
  j["verdict"] = report.passed() ? "pass" : "fail";
  j["scenario"] = report.scenario;
  j["metric"] = report.metric;
  j["n_points"] = report.n_points;
  j["dim"] = report.dim;
  j["n_queries"] = report.n_queries;
  j["k"] = report.k;
  j["engine"] = report.engine;
  nlohmann::json checks = nlohmann::json::array();
  size_t failed = 0;
  for (const Check& c : report.checks) {
    failed += c.verdict == Verdict::fail ? 1 : 0;
    checks.push_back({{"name", c.name}, {"verdict", to_string(c.verdict)}, {"detail", c.detail}});
  }
  j["checks"] = std::move(checks);
  j["checks_failed"] = failed;
  nlohmann::json reported = nlohmann::json::array();
  for (const Reported& r : report.reported) {
    // NaN has no JSON spelling; null says "not measured".
    reported.push_back({{"name", r.name},
                        {"value", std::isfinite(r.value) ? nlohmann::json(r.value) : nullptr},
                        {"detail", r.detail}});
  }
  j["reported"] = std::move(reported);
  if (report.reference_f32_recall) j["reference_f32_recall"] = *report.reference_f32_recall;
  return j;
}

std::string report_table(const AuditReport& report) {
  std::string out = fmt::format(
      "audit {} ({}, {} points x {} dims, {} queries, k = {}, {} engine)\n", report.scenario,
      report.metric, report.n_points, report.dim, report.n_queries, report.k, report.engine);
  size_t width = 5;
  for (const Check& c : report.checks) width = std::max(width, c.name.size());
  for (const Reported& r : report.reported) width = std::max(width, r.name.size());
  out += fmt::format("  {:<{}}  {:<7} {}\n", "check", width, "verdict", "detail");
  size_t failed = 0;
  for (const Check& c : report.checks) {
    failed += c.verdict == Verdict::fail ? 1 : 0;
    out += fmt::format("  {:<{}}  {:<7} {}\n", c.name, width,
                       c.verdict == Verdict::pass ? "PASS" : "FAIL", c.detail);
  }
  if (!report.reported.empty()) {
    out += "reported, not judged:\n";
    for (const Reported& r : report.reported) {
      out += fmt::format("  {:<{}}  {:<7.4g} {}\n", r.name, width, r.value, r.detail);
    }
  }
  out += report.passed() ? fmt::format("verdict: PASS ({} checks)\n", report.checks.size())
                         : fmt::format("verdict: FAIL ({} of {} checks failed)\n", failed,
                                       report.checks.size());
  return out;
}

}  // namespace ctb::audit
