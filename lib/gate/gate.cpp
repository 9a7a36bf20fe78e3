#include "gate/gate.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "bench/stats.hpp"
#include "fmt/format.h"

namespace ctb::gate {
namespace {

// Counters that are never legitimately zero: a pass that answered no query or evaluated no
// distance measured nothing (the uni-db failure mode: a collapsed figure read as "no change").
bool must_be_positive(const std::string& counter) {
  return counter == "queries" || counter == "distance_evals";
}

bool usable_time(double x) { return std::isfinite(x) && x > 0; }

// Best of the repetitions, or NaN when any is unusable (a NaN or zero pass means the
// measurement itself is broken, not merely slow).
double usable_best(const std::vector<double>& xs) {
  if (xs.empty()) return kNaN;
  for (const double x : xs) {
    if (!usable_time(x)) return kNaN;
  }
  return *std::min_element(xs.begin(), xs.end());
}

Check make_check(const std::string& scenario, std::string figure, CheckKind kind) {
  Check c;
  c.scenario = scenario;
  c.figure = std::move(figure);
  c.kind = kind;
  return c;
}

void fail(Check& c, std::string note) {
  c.verdict = Verdict::fail;
  c.note = std::move(note);
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
    case Verdict::inconclusive:
      return "inconclusive";
  }
  return "fail";
}

const char* to_string(CheckKind kind) {
  switch (kind) {
    case CheckKind::exactness:
      return "exactness";
    case CheckKind::counter:
      return "counter";
    case CheckKind::time:
      return "time";
  }
  return "counter";
}

int exit_code(Verdict verdict) {
  switch (verdict) {
    case Verdict::pass:
      return 0;
    case Verdict::fail:
      return 1;
    case Verdict::inconclusive:
      return 3;
  }
  return 1;
}

std::vector<std::string> fingerprint_differences(const Fingerprint& b, const Fingerprint& c) {
  std::vector<std::string> out;
  auto cmp = [&](const char* field, const std::string& x, const std::string& y) {
    if (x != y) out.push_back(fmt::format("{}: '{}' -> '{}'", field, x, y));
  };
  cmp("cpu_model", b.cpu_model, c.cpu_model);
  cmp("simd_target", b.simd_target, c.simd_target);
  cmp("threads", std::to_string(b.threads), std::to_string(c.threads));
  cmp("compiler", b.compiler, c.compiler);
  cmp("build_type", b.build_type, c.build_type);
  return out;
}

double combined_noise(double a, double b) { return std::sqrt(a * a + b * b); }

double relative_spread(const std::vector<double>& seconds) {
  const double best = usable_best(seconds);
  if (std::isnan(best)) return kNaN;
  return (quantile_of(seconds, 0.25) - best) / best;
}

Measurement merge_runs(const std::vector<Measurement>& runs) {
  if (runs.empty()) return {};
  Measurement out = runs.front();
  for (size_t i = 1; i < runs.size(); ++i) {
    const Measurement& r = runs[i];
    // A NaN recall anywhere stays NaN (missing); otherwise the worst run counts.
    out.recall = std::isnan(r.recall) ? r.recall : std::min(out.recall, r.recall);
    out.approximate = out.approximate || r.approximate;
    out.counters_stable = out.counters_stable && r.counters_stable && r.counters == out.counters &&
                          r.answer_checksum == out.answer_checksum;
    auto append = [](std::vector<double>& to, const std::vector<double>& from) {
      to.insert(to.end(), from.begin(), from.end());
    };
    append(out.query_seconds, r.query_seconds);
    append(out.brute_seconds, r.brute_seconds);
    append(out.build_seconds, r.build_seconds);
  }
  return out;
}

Figure query_speedup(const Measurement& m) {
  return {usable_best(m.brute_seconds) / usable_best(m.query_seconds),
          combined_noise(relative_spread(m.brute_seconds), relative_spread(m.query_seconds))};
}

Figure build_vs_brute(const Measurement& m) {
  return {usable_best(m.build_seconds) / usable_best(m.brute_seconds),
          combined_noise(relative_spread(m.build_seconds), relative_spread(m.brute_seconds))};
}

Figure brute_qps(const Measurement& m) {
  return {static_cast<double>(m.n_queries) / usable_best(m.brute_seconds),
          relative_spread(m.brute_seconds)};
}

void validate(const Policy& p) {
  auto positive = [](const char* what, double x) {
    if (!std::isfinite(x) || x <= 0) {
      throw std::invalid_argument(fmt::format("gate policy: {} must be a finite number > 0", what));
    }
  };
  for (const auto& [name, limits] : {std::pair{"query", p.query}, std::pair{"build", p.build},
                                     std::pair{"brute_qps", p.brute_qps}}) {
    positive(fmt::format("{}.threshold", name).c_str(), limits.threshold);
    positive(fmt::format("{}.implausible", name).c_str(), limits.implausible);
    if (limits.implausible <= 1) {
      throw std::invalid_argument(
          fmt::format("gate policy: {}.implausible must be > 1 (a factor of improvement)", name));
    }
  }
  positive("max_noise", p.max_noise);
  if (p.min_repetitions < 2) {
    throw std::invalid_argument(
        "gate policy: min_repetitions must be >= 2 (one pass has no "
        "spread)");
  }
}

std::vector<Check> exactness_and_counter_checks(const Measurement& b, const Measurement& c) {
  std::vector<Check> out;
  const std::string& s = c.scenario;

  // Exactness is judged on the current run alone: the baseline cannot excuse a wrong answer.
  Check recall = make_check(s, "recall_vs_brute", CheckKind::exactness);
  recall.baseline = b.recall;
  recall.current = c.recall;
  recall.ratio = c.recall / b.recall;
  if (std::isnan(c.recall)) {
    fail(recall, "missing: no brute-force comparison");
  } else if (c.approximate) {
    fail(recall, "an approximate budget is on; the gate judges exact search only");
  } else if (c.recall != 1.0) {
    fail(recall, fmt::format("inexact: recall {:.6f} < 1", c.recall));
  }
  out.push_back(recall);

  Check sum = make_check(s, "answer_checksum", CheckKind::exactness);
  sum.baseline_text = b.answer_checksum;
  sum.current_text = c.answer_checksum;
  if (c.answer_checksum.empty() || b.answer_checksum.empty()) {
    fail(sum, "missing");
  } else if (c.answer_checksum != b.answer_checksum) {
    fail(sum, "neighbour indices differ from the baseline's");
  }
  out.push_back(sum);

  Check stable = make_check(s, "counters_stable", CheckKind::counter);
  stable.baseline = b.counters_stable ? 1 : 0;
  stable.current = c.counters_stable ? 1 : 0;
  if (!c.counters_stable) fail(stable, "timed passes reported different counters");
  out.push_back(stable);

  std::set<std::string> names;
  for (const auto& [name, _] : b.counters) names.insert(name);
  for (const auto& [name, _] : c.counters) names.insert(name);
  for (const std::string& name : names) {
    Check k = make_check(s, name, CheckKind::counter);
    const auto bi = b.counters.find(name);
    const auto ci = c.counters.find(name);
    if (bi != b.counters.end()) k.baseline = static_cast<double>(bi->second);
    if (ci != c.counters.end()) k.current = static_cast<double>(ci->second);
    k.ratio = k.current / k.baseline;
    if (bi == b.counters.end()) {
      fail(k, "missing in the baseline");
    } else if (ci == c.counters.end()) {
      fail(k, "missing in this run");
    } else if (must_be_positive(name) && (bi->second <= 0 || ci->second <= 0)) {
      fail(k, "zero: nothing was measured");
    } else if (bi->second != ci->second) {
      fail(k, fmt::format("deterministic counter changed by {:+d}", ci->second - bi->second));
    }
    out.push_back(k);
  }
  for (const char* required : {"queries", "distance_evals"}) {
    if (names.count(required) == 0) {
      Check k = make_check(s, required, CheckKind::counter);
      fail(k, "missing on both sides");
      out.push_back(k);
    }
  }
  return out;
}

void judge_time(Check& c, double worse, double noise, const TimeLimits& limits,
                const Policy& policy) {
  const double upper = 1 + limits.threshold + noise;
  const double lower = 1 / (limits.implausible * (1 + noise));
  c.band = upper;
  if (worse > upper) {
    fail(c, fmt::format("regression: {:.2f}x worse (allowed {:.2f}x = 1 + threshold {:.2f} + "
                        "noise {:.2f})",
                        worse, upper, limits.threshold, noise));
  } else if (worse < lower) {
    fail(c, fmt::format("implausible improvement: {:.2f}x better (more than {:.2f}x); "
                        "re-record the baseline if it is real",
                        1 / worse, 1 / lower));
  } else if (worse > 1 + limits.threshold || worse < 1 / limits.implausible) {
    // Beyond the threshold but inside the noise band: the noise decides, so a band wider than
    // the policy allows cannot tell a regression from a busy machine.
    if (noise > policy.max_noise) {
      c.verdict = Verdict::inconclusive;
      c.note = fmt::format("too noisy to judge: {:.2f}x worse with noise {:.2f} > {:.2f}", worse,
                           noise, policy.max_noise);
    } else {
      c.note = fmt::format("within noise ({:.2f})", noise);
    }
  }
}

std::vector<Check> time_checks(const Measurement& b, const Measurement& c, const Policy& policy) {
  struct Spec {
    const char* figure;
    Figure (*get)(const Measurement&);
    bool higher_is_better;
    const TimeLimits* limits;
    const std::vector<double> Measurement::*series;  // the series besides the brute passes
  };
  const Spec specs[] = {
      {"query_speedup_vs_brute", query_speedup, true, &policy.query, &Measurement::query_seconds},
      {"build_vs_brute_pass", build_vs_brute, false, &policy.build, &Measurement::build_seconds},
      {"brute_qps", brute_qps, true, &policy.brute_qps, &Measurement::brute_seconds},
  };
  std::vector<Check> out;
  for (const Spec& spec : specs) {
    Check k = make_check(c.scenario, spec.figure, CheckKind::time);
    const Figure fb = spec.get(b);
    const Figure fc = spec.get(c);
    k.baseline = fb.value;
    k.current = fc.value;
    k.ratio = fc.value / fb.value;
    const bool finite = std::isfinite(fb.value) && fb.value > 0 && std::isfinite(fc.value) &&
                        fc.value > 0 && std::isfinite(fb.noise) && std::isfinite(fc.noise);
    const size_t reps = std::min({(b.*spec.series).size(), b.brute_seconds.size(),
                                  (c.*spec.series).size(), c.brute_seconds.size()});
    if (!finite) {
      fail(k, fmt::format("missing, zero or non-finite figure (baseline {}, current {})", fb.value,
                          fc.value));
    } else if (reps < policy.min_repetitions) {
      k.verdict = Verdict::inconclusive;
      k.note = fmt::format("too few repetitions to estimate noise ({} < {})", reps,
                           policy.min_repetitions);
    } else {
      const double worse = spec.higher_is_better ? fb.value / fc.value : fc.value / fb.value;
      judge_time(k, worse, combined_noise(fb.noise, fc.noise), *spec.limits, policy);
    }
    out.push_back(k);
  }
  return out;
}

GateReport evaluate(const Fingerprint& baseline_fp, const std::vector<Measurement>& baseline,
                    const Fingerprint& current_fp, const std::vector<Measurement>& current,
                    const Policy& policy) {
  validate(policy);
  GateReport report;
  report.fingerprint_notes = fingerprint_differences(baseline_fp, current_fp);
  report.fingerprint_match = report.fingerprint_notes.empty();
  report.time_advisory = policy.time_advisory || !report.fingerprint_match;

  for (const Measurement& c : current) {
    const auto it = std::find_if(baseline.begin(), baseline.end(),
                                 [&](const Measurement& b) { return b.scenario == c.scenario; });
    if (it == baseline.end()) {
      Check k = make_check(c.scenario, "baseline", CheckKind::exactness);
      fail(k, "scenario not in the baseline (record it with --record)");
      report.checks.push_back(k);
      continue;
    }
    for (Check& k : exactness_and_counter_checks(*it, c)) report.checks.push_back(std::move(k));
    for (Check& k : time_checks(*it, c, policy)) {
      k.advisory = report.time_advisory;
      report.checks.push_back(std::move(k));
    }
  }
  if (current.empty()) {
    Check k = make_check("-", "scenarios", CheckKind::exactness);
    fail(k, "no scenario was measured");
    report.checks.push_back(k);
  }

  bool any_fail = false;
  bool any_inconclusive = false;
  for (const Check& k : report.checks) {
    if (k.advisory) continue;
    any_fail |= k.verdict == Verdict::fail;
    any_inconclusive |= k.verdict == Verdict::inconclusive;
  }
  report.verdict = any_fail           ? Verdict::fail
                   : any_inconclusive ? Verdict::inconclusive
                                      : Verdict::pass;
  return report;
}

const Measurement* Baseline::find(const std::string& scenario) const {
  for (const Measurement& m : scenarios) {
    if (m.scenario == scenario) return &m;
  }
  return nullptr;
}

std::vector<std::string> noise_warnings(const Measurement& m, const Policy& policy) {
  std::vector<std::string> out;
  for (const auto& [name, figure] : {std::pair{"query_speedup_vs_brute", query_speedup(m)},
                                     std::pair{"build_vs_brute_pass", build_vs_brute(m)},
                                     std::pair{"brute_qps", brute_qps(m)}}) {
    if (figure.noise > policy.max_noise) {
      out.push_back(
          fmt::format("{} noise {:.2f} > max_noise {:.2f}", name, figure.noise, policy.max_noise));
    }
  }
  return out;
}

std::vector<std::string> recording_problems(const Measurement& m, const Policy& policy) {
  std::vector<std::string> out;
  if (std::isnan(m.recall)) out.push_back("no recall against brute force");
  if (m.approximate) out.push_back("an approximate budget is on");
  if (!std::isnan(m.recall) && m.recall != 1.0) {
    out.push_back(fmt::format("inexact: recall {:.6f} < 1", m.recall));
  }
  if (!m.counters_stable) out.push_back("timed passes reported different counters");
  if (m.answer_checksum.empty()) out.push_back("no answer checksum");
  for (const char* name : {"queries", "distance_evals"}) {
    const auto it = m.counters.find(name);
    if (it == m.counters.end() || it->second <= 0) {
      out.push_back(fmt::format("counter {} missing or zero", name));
    }
  }
  if (m.query_seconds.size() < policy.min_repetitions ||
      m.brute_seconds.size() < policy.min_repetitions ||
      m.build_seconds.size() < policy.min_repetitions) {
    out.push_back(fmt::format("fewer than {} timed passes", policy.min_repetitions));
  }
  for (const auto& [name, figure] : {std::pair{"query_speedup_vs_brute", query_speedup(m)},
                                     std::pair{"build_vs_brute_pass", build_vs_brute(m)},
                                     std::pair{"brute_qps", brute_qps(m)}}) {
    if (!std::isfinite(figure.value) || figure.value <= 0 || !std::isfinite(figure.noise)) {
      out.push_back(fmt::format("{} missing, zero or non-finite", name));
    }
  }
  return out;
}

}  // namespace ctb::gate
