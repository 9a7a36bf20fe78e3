#pragma once
// Each subcommand registers its options on the app and returns the function that runs it.
// Runners return the exit code (0 ok, 1 check failed, 2 bad input, 3 inconclusive) or throw
// ctb::InputError / ctb::CheckFailed, which main maps to 2 / 1 with a one-line message.
#include <functional>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "core/build_strategy.hpp"

namespace ctb::cli {

using CommandRunner = std::function<int()>;

CommandRunner add_run_command(CLI::App& app);
CommandRunner add_list_command(CLI::App& app);
CommandRunner add_audit_command(CLI::App& app);
CommandRunner add_gate_command(CLI::App& app);
CommandRunner add_knn_command(CLI::App& app);
CommandRunner add_diff_command(CLI::App& app);
CommandRunner add_sweep_command(CLI::App& app);
CommandRunner add_report_command(CLI::App& app);

/// Registers `--simd TARGET` on `cmd` (default "best").
void add_simd_option(CLI::App* cmd, std::string* target);
/// Forces the target named by --simd (InputError, exit 2, for unknown or unrunnable ones).
void apply_simd_option(const std::string& target);

/// Registers `--engine NAME` on `cmd` (auto, pivot, box, cover-tree, brute; tree = auto); no
/// default, so the scenario's query.engine applies unless it is given.
void add_engine_option(CLI::App* cmd, std::string* engine);
/// The engine --engine named (nullopt when not given).
std::optional<Engine> engine_option(const std::string& engine);

/// Fails with InputError unless `path` can be created (its directory exists and is writable).
void require_writable_output(const std::string& path, const std::string& option);

}  // namespace ctb::cli
