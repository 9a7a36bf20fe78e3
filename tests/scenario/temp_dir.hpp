#pragma once
// The scenario tests' temp directory: the shared one in common/temp_dir.hpp.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "common/temp_dir.hpp"

namespace ctb::testing_util {

using TempDir = ctb::test_support::TempDir;

}  // namespace ctb::testing_util
