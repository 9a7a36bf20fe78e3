// `covertree-bench list`: the built-in scenarios with a one-line description.
#include <cstdio>

#include "commands.hpp"
#include "fmt/format.h"
#include "scenario/scenario.hpp"

namespace ctb::cli {

CommandRunner add_list_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("list", "List the built-in scenarios (run them with --scenario NAME)");
  (void)cmd;
  return [] {
    const auto scenarios = list_builtin_scenarios();
    size_t width = 0;
    for (const auto& [name, _] : scenarios) width = std::max(width, name.size());
    for (const auto& [name, description] : scenarios) {
      std::fputs(fmt::format("{:<{}}  {}\n", name, width, description).c_str(), stdout);
    }
    return 0;
  };
}

}  // namespace ctb::cli
