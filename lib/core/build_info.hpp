#pragma once
#include <string>

namespace ctb {

/// Facts fixed at build time, for every output's machine fingerprint (spec §4).
struct BuildInfo {
  std::string git_revision;  // short hash of HEAD when configured
  std::string compiler;      // compiler id and version
  std::string build_type;    // CMake build type
  std::string flags;         // notable flags that change numerics
};

BuildInfo build_info();

/// The project's version, CMakeLists.txt's project(VERSION) (e.g. "0.1.0"): what ctb::version()
/// and the Python module's __version__ return.
const char* project_version();

/// CPU model name as /proc/cpuinfo reports it ("unknown" when unreadable).
std::string cpu_model();

}  // namespace ctb
