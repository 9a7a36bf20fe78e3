#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "data/csv.hpp"

namespace ctb {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("ctb_csv_" + name);
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::filesystem::path& path) {
  try {
    read_points_csv(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Csv, ReadsPointsSkippingBlankLines) {
  const auto path = write_temp("ok.csv", "1,2,3\n\n-4.5, 5e-1 ,6\r\n");
  const PointTable t = read_points_csv(path);
  EXPECT_EQ(t.n, 2u);
  EXPECT_EQ(t.dim, 3u);
  EXPECT_EQ(t.values, (std::vector<double>{1, 2, 3, -4.5, 0.5, 6}));
}

TEST(Csv, ErrorsNameFileLineAndProblem) {
  EXPECT_NE(error_of(write_temp("ragged.csv", "1,2\n3\n")).find("ragged.csv:2"), std::string::npos);
  EXPECT_NE(error_of(write_temp("word.csv", "1,x\n")).find("column 2: not a number"),
            std::string::npos);
  EXPECT_NE(error_of(write_temp("nan.csv", "1,nan\n")).find("NaN"), std::string::npos);
  EXPECT_NE(error_of(write_temp("empty.csv", "")).find("no points"), std::string::npos);
  EXPECT_NE(error_of(write_temp("sep.csv", "1;2\n")).find("expected ','"), std::string::npos);
  EXPECT_NE(error_of("/nonexistent/dir/p.csv").find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ctb
