#pragma once
// The ours <-> reference field-mapping table (configs/telemetry_mapping.json, built into the
// binary): how each field is compared (class and tolerance), which fields identify the
// configuration, which fields correspond across schemas, and the per-run aggregates that let
// phases compare even where the two sides' rows have different granularity.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/reader.hpp"

namespace ctb {

enum class FieldClass {
  counter,  // deterministic: must be equal (NaN equals NaN)
  timing,   // wall times and rates: relative tolerance
  memory,   // RSS and sizes: relative tolerance
  real,     // deterministic floats: tight relative tolerance (rounding)
  exact,    // strings, booleans, nulls, arrays, objects: must be equal
  info,     // shown, never fails (quantities that are related but not equivalent)
  ignore,   // identity and machine fields: never compared
};
const char* to_string(FieldClass c);

struct Tolerance {
  double rel = 0;  // |a - b| <= max(abs, rel * max(|a|, |b|))
  double abs = 0;
};

/// One side of an aggregate: which rows, which fields (summed per row), times `scale`.
/// `count` = the statistic is the number of rows. Query passes flagged warmup are skipped.
struct AggregateSide {
  RowKind rows = RowKind::build;
  std::vector<std::string> fields;
  double scale = 1;
  bool count = false;
};

struct AggregateSpec {
  std::string name;
  std::string unit;
  FieldClass cls = FieldClass::timing;
  std::string stat = "sum";  // which statistic decides the verdict: "sum" or "median"
  std::optional<AggregateSide> ours;
  std::optional<AggregateSide> reference;
};

struct FieldCorrespondence {
  RowKind row = RowKind::build;            // our row kind
  RowKind reference_row = RowKind::build;  // the reference's row kind
  std::string ours;
  std::string reference;
  double scale = 1;  // ours = reference * scale
};

struct ConfigKey {
  std::string ours;
  std::string reference;
};

struct TelemetryMapping {
  std::map<FieldClass, Tolerance> tolerances;  // for timing, memory, real
  std::vector<std::string> ignore;
  std::map<std::string, FieldClass> classes;  // explicit field classes
  std::vector<ConfigKey> config;
  std::vector<FieldCorrespondence> fields;
  std::vector<AggregateSpec> aggregates;

  /// The class of field `name` when its values are `a` and `b`: ignore list, then the explicit
  /// table, then by name (`*_ms`, `*_seconds`, `*qps` -> timing; `rss_*`, `*_bytes` -> memory),
  /// then by value (integers and booleans -> counter, other numbers -> real, else exact).
  FieldClass classify(const std::string& name, const nlohmann::json& a,
                      const nlohmann::json& b) const;
};

/// The text of configs/telemetry_mapping.json as built into the binary.
std::string_view builtin_mapping_text();
/// Parses a mapping table; `source` names it in InputError messages.
TelemetryMapping parse_mapping(std::string_view text, std::string_view source);
/// parse_mapping(builtin_mapping_text()), parsed once.
const TelemetryMapping& builtin_mapping();

}  // namespace ctb
