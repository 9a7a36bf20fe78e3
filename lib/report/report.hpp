#pragma once
// `covertree-bench report`: telemetry logs (and a gate verdict) to one self-contained HTML page.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ctb {

struct ReportInputs {
  std::vector<std::filesystem::path> logs;            // JSONL telemetry: ours or the reference's
  std::optional<std::filesystem::path> gate_verdict;  // `gate --json` output
};

struct ReportOutput {
  std::string html;
  std::vector<std::string> warnings;  // e.g. "FILE:LINE: torn last line skipped"
};

/// Reads the inputs (InputError naming the file on a bad log or verdict) and renders the page.
ReportOutput make_report(const ReportInputs& inputs);

}  // namespace ctb
