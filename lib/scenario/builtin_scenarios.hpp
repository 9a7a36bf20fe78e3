#pragma once
// The shipped scenarios/*.yaml, compiled in by CMake (lib/scenario/embed_scenarios.cmake) so
// `--scenario gold32k` works from any directory. Internal to the scenario module.
#include <span>

namespace ctb::scenario_detail {

struct BuiltinScenarioFile {
  const char* name;  // file stem, e.g. "gold32k"
  const char* text;  // the file's YAML, verbatim
};

/// Every embedded file, sorted by name. Defined in the generated builtin_scenarios_data.cpp.
std::span<const BuiltinScenarioFile> builtin_scenario_files();

}  // namespace ctb::scenario_detail
