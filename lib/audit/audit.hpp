#pragma once
// `covertree-bench audit`: build the tree for a scenario and check, with a verdict per check,
// that (1) the tree answers every query exactly as our brute force does, (2) the tree satisfies
// its invariants, (3) the metric behaves like a metric, and, given the reference's exported
// files, (4) our inputs and exact answer agree with the reference's, while reporting (not
// judging) how far the reference's own float32 answer is from exact.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/build_strategy.hpp"
#include "nlohmann/json.hpp"

namespace ctb {
// Declared, not included: the check files include this header and need none of the schema.
struct Scenario;
}  // namespace ctb

namespace ctb::audit {

enum class Verdict { pass, fail };
const char* to_string(Verdict verdict);

struct Check {
  std::string name;  // dotted, e.g. "exact.distances", "tree.radii", "reference.points"
  Verdict verdict = Verdict::pass;
  std::string detail;  // what was measured, in one line
};

/// A figure reported for information (never judged), e.g. the reference's float32 recall.
struct Reported {
  std::string name;
  double value = 0.0;
  std::string detail;
};

struct AuditOptions {
  std::string reference_dir;      // --reference: the layout of gold/inputs/ (empty = no parity)
  std::optional<int> threads;     // overrides the scenario's threads
  std::optional<Engine> engine;   // overrides the scenario's query.engine (--engine)
  size_t metric_samples = 20000;  // sampled pairs / triples for the metric sanity checks
  uint64_t sample_seed = 12345;   // the samples are deterministic: same report every run
  bool progress = true;           // status line on a terminal
};

struct AuditReport {
  std::string scenario;
  std::string metric;
  size_t n_points = 0;
  size_t dim = 0;
  size_t n_queries = 0;
  size_t k = 0;
  std::string engine;  // the index that answered and was checked (pivot, box, cover-tree)
  std::vector<Check> checks;
  std::vector<Reported> reported;
  std::optional<double> reference_f32_recall;  // with --reference
  bool passed() const;
};

/// Runs every check. Throws InputError when the input is unusable (bad scenario data, a
/// reference directory with missing or malformed files); check failures are in the report.
AuditReport run_audit(const Scenario& scenario, const AuditOptions& options);

/// {"verdict": "pass"|"fail", "checks": [{"name", "verdict", "detail"}], ...}
nlohmann::json report_json(const AuditReport& report);

/// The human table.
std::string report_table(const AuditReport& report);

}  // namespace ctb::audit
