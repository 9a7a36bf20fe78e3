#include "telemetry/json_line.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "core/sha256.hpp"
#include "test_util.hpp"

namespace ctb {
namespace {

using nlohmann::json;
using telemetry_test::read_file;

TEST(PythonFloatRepr, MatchesCPythonSpelling) {
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(8.0), "8.0");
  EXPECT_EQ(python_float_repr(0.0), "0.0");
  EXPECT_EQ(python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float_repr(4.413590036226324e+16), "4.413590036226324e+16");
  EXPECT_EQ(python_float_repr(1e300), "1e+300");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
  EXPECT_EQ(python_float_repr(0.0010000000000000005), "0.0010000000000000005");
  EXPECT_EQ(python_float_repr(NAN), "NaN");
  EXPECT_EQ(python_float_repr(INFINITY), "Infinity");
  EXPECT_EQ(python_float_repr(-INFINITY), "-Infinity");
}

TEST(ParseTelemetryLine, AcceptsBareNonFiniteTokensAndWritesThemBack) {
  const std::string line =
      R"({"a": NaN, "b": Infinity, "c": -Infinity, "d": [NaN, 1, 2.0], "e": "NaN"})";
  const json j = parse_telemetry_line(line, "t.jsonl", 1);
  EXPECT_TRUE(std::isnan(j["a"].get<double>()));
  EXPECT_EQ(j["b"].get<double>(), INFINITY);
  EXPECT_EQ(j["c"].get<double>(), -INFINITY);
  EXPECT_TRUE(j["d"][1].is_number_integer());
  EXPECT_TRUE(j["d"][2].is_number_float());
  EXPECT_TRUE(j["e"].is_string());  // a string "NaN" stays a string
  EXPECT_EQ(dump_json(j), line);
}

TEST(ParseTelemetryLine, KeepsIntegerAndFloatKindsAndSortsKeys) {
  const json j = parse_telemetry_line(R"({"z": 18446744073709551615, "a": -5, "m": 1e2})", "t", 1);
  EXPECT_TRUE(j["z"].is_number_unsigned());
  EXPECT_EQ(j["a"].get<int64_t>(), -5);
  EXPECT_TRUE(j["m"].is_number_float());
  EXPECT_EQ(dump_json(j), R"({"a": -5, "m": 100.0, "z": 18446744073709551615})");
  EXPECT_EQ(dump_json(j, JsonStyle::canonical), R"({"a":-5,"m":100.0,"z":18446744073709551615})");
}

TEST(ParseTelemetryLine, UnicodeEscapesRoundTripAsAscii) {
  const std::string line = R"({"s": "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\t\u007f"})";
  const json j = parse_telemetry_line(line, "t", 1);
  EXPECT_EQ(j["s"].get<std::string>(), "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\" \\ \n\t\x7f");
  EXPECT_EQ(dump_json(j), line);
}

TEST(ParseTelemetryLine, AcceptsValidUtf8IncludingTheReplacementCharacter) {
  const json j = parse_telemetry_line("{\"s\": \"caf\xC3\xA9 \xEF\xBF\xBD\"}", "t", 1);
  EXPECT_EQ(j["s"].get<std::string>(), "caf\xC3\xA9 \xEF\xBF\xBD");
  EXPECT_EQ(dump_json(j), R"({"s": "caf\u00e9 \ufffd"})");
}

TEST(DumpJson, InvalidUtf8BecomesReplacementCharacter) {
  const json j = {{"s", std::string("a\xFF"
                                    "b")}};
  EXPECT_EQ(dump_json(j), R"({"s": "a\ufffdb"})");
}

void expect_error(const std::string& line, const std::string& needle) {
  try {
    parse_telemetry_line(line, "bad.jsonl", 7, JsonLineLimits{256, 4});
    ADD_FAILURE() << "no error for: " << line;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad.jsonl:7:"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(ParseTelemetryLine, RejectsMalformedLinesNamingFileAndLine) {
  expect_error(R"({"a": 1)", "end of line");
  expect_error(R"({"a": 1} x)", "after the JSON object");
  expect_error(R"([1, 2])", "expected a JSON object");
  expect_error(R"({"a": nan})", "invalid value");
  expect_error(R"({"a": 01})", "expected ','");
  expect_error(R"({"a": "\x"})", "invalid escape");
  expect_error(R"({"a": "unterminated)", "unterminated string");
  expect_error(R"({"a": 1.})", "digit expected");
  expect_error(R"({a: 1})", "string key");
  expect_error(R"({"a": [[[[[[1]]]]]]})", "nesting deeper");
  expect_error("{\"a\": \"" + std::string(300, 'x') + "\"}", "limit");
  expect_error("", "expected a JSON object");
  expect_error("{\"a\": \"\x01\"}", "control character");
  expect_error("{\"a\": \"\xE1x\"}", "invalid UTF-8");
  expect_error("{\"\xC0\xAF\": 1}", "invalid UTF-8");
}

// Every reference row re-serialises byte-identically: the parser keeps int/float kinds and the
// writer spells floats, separators and escapes as Python's json.dumps(sort_keys=True) does.
void expect_round_trip(const std::filesystem::path& path) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++n;
    const json j = parse_telemetry_line(line, path.string(), n);
    ASSERT_EQ(dump_json(j), line) << path << ":" << n;
  }
  EXPECT_GT(n, 0u) << path;
}

TEST(ReferenceRows, FixtureRowsParseAndRoundTrip) {
  for (const char* f :
       {"v1_pairmerge32k_run1_batch32_steady.jsonl", "v2_gold_warm1_batch00-01.jsonl",
        "v2_query_summary_event_CONSTRUCTED.jsonl"}) {
    expect_round_trip(std::filesystem::path(CTB_FIXTURES_DIR) / "telemetry" / f);
  }
}

TEST(ReferenceRows, AllSharedSamplesParseAndRoundTrip) {
  if (!telemetry_test::shared_available()) {
    GTEST_SKIP() << CTB_SHARED_DIR << " is absent: reference samples not checked "
                 << "(the copied fixture rows are checked by FixtureRowsParseAndRoundTrip)";
  }
  size_t files = 0;
  for (const auto& dir :
       {std::filesystem::path(CTB_SHARED_DIR "/spec/telemetry_samples"),
        std::filesystem::path(CTB_SHARED_DIR "/spec/telemetry_samples/synthetic"),
        std::filesystem::path(CTB_SHARED_DIR "/reference/covertreex-numba/gold/runs")}) {
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() != ".jsonl") continue;
      expect_round_trip(e.path());
      ++files;
    }
  }
  EXPECT_GE(files, 4u);
}

// ref-telemetry.md §2.7: runtime_digest and run_hash are sha256 over the canonical JSON.
TEST(CanonicalJson, MatchesTheReferenceHashTestVector) {
  const std::string text =
      read_file(std::filesystem::path(CTB_FIXTURES_DIR) / "telemetry/run_hash_test_vector.json");
  const json v = parse_telemetry_line(text, "run_hash_test_vector.json", 1);
  const json runtime_payload = {{"runtime", v["runtime_snapshot"]}};
  const std::string canon = dump_json(runtime_payload, JsonStyle::canonical);
  EXPECT_EQ(canon, v["runtime_payload_canonical"].get<std::string>());
  EXPECT_EQ(sha256_hex(canon.data(), canon.size()), v["runtime_digest"].get<std::string>());
  const json hash_payload = {{"runtime_digest", v["runtime_digest"]},
                             {"seeds", v["runtime_snapshot"]["seeds"]}};
  const std::string canon2 = dump_json(hash_payload, JsonStyle::canonical);
  EXPECT_EQ(canon2, v["run_hash_payload_canonical"].get<std::string>());
  EXPECT_EQ(sha256_hex(canon2.data(), canon2.size()), v["run_hash"].get<std::string>());
}

}  // namespace
}  // namespace ctb
