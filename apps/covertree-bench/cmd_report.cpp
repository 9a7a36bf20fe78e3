// `covertree-bench report`: one self-contained HTML page from telemetry logs (ours, a sweep's,
// the covertreex reference's) and an optional gate verdict.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "report/report.hpp"

namespace ctb::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> logs;
  std::string gate;
  std::string out;
};

}  // namespace

CommandRunner add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page (opens offline; Chart.js inlined) from telemetry\n"
      "logs: a headline table per run, query time per pass, distance evaluations per query,\n"
      "build per level beside the covertreex reference's batches, recall against q/s for\n"
      "sweeps, gate verdicts.\n"
      "Example: covertree-bench report ours.jsonl ../shared/reference/covertreex-numba/gold/runs/"
      "gold_warm1.jsonl --out report.html");
  cmd->add_option("logs", args->logs, "Telemetry logs (JSONL): ours or the reference's")
      ->required();
  cmd->add_option("--gate", args->gate, "A gate verdict (`gate --json` output) to include");
  cmd->add_option("--out,-o", args->out, "The HTML file to write")->required();
  return [args] {
    require_writable_output(args->out, "--out");
    ReportInputs inputs;
    for (const std::string& l : args->logs) inputs.logs.emplace_back(l);
    if (!args->gate.empty()) inputs.gate_verdict = args->gate;
    const ReportOutput report = make_report(inputs);
    for (const std::string& w : report.warnings) {
      std::fprintf(stderr, "covertree-bench: warning: %s\n", w.c_str());
    }
    write_file_atomic(args->out, report.html);
    return 0;
  };
}

}  // namespace ctb::cli
