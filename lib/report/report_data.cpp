#include "report/report_data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "sweep/pareto.hpp"

namespace ctb {

using nlohmann::json;

namespace {

double num(const json& row, const char* key, double fallback = std::nan("")) {
  const auto it = row.find(key);
  return it != row.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string str(const json& row, const char* key) {
  const auto it = row.find(key);
  return it != row.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Non-finite numbers have no JSON spelling for the page: they become null.
json finite_or_null(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

// Log2 bins of per-query distance evaluations: bin i holds [2^i, 2^(i+1)), bin 0 also 0.
json evals_histogram(const std::vector<double>& evals) {
  std::vector<uint64_t> counts;
  for (const double e : evals) {
    const auto bin = e < 1 ? size_t{0} : static_cast<size_t>(std::floor(std::log2(e)));
    if (counts.size() <= bin) counts.resize(bin + 1, 0);
    ++counts[bin];
  }
  json bins = json::array();
  for (size_t i = 0; i < counts.size(); ++i) {
    bins.push_back({{"lo", std::ldexp(1.0, static_cast<int>(i))},
                    {"hi", std::ldexp(1.0, static_cast<int>(i) + 1)},
                    {"count", counts[i]}});
  }
  return bins;
}

json our_run(const TelemetryRun& run, const std::string& log) {
  json r;
  const TelemetryRow* head = run.first(RowKind::run);
  const json& h = head != nullptr ? head->fields : json::object();
  r["log"] = log;
  r["source"] = to_string(run.source);
  r["run_id"] = run.run_id;
  r["run_hash"] = run.run_hash;
  r["scenario"] = str(h, "scenario");
  r["engine"] = str(h, "engine");
  r["metric"] = str(h, "metric");
  r["tree_points"] = h.value("tree_points", json());
  r["queries"] = h.value("queries", json());
  r["k"] = h.value("k", json());
  r["threads"] = h.value("threads", json());
  r["build_strategy"] = str(h, "build_strategy");
  const double best = num(h, "query_ms_best");
  const double brute = num(h, "brute_ms_best");
  r["qps_best"] = finite_or_null(num(h, "qps_best"));
  r["qps_median"] = finite_or_null(num(h, "queries", 0) * 1e3 / num(h, "query_ms_median"));
  r["query_ms_best"] = finite_or_null(best);
  r["query_ms_median"] = finite_or_null(num(h, "query_ms_median"));
  r["brute_qps"] = finite_or_null(num(h, "queries", 0) * 1e3 / brute);
  r["speedup_vs_brute"] = finite_or_null(brute / best);
  r["recall"] = finite_or_null(num(h, "recall"));
  r["build_ms"] = finite_or_null(num(h, "build_ms"));
  r["backend_ms"] = finite_or_null(num(h, "backend_ms"));
  r["approximate"] = h.value("survivor_cap", 0) > 0 || h.value("low_yield_stop", 0) > 0;
  json machine = json::object();
  for (const char* key :
       {"cpu_model", "simd_target", "compiler", "build_type", "hostname", "git_revision"}) {
    if (const std::string v = str(h, key); !v.empty()) machine[key] = v;
  }
  r["machine"] = machine;
  if (h.contains("sweep_id")) {
    r["sweep_id"] = h["sweep_id"];
    r["sweep_set"] = h.value("sweep_set", json::object());
  }
  // The cover tree's shape (the run row's tree_quality; only indexes with a cover tree have
  // nodes): what the tree-quality chart and table draw.
  if (const auto tq = h.find("tree_quality");
      tq != h.end() && tq->is_object() && tq->value("nodes", 0) > 0) {
    json levels = json::array();
    for (const json& l : tq->value("levels", json::array())) {
      levels.push_back({{"level", l.value("level", json())},
                        {"nodes", l.value("nodes", json())},
                        {"branching_mean", finite_or_null(num(l, "branching_mean"))},
                        {"waste", finite_or_null(num(l, "waste"))},
                        {"median_radius", finite_or_null(num(l, "median_radius"))}});
    }
    r["tree_quality"] = {{"base", finite_or_null(num(*tq, "base"))},
                         {"nodes", tq->value("nodes", json())},
                         {"tree_depth", tq->value("tree_depth", json())},
                         {"branching_mean", finite_or_null(num(*tq, "branching_mean"))},
                         {"branching_max", tq->value("branching_max", json())},
                         {"waste", finite_or_null(num(*tq, "waste"))},
                         {"levels", levels}};
  }
  json passes = json::array();
  json build = json::array();
  std::vector<double> evals;
  for (const TelemetryRow& row : run.rows) {
    const json& f = row.fields;
    if (row.kind == RowKind::query) {
      passes.push_back({{"index", row.index},
                        {"warmup", f.value("warmup", false)},
                        {"ms", finite_or_null(num(f, "query_ms"))},
                        {"distance_evals", f.value("distance_evals", json())}});
    } else if (row.kind == RowKind::build) {
      build.push_back({{"index", row.index},
                       {"level", f.value("level", json())},
                       {"phase", f.value("build_phase", json())},
                       {"ms", finite_or_null(num(f, "batch_ms"))},
                       {"candidates", f.value("candidates", json())},
                       {"selected", f.value("selected", json())},
                       {"dominated", f.value("dominated", json())}});
    } else if (row.kind == RowKind::per_query) {
      evals.push_back(num(f, "distance_evals", 0));
    }
  }
  r["passes"] = passes;
  r["build_rows"] = build;
  if (!evals.empty()) {
    double sum = 0;
    for (const double e : evals) sum += e;
    r["evals_per_query"] = {{"n", evals.size()},
                            {"mean", sum / static_cast<double>(evals.size())},
                            {"p50", percentile_of(evals, 0.5)},
                            {"p90", percentile_of(evals, 0.9)},
                            {"p99", percentile_of(evals, 0.99)},
                            {"max", *std::max_element(evals.begin(), evals.end())},
                            {"n_points", h.value("tree_points", json())},
                            {"bins", evals_histogram(evals)}};
  }
  return r;
}

// The reference's log: per-batch build rows (traversal + conflict graph + MIS is its build
// time, the gold doc's "build total") and, in v2, maybe a query_summary row.
json reference_run(const TelemetryRun& run, const std::string& log) {
  json r;
  const TelemetryRow* first = run.first(RowKind::build);
  const TelemetryRow* summary = run.first(RowKind::query_summary);
  const json& f0 = first != nullptr     ? first->fields
                   : summary != nullptr ? summary->fields
                                        : json::object();
  r["log"] = log;
  r["source"] = to_string(run.source);
  r["run_id"] = run.run_id;
  r["run_hash"] = run.run_hash;
  const json meta = f0.value("metadata", json::object());
  r["scenario"] =
      fmt::format("{} n={} d={}", str(f0, "benchmark").empty() ? "reference" : str(f0, "benchmark"),
                  f0.value("tree_points", meta.value("tree_points", json())).dump(),
                  f0.value("dimension", meta.value("dimension", json())).dump());
  const std::string engine = str(f0, "runtime_engine");
  r["engine"] = "covertreex" + (engine.empty() ? std::string() : " " + engine);
  r["metric"] = str(f0, "metric");
  r["tree_points"] = f0.value("tree_points", json());
  r["queries"] = f0.value("queries", json());
  r["k"] = f0.value("k", json());
  double build_ms = 0;
  json build = json::array();
  for (const TelemetryRow& row : run.rows) {
    if (row.kind != RowKind::build) continue;
    const json& f = row.fields;
    const double ms =
        num(f, "traversal_ms", 0) + num(f, "conflict_graph_ms", 0) + num(f, "mis_ms", 0);
    build_ms += ms;
    build.push_back({{"index", row.index},
                     {"ms", finite_or_null(ms)},
                     {"candidates", f.value("candidates", json())},
                     {"selected", f.value("selected", json())},
                     {"dominated", f.value("dominated", json())}});
  }
  r["build_rows"] = build;
  r["passes"] = json::array();
  r["build_ms"] = build.empty() ? json(nullptr) : json(build_ms);
  r["qps_best"] = nullptr;
  r["recall"] = nullptr;
  r["speedup_vs_brute"] = nullptr;
  if (summary != nullptr) {
    const json& s = summary->fields;
    r["qps_best"] = finite_or_null(num(s, "query_qps"));
    if (build.empty()) r["build_ms"] = finite_or_null(num(s, "build_seconds") * 1e3);
  }
  json machine = json::object();
  for (const char* key :
       {"runtime_backend", "runtime_precision", "runtime_runtime_numba_threads"}) {
    if (f0.contains(key)) machine[key] = f0[key];
  }
  r["machine"] = machine;
  return r;
}

}  // namespace

double percentile_of(std::vector<double> xs, double q) {
  if (xs.empty()) return std::nan("");
  std::sort(xs.begin(), xs.end());
  const double pos = q * static_cast<double>(xs.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - static_cast<double>(lo));
}

json build_report_data(const std::vector<TelemetryLog>& logs,
                       const std::optional<json>& gate_verdict) {
  json data;
  data["logs"] = json::array();
  data["runs"] = json::array();
  std::map<std::string, size_t> sweep_pos;
  json sweeps = json::array();
  for (const TelemetryLog& log : logs) {
    data["logs"].push_back(log.path);
    for (const TelemetryRun& run : log.runs) {
      json r = is_reference(run.source) ? reference_run(run, log.path) : our_run(run, log.path);
      const size_t index = data["runs"].size();
      r["index"] = index;
      if (r.contains("sweep_id")) {
        const std::string id = r["sweep_id"].get<std::string>();
        auto [it, inserted] = sweep_pos.try_emplace(id, sweeps.size());
        if (inserted) {
          json s;
          s["sweep_id"] = id;
          s["scenario"] = r["scenario"];
          s["fields"] = json::array();
          s["points"] = json::array();
          s["brute_qps"] = nullptr;
          s["reference_float32_recall"] =
              r["scenario"] == "gold32k" ? json(kGoldReferenceFloat32Recall) : json(nullptr);
          sweeps.push_back(s);
        }
        json& s = sweeps[it->second];
        for (const auto& item : r["sweep_set"].items()) {
          if (std::find(s["fields"].begin(), s["fields"].end(), item.key()) == s["fields"].end()) {
            s["fields"].push_back(item.key());
          }
        }
        s["points"].push_back({{"run", index},
                               {"set", r["sweep_set"]},
                               {"recall", r["recall"]},
                               {"qps_best", r["qps_best"]},
                               {"approximate", r["approximate"]}});
        if (s["brute_qps"].is_null()) s["brute_qps"] = r["brute_qps"];
      }
      data["runs"].push_back(std::move(r));
    }
  }
  // The front, recomputed from the rows (a sweep appends its points as they finish, so the
  // log has no front of its own); the same rule as sweep's table.
  for (json& s : sweeps) {
    std::vector<std::pair<double, double>> rq;
    for (const json& p : s["points"]) {
      rq.emplace_back(p["recall"].is_number() ? p["recall"].get<double>() : std::nan(""),
                      p["qps_best"].is_number() ? p["qps_best"].get<double>() : std::nan(""));
    }
    const std::vector<bool> front = pareto_front(rq);
    for (size_t i = 0; i < front.size(); ++i)
      s["points"][i]["pareto"] = static_cast<bool>(front[i]);
  }
  data["sweeps"] = sweeps;
  data["gate"] = gate_verdict ? *gate_verdict : json(nullptr);
  return data;
}

}  // namespace ctb
