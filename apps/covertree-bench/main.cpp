// covertree-bench: exact k-NN with cover trees under the residual-correlation metric.
// Thin front-end: parse arguments, call the library, map errors to exit codes.
#include <csignal>
#include <cstdio>
#include <exception>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace {

extern "C" void on_terminate_signal(int sig) {
  // Output files are written by rename, so an interrupted run leaves only temp files to remove.
  ctb::remove_inflight_temp_files();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, on_terminate_signal);
  std::signal(SIGTERM, on_terminate_signal);

  CLI::App app{
      "covertree-bench: exact k-nearest-neighbour search with cover trees under the\n"
      "residual-correlation metric (Vecchia GP neighbour selection) and Euclidean distance.\n"
      "Examples:\n"
      "  covertree-bench list\n"
      "  covertree-bench run --scenario gold32k --compare-brute\n"
      "  covertree-bench run --scenario my.yaml --engine brute --save-neighbors n.npy\n"
      "Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 inconclusive (gate)."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  std::vector<std::pair<CLI::App*, ctb::cli::CommandRunner>> commands;
  auto add = [&](ctb::cli::CommandRunner (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    ctb::cli::CommandRunner runner = adder(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(runner));
  };
  add(ctb::cli::add_run_command);
  add(ctb::cli::add_list_command);
  add(ctb::cli::add_audit_command);
  add(ctb::cli::add_gate_command);
  add(ctb::cli::add_knn_command);
  add(ctb::cli::add_diff_command);
  add(ctb::cli::add_sweep_command);
  add(ctb::cli::add_report_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "covertree-bench: %s (see --help)\n", e.what());
    return ctb::kExitBadInput;
  }

  try {
    for (auto& [sub, runner] : commands) {
      if (sub->parsed()) return runner();
    }
  } catch (const ctb::InputError& e) {
    std::fprintf(stderr, "covertree-bench: error: %s\n", e.what());
    return ctb::kExitBadInput;
  } catch (const ctb::CheckFailed& e) {
    std::fprintf(stderr, "covertree-bench: check failed: %s\n", e.what());
    return ctb::kExitCheckFailed;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "covertree-bench: error: out of memory (input too large?)\n");
    return ctb::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "covertree-bench: error: %s\n", e.what());
    return ctb::kExitBadInput;
  }
  return ctb::kExitBadInput;
}
