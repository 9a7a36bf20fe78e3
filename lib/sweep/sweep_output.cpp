#include "sweep/sweep_output.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ctb {

using nlohmann::json;

namespace {

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string sweep_table(const SweepResult& r) {
  bool timed = false;
  bool shaped = false;  // some point was answered by a cover tree: show its shape
  for (const auto& p : r.points) {
    timed = timed || p.speedup_vs_brute.has_value();
    shaped = shaped || p.branching_mean > 0;
  }
  std::vector<std::string> head = r.fields;
  if (shaped) {
    for (const char* h : {"engine", "depth", "branching", "max", "waste"}) head.emplace_back(h);
  }
  for (const char* h : {"build s", "q/s best", "q/s median", "evals/query", "recall"}) {
    head.emplace_back(h);
  }
  if (timed) head.emplace_back("x brute");
  head.emplace_back("front");
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.points) {
    std::vector<std::string> row;
    for (const std::string& f : r.fields) row.push_back(value_text(p.set.value(f, json())));
    if (shaped) {
      row.push_back(p.engine);
      row.push_back(fmt::format("{}", p.tree_depth));
      row.push_back(fmt::format("{:.2f}", p.branching_mean));
      row.push_back(fmt::format("{}", p.branching_max));
      row.push_back(fmt::format("{:.3f}", p.waste));
    }
    row.push_back(fmt::format("{:.3f}", p.build_seconds));
    row.push_back(fmt::format("{:.0f}", p.qps_best));
    row.push_back(fmt::format("{:.0f}", p.qps_median));
    row.push_back(fmt::format("{:.1f}", p.distance_evals_per_query));
    row.push_back(fmt::format("{:.6f}", p.recall));
    if (timed) row.push_back(p.speedup_vs_brute ? fmt::format("{:.2f}", *p.speedup_vs_brute) : "-");
    row.push_back(p.pareto ? "*" : "");
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size(); ++c) {
      // Field values left-aligned, figures right-aligned.
      s += c < r.fields.size() ? fmt::format("{:<{}}", cells[c], width[c])
                               : fmt::format("{:>{}}", cells[c], width[c]);
      s += c + 1 < cells.size() ? "  " : "";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = fmt::format("sweep {} ({} points, {} tree build{}, {} exact answer{})\n",
                                r.scenario, r.points.size(), r.builds, r.builds == 1 ? "" : "s",
                                r.exact_answers, r.exact_answers == 1 ? "" : "s");
  out += line(head);
  for (const auto& row : rows) out += line(row);
  out += "front: * = on the recall / q/s Pareto front (no other point has both higher)\n";
  return out;
}

json sweep_json(const SweepResult& r) {
  json j;
  j["scenario"] = r.scenario;
  j["sweep_id"] = r.sweep_id;
  j["fields"] = r.fields;
  j["builds"] = r.builds;
  j["points"] = json::array();
  for (const auto& p : r.points) {
    json o;
    o["set"] = p.set;
    o["engine"] = p.engine;
    o["build_id"] = p.build_id;
    o["build_seconds"] = p.build_seconds;
    o["tree_depth"] = p.tree_depth;
    o["branching_mean"] = p.branching_mean;
    o["branching_max"] = p.branching_max;
    o["waste"] = p.waste;
    o["qps_best"] = p.qps_best;
    o["qps_median"] = p.qps_median;
    o["distance_evals_per_query"] = p.distance_evals_per_query;
    o["recall"] = p.recall;
    if (p.speedup_vs_brute) o["speedup_vs_brute"] = *p.speedup_vs_brute;
    if (p.brute_qps) o["brute_qps"] = *p.brute_qps;
    o["approximate"] = p.approximate;
    o["pareto"] = p.pareto;
    j["points"].push_back(std::move(o));
  }
  return j;
}

}  // namespace ctb
