#pragma once
// Reads telemetry logs: ours (covertree_bench.*) and the reference's covertreex.benchmark_batch
// v1/v2, possibly several runs appended to one file. Rows are grouped into runs by run_id in
// order of first appearance, because both writers append.
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/json_line.hpp"

namespace ctb {

enum class RowKind {
  run,            // ours: covertree_bench.run
  build,          // ours: covertree_bench.build_batch; reference: benchmark_batch rows
  query,          // ours: covertree_bench.query_pass
  query_summary,  // reference: benchmark_batch.v2 row with event = "query_summary"
  per_query,      // ours: covertree_bench.query (one query of a pass, --telemetry-queries)
};
const char* to_string(RowKind kind);

enum class LogSource { ours, covertreex_v1, covertreex_v2 };
const char* to_string(LogSource source);
inline bool is_reference(LogSource s) { return s != LogSource::ours; }

struct TelemetryRow {
  RowKind kind = RowKind::build;
  size_t line_no = 0;     // 1-based line in the file
  nlohmann::json fields;  // the whole row object
  /// batch_index (build), pass_index (query), else -1.
  int64_t index = -1;
};

struct TelemetryRun {
  std::string run_id;
  std::string run_hash;  // empty for v1 rows, which have none
  LogSource source = LogSource::ours;
  size_t first_line = 0;
  std::vector<TelemetryRow> rows;  // file order

  /// The first row of `kind`, or nullptr.
  const TelemetryRow* first(RowKind kind) const;
  size_t count(RowKind kind) const;
};

struct TelemetryLog {
  std::string path;
  std::vector<TelemetryRun> runs;
  /// "FILE:LINE: torn last line skipped" when the file ends in a partial line (a writer died
  /// mid-append); every reader prints these on stderr and reads the rest.
  std::vector<std::string> warnings;
};

/// Classifies one parsed line. Throws InputError naming file and line when the row is not a
/// telemetry row we understand (no schema_id/run_id, unknown schema, missing index, ...).
TelemetryRow classify_telemetry_row(nlohmann::json row, LogSource& source, std::string_view file,
                                    size_t line_no);

/// Parses a whole log (blank lines are skipped). `file` names it in errors. A last line without
/// its '\n' that does not parse is a torn append: skipped with a warning in `warnings`. A bad
/// line anywhere else is an InputError.
TelemetryLog parse_telemetry_log(std::string_view text, std::string_view file,
                                 const JsonLineLimits& limits = {});

/// Reads and parses a log file. Throws InputError when unreadable, empty or malformed.
TelemetryLog read_telemetry_file(const std::filesystem::path& path,
                                 const JsonLineLimits& limits = {});

}  // namespace ctb
