#include "sweep/sweep_points.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "scenario/field_set.hpp"

namespace ctb {

using nlohmann::json;

namespace {

// Bounds the product so a typo cannot start a run of millions of points.
constexpr size_t kMaxPoints = 10000;

std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::string key_without(json doc, const std::vector<std::string>& drop) {
  for (const std::string& field : drop) doc.erase(field);
  return doc.dump();
}

}  // namespace

const std::vector<std::string>& query_side_fields() {
  static const std::vector<std::string> fields = {"query",  "k",    "repeat",
                                                  "warmup", "name", "description"};
  return fields;
}

SweepAxis parse_sweep_axis(const std::string& option) {
  const size_t eq = option.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == option.size()) {
    throw InputError(
        fmt::format("--set {}: expected FIELD=V1,V2,... (e.g. query.survivor_cap=0,512)", option));
  }
  SweepAxis axis;
  axis.field = option.substr(0, eq);
  const std::string what = fmt::format("--set {}", option);
  for (const std::string& text : split_values(option.substr(eq + 1))) {
    if (text.empty()) throw InputError(fmt::format("{}: empty value in the list", what));
    axis.values.push_back(parse_field_value(text, what));
    axis.texts.push_back(text);
  }
  return axis;
}

std::vector<SweepPoint> expand_sweep(const ScenarioDocument& base,
                                     const std::vector<SweepAxis>& axes) {
  if (axes.empty()) throw InputError("sweep: give at least one --set FIELD=V1,V2,...");
  std::set<std::string> seen;
  size_t total = 1;
  for (const SweepAxis& axis : axes) {
    if (!seen.insert(axis.field).second) {
      throw InputError(fmt::format("--set {}: field given twice", axis.field));
    }
    total *= axis.values.size();
    if (total > kMaxPoints) {
      throw InputError(
          fmt::format("sweep: more than {} points; narrow the --set lists", kMaxPoints));
    }
  }
  std::vector<SweepPoint> points;
  std::vector<size_t> idx(axes.size(), 0);
  for (size_t n = 0; n < total; ++n) {
    ScenarioDocument doc = base;
    SweepPoint p;
    p.set = json::object();
    std::string label;
    for (size_t a = 0; a < axes.size(); ++a) {
      p.set[axes[a].field] = axes[a].values[idx[a]];
      label +=
          fmt::format("{}{}={}", label.empty() ? "" : " ", axes[a].field, axes[a].texts[idx[a]]);
    }
    try {
      for (size_t a = 0; a < axes.size(); ++a) {
        set_scenario_field(doc.doc, axes[a].field, axes[a].values[idx[a]], doc.source);
      }
      p.scenario = validate_scenario_document(doc);
    } catch (const InputError& e) {
      // Name the one --set value that is bad on its own, if there is one; else the combination.
      for (size_t a = 0; a < axes.size(); ++a) {
        ScenarioDocument alone = base;
        try {
          set_scenario_field(alone.doc, axes[a].field, axes[a].values[idx[a]], alone.source);
          validate_scenario_document(alone);
        } catch (const InputError& single) {
          throw InputError(
              fmt::format("--set {}={}: {}", axes[a].field, axes[a].texts[idx[a]], single.what()));
        }
      }
      throw InputError(fmt::format("--set {}: {}", label, e.what()));
    }
    std::vector<std::string> drop = query_side_fields();
    // query.engine decides what is built (auto and the engine it resolves to share a build).
    p.build_key = key_without(doc.doc, drop) + "|engine=" +
                  to_string(resolve_engine(p.scenario.query.engine, p.scenario.metric));
    drop.push_back("build");
    p.inputs_key = key_without(doc.doc, drop);
    p.truth_key = fmt::format("{}|k={}|predecessor={}", p.inputs_key, p.scenario.k,
                              p.scenario.query.predecessor);
    points.push_back(std::move(p));
    // Odometer: the last axis turns fastest.
    for (size_t a = axes.size(); a-- > 0;) {
      if (++idx[a] < axes[a].values.size()) break;
      idx[a] = 0;
    }
  }
  return points;
}

}  // namespace ctb
