#include "data/csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.hpp"

namespace ctb {

PointTable read_points_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": cannot open file");
  PointTable table;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    size_t columns = 0;
    const char* p = line.c_str();
    while (true) {
      char* end = nullptr;
      errno = 0;
      const double value = std::strtod(p, &end);
      if (end == p) {
        throw InputError(path.string() + ":" + std::to_string(line_no) + ": column " +
                         std::to_string(columns + 1) + ": not a number");
      }
      if (!std::isfinite(value) || errno == ERANGE) {
        throw InputError(path.string() + ":" + std::to_string(line_no) + ": column " +
                         std::to_string(columns + 1) + ": value is NaN, infinite or out of range");
      }
      table.values.push_back(value);
      ++columns;
      p = end;
      while (*p == ' ' || *p == '\t') ++p;
      if (*p == '\0') break;
      if (*p != ',') {
        throw InputError(path.string() + ":" + std::to_string(line_no) + ": column " +
                         std::to_string(columns) + ": expected ',' between numbers");
      }
      ++p;
    }
    if (table.n == 0) {
      table.dim = columns;
    } else if (columns != table.dim) {
      throw InputError(path.string() + ":" + std::to_string(line_no) + ": has " +
                       std::to_string(columns) + " columns, earlier lines have " +
                       std::to_string(table.dim));
    }
    ++table.n;
  }
  if (table.n == 0) throw InputError(path.string() + ": no points (the file is empty)");
  return table;
}

}  // namespace ctb
