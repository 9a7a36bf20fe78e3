#include "core/build_info.hpp"

#include <fstream>

#ifndef CTB_GIT_REVISION
#define CTB_GIT_REVISION "unknown"
#endif
#ifndef CTB_COMPILER
#define CTB_COMPILER "unknown"
#endif
#ifndef CTB_PROJECT_VERSION
#error "CTB_PROJECT_VERSION: set by lib/CMakeLists.txt from project(VERSION)"
#endif
#ifndef CTB_BUILD_TYPE
#define CTB_BUILD_TYPE "unknown"
#endif

namespace ctb {

BuildInfo build_info() {
  return BuildInfo{CTB_GIT_REVISION, CTB_COMPILER, CTB_BUILD_TYPE, "-ffp-contract=off"};
}

const char* project_version() { return CTB_PROJECT_VERSION; }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        return value;
      }
    }
  }
  return "unknown";
}

}  // namespace ctb
