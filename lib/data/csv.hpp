#pragma once
// Points from CSV: one point per line, comma-separated numbers, no header.
#include <cstddef>
#include <filesystem>
#include <vector>

namespace ctb {

struct PointTable {
  size_t n = 0;
  size_t dim = 0;
  std::vector<double> values;  // n x dim, row-major
};

/// Reads `path`. Blank lines are skipped; every other line must have the same number of
/// finite numbers. Throws InputError naming the file, line and column of the first problem.
PointTable read_points_csv(const std::filesystem::path& path);

}  // namespace ctb
