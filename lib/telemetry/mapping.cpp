#include "telemetry/mapping.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "telemetry/json_line.hpp"

namespace ctb {

using nlohmann::json;

// Defined in the generated source (lib/telemetry/mapping_embedded.cpp.in).
extern const char* const kEmbeddedTelemetryMapping;

const char* to_string(FieldClass c) {
  switch (c) {
    case FieldClass::counter:
      return "counter";
    case FieldClass::timing:
      return "timing";
    case FieldClass::memory:
      return "memory";
    case FieldClass::real:
      return "real";
    case FieldClass::exact:
      return "exact";
    case FieldClass::info:
      return "info";
    case FieldClass::ignore:
      return "ignore";
  }
  return "?";
}

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

[[noreturn]] void bad(std::string_view source, const std::string& problem) {
  throw InputError(fmt::format("{}: telemetry mapping: {}", source, problem));
}

FieldClass class_from_name(std::string_view source, const std::string& name) {
  static const std::map<std::string, FieldClass> kNames = {
      {"counter", FieldClass::counter}, {"timing", FieldClass::timing},
      {"memory", FieldClass::memory},   {"real", FieldClass::real},
      {"exact", FieldClass::exact},     {"info", FieldClass::info},
      {"ignore", FieldClass::ignore}};
  const auto it = kNames.find(name);
  if (it == kNames.end()) bad(source, fmt::format("unknown field class \"{}\"", name));
  return it->second;
}

RowKind row_from_name(std::string_view source, const std::string& name) {
  if (name == "run") return RowKind::run;
  if (name == "build") return RowKind::build;
  if (name == "query") return RowKind::query;
  if (name == "query_summary") return RowKind::query_summary;
  bad(source, fmt::format("unknown row kind \"{}\"", name));
}

AggregateSide parse_side(std::string_view source, const json& j) {
  AggregateSide side;
  side.rows = row_from_name(source, j.at("rows").get<std::string>());
  side.count = j.value("count", false);
  side.scale = j.value("scale", 1.0);
  if (j.contains("fields")) side.fields = j.at("fields").get<std::vector<std::string>>();
  if (!side.count && side.fields.empty()) bad(source, "aggregate side needs fields or count");
  return side;
}

}  // namespace

FieldClass TelemetryMapping::classify(const std::string& name, const json& a, const json& b) const {
  if (std::find(ignore.begin(), ignore.end(), name) != ignore.end()) return FieldClass::ignore;
  if (const auto it = classes.find(name); it != classes.end()) return it->second;
  if (ends_with(name, "_ms") || ends_with(name, "_seconds") || ends_with(name, "qps")) {
    return FieldClass::timing;
  }
  if (name.rfind("rss_", 0) == 0 || ends_with(name, "_bytes")) return FieldClass::memory;
  const auto is_int = [](const json& v) { return v.is_number_integer() || v.is_boolean(); };
  if (is_int(a) && is_int(b)) return FieldClass::counter;
  if (a.is_number() && b.is_number()) return FieldClass::real;
  return FieldClass::exact;
}

TelemetryMapping parse_mapping(std::string_view text, std::string_view source) {
  TelemetryMapping m;
  try {
    // The line parser skips newlines as whitespace, so it reads a pretty-printed file too.
    const json j = parse_telemetry_line(text, source, 1, JsonLineLimits{size_t{1} << 24, 16});
    if (j.value("schema_id", std::string()) != "covertree_bench.telemetry_mapping") {
      bad(source, "schema_id must be \"covertree_bench.telemetry_mapping\"");
    }
    for (const auto& [cls, tol] : j.at("tolerances").items()) {
      m.tolerances[class_from_name(source, cls)] = {tol.at("rel").get<double>(),
                                                    tol.at("abs").get<double>()};
    }
    m.ignore = j.at("ignore").get<std::vector<std::string>>();
    for (const auto& [cls, names] : j.at("classes").items()) {
      const FieldClass c = class_from_name(source, cls);
      for (const auto& n : names) m.classes[n.get<std::string>()] = c;
    }
    for (const auto& c : j.at("config")) {
      m.config.push_back({c.at("ours").get<std::string>(), c.at("reference").get<std::string>()});
    }
    for (const auto& f : j.at("fields")) {
      FieldCorrespondence fc;
      fc.row = row_from_name(source, f.at("row").get<std::string>());
      fc.reference_row =
          row_from_name(source, f.value("reference_row", f.at("row").get<std::string>()));
      fc.ours = f.at("ours").get<std::string>();
      fc.reference = f.at("reference").get<std::string>();
      fc.scale = f.value("scale", 1.0);
      m.fields.push_back(std::move(fc));
    }
    for (const auto& a : j.at("aggregates")) {
      AggregateSpec spec;
      spec.name = a.at("name").get<std::string>();
      spec.unit = a.value("unit", std::string());
      spec.cls = class_from_name(source, a.at("class").get<std::string>());
      spec.stat = a.value("stat", std::string("sum"));
      if (spec.stat != "sum" && spec.stat != "median") {
        bad(source, fmt::format("aggregate {}: stat must be sum or median", spec.name));
      }
      if (a.contains("ours")) spec.ours = parse_side(source, a.at("ours"));
      if (a.contains("reference")) spec.reference = parse_side(source, a.at("reference"));
      m.aggregates.push_back(std::move(spec));
    }
  } catch (const json::exception& e) {
    bad(source, e.what());
  }
  return m;
}

std::string_view builtin_mapping_text() { return kEmbeddedTelemetryMapping; }

const TelemetryMapping& builtin_mapping() {
  static const TelemetryMapping m =
      parse_mapping(builtin_mapping_text(), "built-in configs/telemetry_mapping.json");
  return m;
}

}  // namespace ctb
