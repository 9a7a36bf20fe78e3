// covertree-bench: exact k-NN with cover trees under the residual-correlation metric.
// Thin front-end: parse arguments, call the library, map errors to exit codes.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "mpi_world.hpp"

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
    // Under mpirun (OMPI_COMM_WORLD_SIZE set) only: MPI_Init_thread (docs/mpi.md).
    ctb::cli::start_mpi_if_launched(&argc, &argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "covertree-bench: error: %s\n", e.what());
    return ctb::kExitBadInput;
  }
  // Under mpirun every message names its rank; a failure on any rank ends all of them.
  const auto fail = [](int code, const std::string& kind, const std::string& what) {
    const ctb::Collective* world = ctb::cli::mpi_world();
    const std::string message = kind.empty() ? what : kind + ": " + what;
    if (world != nullptr && world->size() > 1) {
      std::fprintf(stderr, "covertree-bench: rank %d of %d: %s\n", world->rank(), world->size(),
                   message.c_str());
    } else {
      std::fprintf(stderr, "covertree-bench: %s\n", message.c_str());
    }
    std::fflush(stderr);
    return ctb::cli::finish_mpi(code, true);
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return ctb::cli::finish_mpi(app.exit(e), false);  // --help
    return fail(ctb::kExitBadInput, "", std::string(e.what()) + " (see --help)");
  }

  try {
    for (auto& [sub, runner] : commands) {
      if (!sub->parsed()) continue;
      const ctb::Collective* world = ctb::cli::mpi_world();
      if (world != nullptr && world->size() > 1 && sub->get_name() != "run" &&
          sub->get_name() != "knn") {
        throw ctb::InputError(
            "under mpirun only `run` and `knn` shard their rows (docs/mpi.md); "
            "run `" +
            sub->get_name() + "` as one process");
      }
      return ctb::cli::finish_mpi(runner(), false);
    }
  } catch (const ctb::InputError& e) {
    return fail(ctb::kExitBadInput, "error", e.what());
  } catch (const ctb::CheckFailed& e) {
    return fail(ctb::kExitCheckFailed, "check failed", e.what());
  } catch (const std::bad_alloc&) {
    return fail(ctb::kExitBadInput, "error", "out of memory (input too large?)");
  } catch (const std::exception& e) {
    return fail(ctb::kExitBadInput, "error", e.what());
  }
  return ctb::cli::finish_mpi(ctb::kExitBadInput, false);
}
