#pragma once
// The performance gate's decision logic (spec §6): pure functions on plain structs, so every
// rule is unit-tested on synthetic measurements and no test depends on a clock.
//
// What is gated, and how strictly:
// - exactness (recall 1.0 against the in-run brute force) and deterministic counters (distance
//   evaluations, nodes expanded, tree depth, a checksum of the neighbour indices): equality;
// - speed only as figures that cancel the machine's speed: the tree's best pass against the
//   brute force's best pass measured in the same process, the build against the same brute
//   pass; plus the brute force's own q/s with a wide band, which catches a slower shared
//   distance kernel (it would cancel in the ratios);
// - each time check has a threshold plus a noise band from the repetitions' spread; a check
//   whose outcome depends on noise wider than the policy allows is inconclusive.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace ctb::gate {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Where a measurement was taken. Times are only comparable between equal fingerprints.
struct Fingerprint {
  std::string cpu_model;
  std::string simd_target;
  int threads = 0;
  std::string compiler;
  std::string build_type;
  bool operator==(const Fingerprint&) const = default;
};

/// The fields that differ, as "field: baseline -> current" lines (empty when they match).
std::vector<std::string> fingerprint_differences(const Fingerprint& baseline,
                                                 const Fingerprint& current);

/// Everything the gate compares for one scenario from one run. Raw repetitions are kept (not
/// only the best) so the noise band can be derived from them and a baseline can be audited.
struct Measurement {
  std::string scenario;
  size_t n_queries = 0;
  double recall = kNaN;                     // recall@k against the in-run brute force
  bool approximate = false;                 // an approximate budget was on
  bool counters_stable = true;              // every timed pass reported the same counters
  std::map<std::string, int64_t> counters;  // distance_evals, frontier_expanded, tree_depth...
  std::string answer_checksum;              // SHA-256 of the neighbour indices (int64 Q x k)
  std::vector<double> query_seconds;        // tree, every timed pass
  std::vector<double> brute_seconds;        // brute force, every timed pass
  std::vector<double> build_seconds;        // tree construction, every repetition
};

/// One measurement from several independent runs of a scenario (each its own build, tree
/// passes and brute passes): series are concatenated; counters and the checksum must agree
/// across runs (else counters_stable is false); recall is the worst. Empty input: empty result.
Measurement merge_runs(const std::vector<Measurement>& runs);

/// A figure derived from repetitions: its value and its relative noise (the spread of the
/// series it came from; see relative_spread).
struct Figure {
  double value = kNaN;
  double noise = kNaN;
};

/// (first quartile - best) / best. Best-of-N is the estimator, so its noise is how repeatable
/// the fastest passes are: on a shared machine a few passes hit by other load raise the median
/// and the maximum but not the quartile, and should not widen the band. 0 for one sample; NaN
/// for none or for non-finite / non-positive samples.
double relative_spread(const std::vector<double>& seconds);

/// Noise of a figure built from two independently noisy parts (a ratio of two series, or a
/// baseline against a current run): root-sum-square of the relative noises.
double combined_noise(double a, double b);

/// brute best / tree best (higher is better). Noise: both series' spreads, combined.
Figure query_speedup(const Measurement& m);
/// best build / brute best pass (lower is better). Noise: both series' spreads, combined.
Figure build_vs_brute(const Measurement& m);
/// queries / brute best pass (higher is better); absolute, so it drifts with the machine.
Figure brute_qps(const Measurement& m);

/// Limits for one time check. Ratios are "how many times worse" (>= 1 means worse).
struct TimeLimits {
  double threshold = 0.15;   // fail when worse by more than this fraction ...
  double implausible = 2.0;  // ... and when better by more than this factor
};

struct Policy {
  TimeLimits query{0.15, 2.0};
  TimeLimits build{0.35, 2.5};
  TimeLimits brute_qps{1.0, 3.0};  // wide: absolute machine speed
  double max_noise = 0.30;         // a noise band wider than this cannot judge
  size_t min_repetitions = 3;      // fewer timed passes give no usable spread
  bool time_advisory = false;      // --time-advisory: time checks never decide the verdict
};

/// Throws std::invalid_argument when a limit is not a finite positive number (a NaN threshold
/// would make every comparison false, i.e. a gate that cannot fail).
void validate(const Policy& policy);

enum class Verdict { pass, fail, inconclusive };
const char* to_string(Verdict verdict);

enum class CheckKind { exactness, counter, time };
const char* to_string(CheckKind kind);

struct Check {
  std::string scenario;
  std::string figure;  // e.g. "distance_evals", "query_speedup_vs_brute"
  CheckKind kind = CheckKind::counter;
  double baseline = kNaN;  // numeric figures; NaN when absent or textual
  double current = kNaN;
  double ratio = kNaN;        // current / baseline
  std::string baseline_text;  // textual figures (checksums); empty for numeric ones
  std::string current_text;
  double band = kNaN;  // time checks: the allowed ratio of worsening (1 + threshold + noise)
  Verdict verdict = Verdict::pass;
  bool advisory = false;  // reported, but does not decide the overall verdict
  std::string note;       // why (for anything but a plain pass)

  std::string name() const { return scenario + "/" + figure; }
};

struct GateReport {
  Verdict verdict = Verdict::pass;
  std::vector<Check> checks;
  bool fingerprint_match = true;
  std::vector<std::string> fingerprint_notes;  // differences, when any
  bool time_advisory = false;                  // time checks were advisory (flag or mismatch)
};

/// The deterministic checks of one scenario (exactness, counters, checksum). Every breach is
/// reported, not only the first.
std::vector<Check> exactness_and_counter_checks(const Measurement& baseline,
                                                const Measurement& current);

/// The time checks of one scenario under `policy` (advisory flags are applied by evaluate).
std::vector<Check> time_checks(const Measurement& baseline, const Measurement& current,
                               const Policy& policy);

/// One time check: `worse` is the factor by which the current figure is worse than the baseline
/// (> 1 worse, < 1 better); `noise` the combined relative noise. Fills verdict, band and note.
void judge_time(Check& check, double worse, double noise, const TimeLimits& limits,
                const Policy& policy);

/// Compares every current measurement with the baseline's measurement of the same scenario.
/// A scenario absent from the baseline is a failed check (nothing to compare is not a pass).
/// Overall: fail if any deciding check fails, else inconclusive if any is, else pass.
GateReport evaluate(const Fingerprint& baseline_fp, const std::vector<Measurement>& baseline,
                    const Fingerprint& current_fp, const std::vector<Measurement>& current,
                    const Policy& policy);

/// A stored baseline: where it was measured, how, and what it measured.
struct Baseline {
  Fingerprint fingerprint;
  size_t repeat = 0;
  size_t warmup = 0;
  std::string git_revision;
  Policy policy;  // the limits this baseline is judged with (defaults unless the file sets them)
  std::vector<Measurement> scenarios;

  /// The measurement of `scenario`, or nullptr.
  const Measurement* find(const std::string& scenario) const;
};

/// Exit code for a verdict: 0 pass, 1 fail, 3 inconclusive.
int exit_code(Verdict verdict);

/// Figures noisier than policy.max_noise: a baseline recorded like this makes later time checks
/// mostly inconclusive (recording still proceeds; the caller warns).
std::vector<std::string> noise_warnings(const Measurement& m, const Policy& policy);

/// Problems that make a measurement unfit to become a baseline (inexact, unstable counters,
/// missing or non-finite figures, too few repetitions). Empty when it can be recorded.
std::vector<std::string> recording_problems(const Measurement& m, const Policy& policy);

}  // namespace ctb::gate
