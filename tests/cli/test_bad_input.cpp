// Bad input, end to end: every case exits with code 2 and a one-line message that names the
// problem (the file and the field), never a crash, a hang or a partial output file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli_util.hpp"
#include "data/npy.hpp"

namespace ctb::cli_test {
namespace {

namespace fs = std::filesystem;

// A tiny residual scenario; cases replace one line.
const char* kBase = R"(name: bad
metric: residual
data: {seed: 1, n: 100, dim: 3}
queries: {count: 10, seed: 2}
k: 5
residual: {inducing_count: 10}
repeat: 1
warmup: 0
threads: 1
)";

std::string replace_line(std::string text, const std::string& prefix,
                         const std::string& replacement) {
  const size_t at = text.find(prefix);
  if (at == std::string::npos) throw std::logic_error("no line " + prefix);
  const size_t end = text.find('\n', at);
  text.replace(at, end - at + 1, replacement.empty() ? "" : replacement + "\n");
  return text;
}

std::string with_line(const std::string& prefix, const std::string& replacement) {
  return replace_line(kBase, prefix, replacement);
}

void write_points(const fs::path& path, size_t n, size_t dim,
                  const std::function<double(size_t, size_t)>& value) {
  std::vector<double> x(n * dim);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < dim; ++c) x[i * dim + c] = value(i, c);
  }
  write_npy(path, {n, dim}, x.data());
}

double spread(size_t i, size_t c) { return std::sin(0.37 * static_cast<double>(i * 3 + c + 1)); }

struct Case {
  std::string name;
  // Prepares files in `dir` and returns the arguments (after the subcommand's --scenario).
  std::function<std::vector<std::string>(const TempDir& dir)> setup;
  std::vector<std::string> expect;  // substrings the error message must contain
  // A correct rejection takes milliseconds; the deadline only bounds a hang (and the memory a
  // runaway parser can take meanwhile).
  double timeout_s = 60;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<std::string> scenario_file(const TempDir& dir, const std::string& text,
                                       const std::string& file = "bad.yaml") {
  return {"run", "--scenario", dir.write(file, text).string()};
}

std::vector<Case> cases() {
  std::vector<Case> c;
  auto text_case = [&](std::string name, std::string text, std::vector<std::string> expect,
                       std::string file = "bad.yaml") {
    c.push_back({std::move(name),
                 [text, file](const TempDir& d) { return scenario_file(d, text, file); },
                 std::move(expect)});
  };
  // Syntax.
  text_case("malformed_yaml", "name: [unclosed\nmetric: residual\n", {"bad.yaml", "YAML"});
  text_case("truncated_yaml", std::string(kBase).substr(0, 40), {"bad.yaml", "YAML"});
  text_case("malformed_json", R"({"name": "x", "metric": })", {"bad.json", "JSON"}, "bad.json");
  text_case("truncated_json", R"({"name": "x", "metric": "residual", "data": {"seed": 1)",
            {"bad.json", "JSON"}, "bad.json");
  // yaml-cpp 0.7's LoadAll loops forever, allocating, on a stray ',' at the document level.
  text_case("yaml_leading_comma", ",\n", {"bad.yaml"});
  c.back().timeout_s = 10;
  // Found by fuzz_scenario: the message quoting a value with invalid UTF-8 must not throw.
  text_case("invalid_utf8_value",
            "name: \xdb"
            "bad\n" +
                std::string(kBase).substr(10),
            {"bad.yaml", "'name'"});
  text_case("empty_file", "", {"bad.yaml", "empty"});
  // Keys and types.
  text_case("unknown_key", with_line("residual:", "residual: {inducing_count: 10, lenghtscale: 2}"),
            {"bad.yaml", "residual.lenghtscale", "unknown key"});
  text_case("unknown_top_level_key", std::string(kBase) + "repeats: 3\n",
            {"'repeats'", "unknown key"});
  text_case("mistyped_k", with_line("k:", "k: \"5\""), {"'k'", "expected an integer"});
  text_case("mistyped_data", with_line("data:", "data: 5"), {"'data'"});
  text_case("missing_k", with_line("k:", ""), {"'k'", "required field is missing"});
  text_case("missing_metric", with_line("metric:", ""), {"'metric'", "required"});
  // Ranges.
  text_case("k_zero", with_line("k:", "k: 0"), {"'k'", ">= 1"});
  text_case("k_above_n", with_line("k:", "k: 101"), {"'k'", "<="});
  text_case("m_above_n", with_line("residual:", "residual: {inducing_count: 101}"),
            {"residual.inducing_count", "<="});
  text_case("m_zero", with_line("residual:", "residual: {inducing_count: 0}"),
            {"residual.inducing_count", ">= 1"});
  text_case("lengthscale_zero", with_line("residual:", "residual: {lengthscale: 0}"),
            {"residual.lengthscale", "> 0"});
  text_case("lengthscale_negative", with_line("residual:", "residual: {lengthscale: -1.5}"),
            {"residual.lengthscale", "> 0"});
  text_case("lengthscale_nan", with_line("residual:", "residual: {lengthscale: .nan}"),
            {"residual.lengthscale"});
  text_case("variance_negative", with_line("residual:", "residual: {variance: -2}"),
            {"residual.variance", "> 0"});
  text_case("variance_zero", with_line("residual:", "residual: {variance: 0}"),
            {"residual.variance", "> 0"});
  text_case("jitter_negative", with_line("residual:", "residual: {jitter: -1.0e-6}"),
            {"residual.jitter", ">= 0"});

  // NPY inputs.
  auto npy_case = [&](std::string name, std::function<void(const fs::path&)> make,
                      std::vector<std::string> expect, std::string field_line = "data: pts.npy",
                      std::string prefix = "data:") {
    c.push_back({std::move(name),
                 [make, field_line, prefix](const TempDir& d) {
                   make(d.path());
                   return scenario_file(d, with_line(prefix, field_line));
                 },
                 std::move(expect)});
  };
  npy_case("npy_truncated",
           [](const fs::path& dir) {
             write_points(dir / "pts.npy", 100, 3, spread);
             fs::resize_file(dir / "pts.npy", fs::file_size(dir / "pts.npy") - 100);
           },
           {"'data'", "pts.npy", "truncated"});
  npy_case("npy_garbage",
           [](const fs::path& dir) { std::ofstream(dir / "pts.npy") << "not an npy file at all"; },
           {"'data'", "pts.npy", "not a .npy file"});
  npy_case("npy_header_cut",
           [](const fs::path& dir) {
             write_points(dir / "pts.npy", 100, 3, spread);
             fs::resize_file(dir / "pts.npy", 30);
           },
           {"'data'", "pts.npy"});
  npy_case("npy_wrong_shape",
           [](const fs::path& dir) {
             std::vector<double> x(300, 0.5);
             write_npy(dir / "pts.npy", {300}, x.data());
           },
           {"'data'", "pts.npy", "2-D"});
  npy_case("npy_wrong_dtype_points",
           [](const fs::path& dir) {
             std::vector<int64_t> x(300, 1);
             write_npy(dir / "pts.npy", {100, 3}, x.data());
           },
           {"'data'", "pts.npy", "float"});
  npy_case("npy_nan_coordinate",
           [](const fs::path& dir) {
             write_points(dir / "pts.npy", 100, 3,
                          [](size_t i, size_t c) { return i == 7 && c == 1 ? NAN : spread(i, c); });
           },
           {"'data'", "pts.npy", "non-finite", "row 7"});
  npy_case("npy_inf_coordinate",
           [](const fs::path& dir) {
             write_points(dir / "pts.npy", 100, 3, [](size_t i, size_t c) {
               return i == 42 && c == 0 ? -INFINITY : spread(i, c);
             });
           },
           {"'data'", "pts.npy", "non-finite", "row 42"});
  npy_case("npy_missing_file", [](const fs::path&) {}, {"'data'", "pts.npy", "not found"});
  npy_case(
      "query_index_out_of_range",
      [](const fs::path& dir) {
        const std::vector<int64_t> q{0, 5, 100, 7};
        write_npy(dir / "q.npy", {4}, q.data());
      },
      {"'queries'", "q.npy", "100", "out of range"}, "queries: q.npy", "queries:");
  npy_case(
      "query_index_negative",
      [](const fs::path& dir) {
        const std::vector<int64_t> q{0, -1};
        write_npy(dir / "q.npy", {2, 1}, q.data());
      },
      {"'queries'", "q.npy", "-1", "out of range"}, "queries: q.npy", "queries:");
  npy_case(
      "query_indices_as_floats",
      [](const fs::path& dir) {
        const std::vector<double> q{0, 1, 2};
        write_npy(dir / "q.npy", {3}, q.data());
      },
      {"'queries'", "q.npy", "int64"}, "queries: q.npy", "queries:");
  // Duplicate inducing points with jitter 0: K_mm is singular, so the Cholesky must fail.
  c.push_back({"cholesky_fails",
               [](const TempDir& d) {
                 write_points(d.path() / "pts.npy", 20, 2,
                              [](size_t i, size_t c) { return spread(i % 10, c); });
                 const std::string text =
                     replace_line(with_line("data:", "data: pts.npy"),
                                  "residual:", "residual: {inducing_count: 20, jitter: 0}");
                 return scenario_file(d, text);
               },
               {"Cholesky"}});

  // Kernel selection and the OpenBLAS peer.
  c.push_back(
      {"compare_openblas_on_euclidean",
       [](const TempDir&) {
         return std::vector<std::string>{"run", "--scenario", "tiny-euclid", "--compare-openblas"};
       },
       {"--compare-openblas", "residual", "tiny-euclid"}});
  c.push_back(
      {"simd_unknown_target",
       [](const TempDir&) {
         return std::vector<std::string>{"run", "--scenario", "tiny-residual", "--simd", "avx9000"};
       },
       {"--simd avx9000", "unknown target", "best"}});
  c.push_back({"simd_unknown_target_knn",
               [](const TempDir& d) {
                 return std::vector<std::string>{
                     "knn",  "--points",      (d.path() / "absent.npy").string(), "--k",
                     "3",    "--out-indices", (d.path() / "i.npy").string(),      "--simd",
                     "neon9"};
               },
               {"--simd neon9", "unknown target"}});

  // Files and output paths.
  c.push_back(
      {"missing_scenario_file",
       [](const TempDir& d) {
         return std::vector<std::string>{"run", "--scenario", (d.path() / "nope.yaml").string()};
       },
       {"nope.yaml", "not found"}});
  c.push_back({"unknown_builtin_scenario",
               [](const TempDir&) {
                 return std::vector<std::string>{"run", "--scenario", "gold32kk"};
               },
               {"gold32kk", "not a built-in scenario"}});
  c.push_back({"output_directory_missing",
               [](const TempDir& d) {
                 auto args = scenario_file(d, kBase);
                 args.push_back("--save-neighbors");
                 args.push_back((d.path() / "no-such-dir" / "out.npy").string());
                 return args;
               },
               {"--save-neighbors", "does not exist"}});
  c.push_back({"output_is_a_directory",
               [](const TempDir& d) {
                 auto args = scenario_file(d, kBase);
                 fs::create_directory(d.path() / "adir");
                 args.push_back("--summary-json");
                 args.push_back((d.path() / "adir").string());
                 return args;
               },
               {"--summary-json", "is a directory"}});
  c.push_back({"bad_thread_count",
               [](const TempDir& d) {
                 auto args = scenario_file(d, kBase);
                 args.push_back("--threads");
                 args.push_back("-3");
                 return args;
               },
               {"--threads"}});
  // The audit's own inputs.
  c.push_back({"audit_reference_missing",
               [](const TempDir& d) {
                 return std::vector<std::string>{"audit", "--scenario",
                                                 d.write("bad.yaml", kBase).string(), "--reference",
                                                 (d.path() / "ref").string()};
               },
               {"--reference", "not a directory"}});
  c.push_back({"audit_reference_incomplete",
               [](const TempDir& d) {
                 fs::create_directory(d.path() / "ref");
                 write_points(d.path() / "ref" / "points.npy", 100, 3, spread);
                 return std::vector<std::string>{"audit", "--scenario",
                                                 d.write("bad.yaml", kBase).string(), "--reference",
                                                 (d.path() / "ref").string()};
               },
               {"--reference", "missing file", "queries.npy"}});
  c.push_back({"audit_json_unwritable",
               [](const TempDir& d) {
                 return std::vector<std::string>{"audit", "--scenario",
                                                 d.write("bad.yaml", kBase).string(), "--json",
                                                 (d.path() / "x" / "a.json").string()};
               },
               {"--json", "does not exist"}});
  return c;
}

class BadInput : public ::testing::TestWithParam<Case> {};

TEST_P(BadInput, ExitsTwoWithAMessageNamingTheProblem) {
  const Case& c = GetParam();
  if (!fs::exists(binary())) GTEST_SKIP() << "covertree-bench not built at " << binary();
  TempDir dir;
  std::vector<std::string> args = c.setup(dir);
  // Every run also asks for an output file, which must not appear when the input is bad.
  const fs::path out = dir.path() / "never.npy";
  if (args[0] == "run") {
    args.push_back("--save-distances");
    args.push_back(out.string());
  }
  const ProcResult r = run_cli(args, c.timeout_s);
  ASSERT_FALSE(r.timed_out) << c.name << ": hung\n" << r.describe();
  EXPECT_EQ(r.term_signal, 0) << r.describe();
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  for (const std::string& want : c.expect) {
    EXPECT_NE(r.err.find(want), std::string::npos) << "message should name '" << want << "'\n"
                                                   << r.describe();
  }
  // One line: the tool's own message, not a sanitizer report or an uncaught exception.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.describe();
  EXPECT_EQ(r.err.rfind("covertree-bench: ", 0), 0u) << r.describe();
  EXPECT_FALSE(fs::exists(out)) << "partial output left behind";
  for (const std::string& name : dir.entries()) {
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << "temp file left: " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInput, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace ctb::cli_test
