// Appends that never lose rows (issue 15): concurrent processes appending to one log all keep
// their rows, each batch contiguous; a torn last line is skipped by readers with a warning and
// cut by the next writer; a bad line elsewhere stays an error.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "telemetry/reader.hpp"
#include "telemetry/telemetry.hpp"
#include "test_util.hpp"

namespace ctb {
namespace {

using nlohmann::json;
using telemetry_test::read_file;
using telemetry_test::synthetic_run;
using telemetry_test::TempDir;

constexpr int kProcesses = 16;
constexpr int kAppends = 20;
constexpr int kLinesPerBatch = 7;

// One batch: kLinesPerBatch lines naming (process, batch, line), padded so that a batch is
// larger than a pipe buffer's atomic unit and interleaving would show.
std::string batch_text(int proc, int batch) {
  std::string out;
  for (int l = 0; l < kLinesPerBatch; ++l) {
    json row = {{"p", proc}, {"b", batch}, {"l", l}, {"pad", std::string(700, 'x')}};
    out += row.dump() + "\n";
  }
  return out;
}

TEST(ConcurrentAppend, SixteenProcessesTwentyBatchesEachLoseNothing) {
  TempDir dir;
  const auto path = dir.path() / "shared.jsonl";
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        for (int b = 0; b < kAppends; ++b) append_lines_atomic(path, batch_text(p, b));
      } catch (...) {
        rc = 1;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const std::string text = read_file(path);
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::vector<json> rows;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    rows.push_back(json::parse(text.substr(start, end - start)));  // every line valid JSON
    start = end + 1;
  }
  ASSERT_EQ(rows.size(), size_t{kProcesses} * kAppends * kLinesPerBatch);
  // Each batch contiguous and in order; every (process, batch) exactly once; each process's
  // batches in the order it appended them.
  std::map<std::pair<int, int>, int> seen;
  std::map<int, int> last_batch;
  for (size_t i = 0; i < rows.size(); i += kLinesPerBatch) {
    const int p = rows[i]["p"], b = rows[i]["b"];
    for (int l = 0; l < kLinesPerBatch; ++l) {
      EXPECT_EQ(rows[i + l]["p"], p) << "batch interleaved at line " << i + l;
      EXPECT_EQ(rows[i + l]["b"], b) << "batch interleaved at line " << i + l;
      EXPECT_EQ(rows[i + l]["l"], l);
    }
    ++seen[{p, b}];
    EXPECT_GT(b, last_batch.count(p) ? last_batch[p] : -1);
    last_batch[p] = b;
  }
  EXPECT_EQ(seen.size(), size_t{kProcesses} * kAppends);
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1);
}

TEST(Append, KeepsWhatWasThereAndAddsAMissingNewline) {
  TempDir dir;
  const auto path = dir.write("log.jsonl", "{\"a\": 1}\n");
  EXPECT_TRUE(append_lines_atomic(path, "{\"b\": 2}").empty());
  EXPECT_EQ(read_file(path), "{\"a\": 1}\n{\"b\": 2}\n");
}

TEST(Append, CutsATornLastLineFirstAndSaysSo) {
  TempDir dir;
  const auto path = dir.write("log.jsonl", "{\"a\": 1}\n{\"b\": 2, \"tor");
  const std::vector<std::string> w = append_lines_atomic(path, "{\"c\": 3}\n");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("torn last line (13 bytes"), std::string::npos) << w[0];
  EXPECT_EQ(read_file(path), "{\"a\": 1}\n{\"c\": 3}\n");
  // A file that is one torn line and nothing else.
  const auto only = dir.write("only.jsonl", "{\"partial");
  EXPECT_EQ(append_lines_atomic(only, "{\"d\": 4}\n").size(), 1u);
  EXPECT_EQ(read_file(only), "{\"d\": 4}\n");
}

TEST(Reader, TornLastLineIsSkippedWithOneWarning) {
  const std::string good = synthetic_run(2, 2, "ctb-run-a").render();
  const size_t lines = static_cast<size_t>(std::count(good.begin(), good.end(), '\n'));
  const std::string torn_row = synthetic_run(1, 1, "ctb-run-b").render().substr(0, 50);
  const TelemetryLog log = parse_telemetry_log(good + torn_row, "t.jsonl");
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_EQ(log.warnings[0], "t.jsonl:" + std::to_string(lines + 1) + ": torn last line skipped");
  ASSERT_EQ(log.runs.size(), 1u);
  EXPECT_EQ(log.runs[0].rows.size(), lines);
  // A complete last row without its newline is not torn.
  const TelemetryLog whole = parse_telemetry_log(good.substr(0, good.size() - 1), "w.jsonl");
  EXPECT_TRUE(whole.warnings.empty());
  EXPECT_EQ(whole.runs[0].rows.size(), lines);
}

TEST(Reader, ABadLineElsewhereIsStillAnError) {
  const std::string good = synthetic_run(2, 2, "ctb-run-a").render();
  // Cut mid-file (the broken line ends in '\n'): not a torn append, an error naming the line.
  const std::string broken = good.substr(0, 50) + "\n" + good;
  try {
    parse_telemetry_log(broken, "b.jsonl");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("b.jsonl:1:"), std::string::npos) << e.what();
  }
  // A torn line that does end in a newline is also an error.
  EXPECT_THROW(parse_telemetry_log(good + "{\"x\n", "c.jsonl"), InputError);
}

TEST(Reader, ReadsPerQueryRows) {
  TelemetryWriter w = synthetic_run(1, 1, "ctb-run-q");
  for (uint64_t q = 0; q < 3; ++q) {
    QueryStats s;
    s.query_index = q;
    s.query_id = static_cast<int64_t>(10 + q);
    s.distance_evals = 100 * (q + 1);
    s.kth_distance = 0.5;
    w.add_query(s);
  }
  const TelemetryLog log = parse_telemetry_log(w.render(), "q.jsonl");
  ASSERT_EQ(log.runs.size(), 1u);
  ASSERT_EQ(log.runs[0].count(RowKind::per_query), 3u);
  const TelemetryRow* row = log.runs[0].first(RowKind::per_query);
  EXPECT_EQ(row->index, 0);
  EXPECT_EQ(row->fields["schema_id"], kQuerySchemaId);
  EXPECT_EQ(row->fields["distance_evals"], 100);
  EXPECT_EQ(row->fields["query_id"], 10);
  // Two rows for one query of a run are a duplicate.
  TelemetryWriter dup = synthetic_run(1, 1, "ctb-run-d");
  dup.add_query(QueryStats{});
  dup.add_query(QueryStats{});
  EXPECT_THROW(parse_telemetry_log(dup.render(), "d.jsonl"), InputError);
}

}  // namespace
}  // namespace ctb
