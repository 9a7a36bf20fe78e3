// `covertree-bench audit`: exactness, tree invariants, metric sanity and reference parity, with
// a verdict per check. Exit 0 when every check passes, 1 when any fails, 2 on unusable input.
#include <cstdio>
#include <memory>

#include "audit/audit.hpp"
#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "scenario/scenario.hpp"

namespace ctb::cli {
namespace {

struct AuditArgs {
  std::string scenario;
  std::string reference;
  std::string json;
  int threads = 0;
  size_t samples = 20000;
  std::string simd = "best";
  std::string engine;
  bool quiet = false;
};

}  // namespace

CommandRunner add_audit_command(CLI::App& app) {
  auto args = std::make_shared<AuditArgs>();
  auto* cmd = app.add_subcommand(
      "audit",
      "Build the index that answers a scenario (query.engine, --engine) and check it: exactness\n"
      "against brute force on every query, the index's own invariants (index.*, e.g.\n"
      "index.pivot_rows), the cover tree's (tree.*) where one is built, metric sanity; with\n"
      "--reference, parity with the reference's files.\n"
      "Example: covertree-bench audit --scenario gold32k \\\n"
      "           --reference ../shared/reference/covertreex-numba/gold/inputs --json audit.json\n"
      "Exit: 0 every check passed, 1 a check failed, 2 unusable input.");
  cmd->add_option("--scenario,-s", args->scenario,
                  "Built-in scenario name (see `list`) or path to a .yaml/.json scenario file")
      ->required();
  cmd->add_option("--reference", args->reference,
                  "Directory with the reference's exported inputs and answers (layout of "
                  "covertreex-numba/gold/inputs/): adds parity checks and reports the "
                  "reference's float32 recall");
  cmd->add_option("--json", args->json,
                  "Write the report as JSON here (verdict, checks[{name, verdict, detail}], "
                  "reference_f32_recall)");
  auto* threads = cmd->add_option("--threads,-t", args->threads,
                                  "Worker threads (default: the scenario's, else all cores)")
                      ->check(CLI::Range(1, 4096));
  cmd->add_option("--samples", args->samples,
                  "Sampled pairs and triples for the metric sanity checks")
      ->check(CLI::Range(size_t{1}, size_t{10000000}))
      ->capture_default_str();
  add_simd_option(cmd, &args->simd);
  add_engine_option(cmd, &args->engine);
  cmd->add_flag("--quiet,-q", args->quiet, "Print no table (the exit code and --json remain)");

  return [args, threads] {
    require_writable_output(args->json, "--json");
    apply_simd_option(args->simd);
    const Scenario scenario = load_scenario(args->scenario);
    audit::AuditOptions options;
    options.reference_dir = args->reference;
    if (threads->count() > 0) options.threads = args->threads;
    options.metric_samples = args->samples;
    options.engine = engine_option(args->engine);
    const audit::AuditReport report = audit::run_audit(scenario, options);
    if (!args->json.empty()) {
      write_file_atomic(args->json, audit::report_json(report).dump(2) + "\n");
    }
    if (!args->quiet) std::fputs(audit::report_table(report).c_str(), stdout);
    return report.passed() ? kExitOk : kExitCheckFailed;
  };
}

}  // namespace ctb::cli
