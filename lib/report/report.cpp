#include "report/report.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "report/report_data.hpp"
#include "report/report_html.hpp"
#include "telemetry/reader.hpp"

namespace ctb {

namespace {

nlohmann::json read_gate_verdict(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open gate verdict", path.string()));
  std::ostringstream buf;
  buf << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not JSON: {}", path.string(), e.what()));
  }
  if (!j.is_object() || !j.contains("verdict") || !j.contains("checks") ||
      !j["checks"].is_array()) {
    throw InputError(fmt::format(
        "{}: not a gate verdict (expected the object `gate --json` writes: verdict, checks)",
        path.string()));
  }
  return j;
}

}  // namespace

ReportOutput make_report(const ReportInputs& inputs) {
  if (inputs.logs.empty()) throw InputError("report: give at least one telemetry log (JSONL)");
  ReportOutput out;
  std::vector<TelemetryLog> logs;
  for (const auto& path : inputs.logs) {
    logs.push_back(read_telemetry_file(path));
    out.warnings.insert(out.warnings.end(), logs.back().warnings.begin(),
                        logs.back().warnings.end());
  }
  std::optional<nlohmann::json> gate;
  if (inputs.gate_verdict) gate = read_gate_verdict(*inputs.gate_verdict);
  out.html = render_report_html(build_report_data(logs, gate));
  return out;
}

}  // namespace ctb
