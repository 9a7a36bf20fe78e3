#pragma once
// `covertree-bench diff A.jsonl B.jsonl`: compares two telemetry logs, each ours or the
// reference's (v1/v2). Runs are paired by run_hash, else by position; rows are aligned by
// batch_index / pass_index; shared fields are compared by class (counters exactly, timings and
// memory within a relative tolerance); per-run aggregates from the mapping table are printed
// side by side. Exit 0 = within tolerance, 1 = outside, 2 = unusable input.
#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "telemetry/mapping.hpp"
#include "telemetry/reader.hpp"

namespace ctb {

struct DiffOptions {
  bool force = false;                    // compare runs whose configurations differ
  bool markdown = false;                 // `output` as Markdown instead of a terminal table
  std::filesystem::path json_path;       // non-empty: also write the JSON report there
  std::filesystem::path mapping_path;    // non-empty: use this mapping instead of the built-in
  std::optional<double> timing_rel_tol;  // override the mapping's tolerances
  std::optional<double> memory_rel_tol;
  std::optional<double> real_rel_tol;
  size_t max_listed = 40;  // mismatches listed per run pair (all are counted)
};

struct AggregateStats {
  size_t n = 0;
  double sum = 0;
  double median = 0;  // NaN for counts
  double p90 = 0;     // numpy-style linear percentile; NaN for counts
};

struct AggregateComparison {
  std::string name;
  std::string unit;
  FieldClass cls = FieldClass::timing;
  std::string stat;  // "sum" or "median": the statistic the verdict uses
  std::optional<AggregateStats> a, b;
  double ratio = 0;  // b / a of `stat`; NaN when not computable
  bool compared = false;
  bool within = true;
};

struct FieldMismatch {
  std::string row;  // row kind
  int64_t index = -1;
  size_t line_a = 0, line_b = 0;
  std::string field;
  FieldClass cls = FieldClass::exact;
  std::string a, b;  // values as JSON text ("(absent)" when missing)
  double rel_diff = 0;
};

struct RunPairReport {
  std::string run_id_a, run_id_b;
  std::string source_a, source_b;
  std::string run_hash_a, run_hash_b;
  std::string paired_by;                        // "run_hash" or "position"
  std::vector<std::string> config_compared;     // config keys checked
  std::vector<std::string> config_differences;  // "k: 8 vs 50"
  bool forced = false;
  std::map<std::string, size_t> rows_compared;  // row kind -> aligned row pairs
  size_t fields_compared = 0;
  size_t mismatch_count = 0;
  std::vector<FieldMismatch> mismatches;                                 // the first max_listed
  std::map<std::string, std::vector<std::string>> only_in_a, only_in_b;  // row kind -> fields
  std::vector<std::string> unaligned;  // rows present on one side only
  std::vector<AggregateComparison> aggregates;
  bool within = true;
};

struct DiffReport {
  std::string path_a, path_b;
  size_t runs_a = 0, runs_b = 0;
  std::map<std::string, Tolerance> tolerances;  // class name -> tolerance used
  std::vector<RunPairReport> pairs;
  std::vector<std::string> unpaired_a, unpaired_b;  // run ids
  bool within = true;
};

/// Compares two parsed logs. Throws InputError when a run pair's configurations differ and
/// `options.force` is not set (the message names both files and lines and the differences).
DiffReport diff_logs(const TelemetryLog& a, const TelemetryLog& b, const TelemetryMapping& mapping,
                     const DiffOptions& options);

std::string render_diff_table(const DiffReport& report);
std::string render_diff_markdown(const DiffReport& report);
/// The report as JSON (non-finite numbers become null: this output is strict JSON).
nlohmann::json diff_report_json(const DiffReport& report);

struct DiffResult {
  int exit_code = 0;                  // 0 within tolerance, 1 outside, 2 unusable input
  std::string output;                 // table or Markdown, for stdout (empty on exit 2)
  std::string error;                  // for stderr (exit 2: names the file and line)
  std::vector<std::string> warnings;  // for stderr, e.g. "FILE:LINE: torn last line skipped"
  std::string json;  // the JSON report text (also written to options.json_path if set)
};

/// The whole `diff` subcommand: reads both files and the mapping, compares, renders, writes the
/// JSON report atomically if asked. Never throws for bad input; returns exit code 2 instead.
DiffResult run_diff(const std::filesystem::path& a, const std::filesystem::path& b,
                    const DiffOptions& options);

}  // namespace ctb
