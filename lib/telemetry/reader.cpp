#include "telemetry/reader.hpp"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "core/error.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb {

using nlohmann::json;

const char* to_string(RowKind kind) {
  switch (kind) {
    case RowKind::run:
      return "run";
    case RowKind::build:
      return "build";
    case RowKind::query:
      return "query";
    case RowKind::query_summary:
      return "query_summary";
    case RowKind::per_query:
      return "per_query";
  }
  return "?";
}

const char* to_string(LogSource source) {
  switch (source) {
    case LogSource::ours:
      return "covertree_bench";
    case LogSource::covertreex_v1:
      return "covertreex.v1";
    case LogSource::covertreex_v2:
      return "covertreex.v2";
  }
  return "?";
}

const TelemetryRow* TelemetryRun::first(RowKind kind) const {
  for (const auto& r : rows) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

size_t TelemetryRun::count(RowKind kind) const {
  size_t n = 0;
  for (const auto& r : rows) n += r.kind == kind ? 1 : 0;
  return n;
}

namespace {

[[noreturn]] void bad_row(std::string_view file, size_t line_no, const std::string& problem) {
  throw InputError(fmt::format("{}:{}: {}", file, line_no, problem));
}

int64_t required_index(const json& row, const char* key, std::string_view file, size_t line_no) {
  const auto it = row.find(key);
  if (it == row.end()) bad_row(file, line_no, fmt::format("missing \"{}\"", key));
  if (!it->is_number_integer() ||
      (it->is_number_unsigned() && it->get<uint64_t>() > (1ull << 62)) ||
      (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    bad_row(file, line_no, fmt::format("\"{}\" must be a non-negative integer", key));
  }
  return it->get<int64_t>();
}

}  // namespace

TelemetryRow classify_telemetry_row(json row, LogSource& source, std::string_view file,
                                    size_t line_no) {
  TelemetryRow out;
  out.line_no = line_no;
  const auto sid = row.find("schema_id");
  if (sid == row.end() || !sid->is_string()) {
    bad_row(file, line_no, "not a telemetry row: no string \"schema_id\"");
  }
  const auto rid = row.find("run_id");
  if (rid == row.end() || !rid->is_string()) {
    bad_row(file, line_no, "not a telemetry row: no string \"run_id\"");
  }
  if (const auto rh = row.find("run_hash"); rh != row.end() && !rh->is_string()) {
    bad_row(file, line_no, "\"run_hash\" must be a string");
  }
  const std::string& schema = sid->get_ref<const std::string&>();
  if (schema == kRunSchemaId || schema == kBuildBatchSchemaId || schema == kQueryPassSchemaId ||
      schema == kQuerySchemaId) {
    source = LogSource::ours;
    const auto ver = row.find("schema_version");
    if (ver == row.end() || !ver->is_number_integer()) {
      bad_row(file, line_no, "missing integer \"schema_version\"");
    }
    if (ver->get<int64_t>() < 1 || ver->get<int64_t>() > kTelemetrySchemaVersion) {
      bad_row(file, line_no,
              fmt::format("{} schema_version {} is not supported (this build reads 1..{})", schema,
                          ver->dump(), kTelemetrySchemaVersion));
    }
    if (schema == kRunSchemaId) {
      out.kind = RowKind::run;
    } else if (schema == kBuildBatchSchemaId) {
      out.kind = RowKind::build;
      out.index = required_index(row, "batch_index", file, line_no);
    } else if (schema == kQueryPassSchemaId) {
      out.kind = RowKind::query;
      out.index = required_index(row, "pass_index", file, line_no);
    } else {
      out.kind = RowKind::per_query;
      out.index = required_index(row, "query_index", file, line_no);
    }
  } else if (schema == "covertreex.benchmark_batch.v1" ||
             schema == "covertreex.benchmark_batch.v2") {
    source = schema.back() == '1' ? LogSource::covertreex_v1 : LogSource::covertreex_v2;
    if (const auto ev = row.find("event"); ev != row.end()) {
      if (!ev->is_string() || ev->get_ref<const std::string&>() != "query_summary") {
        bad_row(file, line_no, fmt::format("unknown reference event {}", ev->dump()));
      }
      out.kind = RowKind::query_summary;
    } else {
      out.kind = RowKind::build;
      out.index = required_index(row, "batch_index", file, line_no);
    }
  } else {
    bad_row(file, line_no, fmt::format("unknown schema_id \"{}\"", schema));
  }
  out.fields = std::move(row);
  return out;
}

TelemetryLog parse_telemetry_log(std::string_view text, std::string_view file,
                                 const JsonLineLimits& limits) {
  TelemetryLog log;
  log.path = std::string(file);
  std::map<std::string, size_t> run_pos;
  std::map<std::string, std::set<std::pair<int, int64_t>>> seen_index;  // duplicate detection
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json parsed;
    try {
      parsed = parse_telemetry_line(line, file, line_no, limits);
    } catch (const InputError&) {
      // Our writer ends every row with '\n' in one write; a final line without it that does
      // not parse is what a writer killed mid-append (or a power cut) leaves behind.
      if (end != text.size()) throw;
      log.warnings.push_back(fmt::format("{}:{}: torn last line skipped", file, line_no));
      continue;
    }
    LogSource source = LogSource::ours;
    TelemetryRow row = classify_telemetry_row(std::move(parsed), source, file, line_no);
    const std::string run_id = row.fields["run_id"].get<std::string>();
    const std::string run_hash = row.fields.value("run_hash", std::string());
    auto [it, inserted] = run_pos.try_emplace(run_id, log.runs.size());
    if (inserted) {
      TelemetryRun run;
      run.run_id = run_id;
      run.run_hash = run_hash;
      run.source = source;
      run.first_line = line_no;
      log.runs.push_back(std::move(run));
    }
    TelemetryRun& run = log.runs[it->second];
    if (run.source != source) {
      bad_row(file, line_no,
              fmt::format("run \"{}\" mixes {} and {} rows", run_id, to_string(run.source),
                          to_string(source)));
    }
    if (run.run_hash.empty()) run.run_hash = run_hash;
    if (row.kind == RowKind::run && run.first(RowKind::run) != nullptr) {
      bad_row(file, line_no, fmt::format("second run row for run \"{}\"", run_id));
    }
    if (row.index >= 0 &&
        !seen_index[run_id].emplace(static_cast<int>(row.kind), row.index).second) {
      bad_row(file, line_no,
              fmt::format("duplicate {} row index {} in run \"{}\"", to_string(row.kind), row.index,
                          run_id));
    }
    run.rows.push_back(std::move(row));
  }
  if (log.runs.empty()) {
    throw InputError(fmt::format("{}: no telemetry rows (empty file)", file));
  }
  return log;
}

TelemetryLog read_telemetry_file(const std::filesystem::path& path, const JsonLineLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open telemetry log", path.string()));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: read error", path.string()));
  return parse_telemetry_log(buf.str(), path.string(), limits);
}

}  // namespace ctb
