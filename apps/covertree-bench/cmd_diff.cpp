// `covertree-bench diff A.jsonl B.jsonl`: compare two telemetry logs (ours or the reference's).
#include <cstdio>

#include "commands.hpp"
#include "telemetry/diff.hpp"

namespace ctb::cli {
namespace {

struct DiffArgs {
  std::string a;
  std::string b;
  DiffOptions options;
  std::string json_path;
  std::string mapping_path;
  double tol_timing = -1;
  double tol_memory = -1;
  double tol_real = -1;
};

}  // namespace

CommandRunner add_diff_command(CLI::App& app) {
  auto args = std::make_shared<DiffArgs>();
  auto* cmd = app.add_subcommand(
      "diff",
      "Compare two JSONL telemetry logs, ours or the covertreex reference's (v1/v2): runs are\n"
      "paired by run_hash (else by position), build rows by batch_index, query rows by\n"
      "pass_index; counters must match exactly, timings and memory within a relative tolerance.\n"
      "Exit 0 within tolerance, 1 outside it, 2 unusable input.\n"
      "Example: covertree-bench diff ours.jsonl ../shared/reference/covertreex-numba/gold/runs/"
      "gold_warm1.jsonl --force");
  cmd->add_option("A", args->a, "First log (JSONL)")->required();
  cmd->add_option("B", args->b, "Second log (JSONL)")->required();
  cmd->add_flag("--force", args->options.force,
                "Compare runs even when their configurations differ");
  cmd->add_flag("--markdown", args->options.markdown, "Print Markdown instead of a terminal table");
  cmd->add_option("--json", args->json_path, "Also write the report as JSON here");
  cmd->add_option("--mapping", args->mapping_path,
                  "Field mapping (ours <-> reference) to use instead of the built-in "
                  "configs/telemetry_mapping.json");
  auto* tt = cmd->add_option("--tol-timing", args->tol_timing,
                             "Relative tolerance for timings (default from the mapping)")
                 ->check(CLI::NonNegativeNumber);
  auto* tm = cmd->add_option("--tol-memory", args->tol_memory,
                             "Relative tolerance for memory fields (default from the mapping)")
                 ->check(CLI::NonNegativeNumber);
  auto* tr = cmd->add_option("--tol-real", args->tol_real,
                             "Relative tolerance for other real-valued fields (default from the "
                             "mapping)")
                 ->check(CLI::NonNegativeNumber);
  return [args, tt, tm, tr] {
    require_writable_output(args->json_path, "--json");
    DiffOptions options = args->options;
    options.json_path = args->json_path;
    options.mapping_path = args->mapping_path;
    if (tt->count() > 0) options.timing_rel_tol = args->tol_timing;
    if (tm->count() > 0) options.memory_rel_tol = args->tol_memory;
    if (tr->count() > 0) options.real_rel_tol = args->tol_real;
    const DiffResult r = run_diff(args->a, args->b, options);
    for (const std::string& w : r.warnings) {
      std::fprintf(stderr, "covertree-bench: warning: %s\n", w.c_str());
    }
    if (!r.output.empty()) std::fputs(r.output.c_str(), stdout);
    if (!r.error.empty()) std::fprintf(stderr, "covertree-bench: %s\n", r.error.c_str());
    return r.exit_code;
  };
}

}  // namespace ctb::cli
