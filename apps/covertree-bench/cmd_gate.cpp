// `covertree-bench gate`: run scenarios and compare them with a stored baseline (or record one).
// Parsing only; measuring and judging live in lib/gate/.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "fmt/format.h"
#include "gate/gate.hpp"
#include "gate/gate_io.hpp"
#include "gate/gate_run.hpp"
#include "scenario/scenario.hpp"

namespace ctb::cli {
namespace {

struct GateArgs {
  std::vector<std::string> scenarios;
  std::string baseline;
  bool record = false;
  size_t repeat = 5;
  size_t warmup = 1;
  int threads = 0;
  double inject_slowdown = 1.0;
  bool time_advisory = false;
  std::string json;
  std::string simd = "best";
  bool quiet = false;
};

std::vector<gate::Measurement> measure_all(const GateArgs& args, const gate::GateRunOptions& run,
                                           int* threads_used) {
  std::vector<gate::Measurement> out;
  for (const std::string& name : args.scenarios) {
    if (!args.quiet) std::fprintf(stderr, "gate: measuring %s\n", name.c_str());
    int threads = 0;
    out.push_back(gate::measure_scenario(name, run, &threads));
    if (out.size() == 1) *threads_used = threads;
  }
  return out;
}

int record(const GateArgs& args, const gate::GateRunOptions& run) {
  const OutputLock lock = gate::lock_baseline_for_record(args.baseline);
  gate::Baseline baseline;
  // Re-recording keeps the limits a committed baseline was tuned with.
  if (std::filesystem::exists(args.baseline)) {
    try {
      baseline.policy = gate::load_baseline(args.baseline).policy;
    } catch (const InputError&) {
      // An unreadable old file is simply replaced, with the default policy.
    }
  }
  int threads = 0;
  baseline.scenarios = measure_all(args, run, &threads);
  std::string problems;
  for (const gate::Measurement& m : baseline.scenarios) {
    for (const std::string& p : gate::recording_problems(m, baseline.policy)) {
      problems += fmt::format("\n  {}: {}", m.scenario, p);
    }
  }
  if (!problems.empty()) {
    throw CheckFailed("refusing to record a baseline from this run:" + problems);
  }
  baseline.fingerprint = gate::current_fingerprint(threads);
  baseline.repeat = args.repeat;
  baseline.warmup = args.warmup;
  baseline.git_revision = build_info().git_revision;
  gate::save_baseline(args.baseline, baseline);
  for (const gate::Measurement& m : baseline.scenarios) {
    for (const std::string& w : gate::noise_warnings(m, baseline.policy)) {
      std::fputs(fmt::format("gate: warning: {}: {}; time checks against this baseline will "
                             "often be inconclusive: re-record on a quiet machine\n",
                             m.scenario, w)
                     .c_str(),
                 stderr);
    }
  }
  for (const gate::Measurement& m : baseline.scenarios) {
    const gate::Figure q = gate::query_speedup(m);
    const gate::Figure b = gate::build_vs_brute(m);
    const gate::Figure qps = gate::brute_qps(m);
    std::fputs(fmt::format("{}: speed-up vs brute {:.3f}x (noise {:.3f}), build / brute pass "
                           "{:.3f} (noise {:.3f}), brute {:.0f} q/s, {} distance evals\n",
                           m.scenario, q.value, q.noise, b.value, b.noise, qps.value,
                           m.counters.at("distance_evals"))
                   .c_str(),
               stdout);
  }
  std::fputs(
      fmt::format("recorded {} scenario(s) in {}\n", baseline.scenarios.size(), args.baseline)
          .c_str(),
      stdout);
  return kExitOk;
}

int compare(GateArgs args, const gate::GateRunOptions& run) {
  const gate::Baseline baseline = gate::load_baseline(args.baseline);
  if (args.scenarios.empty()) {
    for (const gate::Measurement& m : baseline.scenarios) args.scenarios.push_back(m.scenario);
  }
  // Fail before minutes of measuring when a scenario has nothing to be compared with.
  for (const std::string& name : args.scenarios) {
    const std::string key = load_scenario(name).name;
    if (!baseline.find(key)) {
      throw InputError(fmt::format("--scenario {}: not in baseline {} (record it with --record)",
                                   name, args.baseline));
    }
  }
  gate::Policy policy = baseline.policy;
  policy.time_advisory = args.time_advisory;
  int threads = 0;
  const std::vector<gate::Measurement> current = measure_all(args, run, &threads);
  const gate::GateReport report =
      gate::evaluate(baseline.fingerprint, baseline.scenarios, gate::current_fingerprint(threads),
                     current, policy);
  if (!args.json.empty()) {
    write_file_atomic(args.json, gate::report_json(report).dump(2) + "\n");
  }
  std::fputs(gate::report_table(report).c_str(), stdout);
  return gate::exit_code(report.verdict);
}

}  // namespace

CommandRunner add_gate_command(CLI::App& app) {
  auto args = std::make_shared<GateArgs>();
  auto* cmd = app.add_subcommand(
      "gate",
      "Performance gate: run scenarios and compare with a stored baseline. Exactness and\n"
      "deterministic counters must match exactly; speed is judged as ratios to the brute force\n"
      "timed in the same run, with a threshold plus a noise band from the repetitions.\n"
      "Exit codes: 0 pass, 1 fail, 2 unusable input, 3 inconclusive (too noisy to judge).\n"
      "Examples:\n"
      "  covertree-bench gate --scenario gold32k --baseline configs/baselines/gold32k.json\n"
      "  covertree-bench gate --scenario gold32k --record --baseline my.json\n"
      "  covertree-bench gate --baseline configs/baselines/ci.json --time-advisory");
  cmd->add_option("--scenario,-s", args->scenarios,
                  "Scenario names or files (default with a baseline: every scenario in it)");
  cmd->add_option("--baseline,-b", args->baseline, "Baseline JSON to compare with (or to write)")
      ->required();
  cmd->add_flag("--record", args->record,
                "Run the scenarios and write (overwrite) the baseline instead of comparing");
  cmd->add_option("--repeat", args->repeat,
                  "Repetitions per scenario; each builds the tree and times one tree pass and one "
                  "brute-force "
                  "pass, interleaved")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed tree passes before each timed one")
      ->check(CLI::Range(size_t{0}, size_t{1000}))
      ->capture_default_str();
  auto* threads = cmd->add_option("--threads,-t", args->threads,
                                  "Worker threads (default: the scenario's, else all cores)")
                      ->check(CLI::Range(1, 4096));
  cmd->add_option("--inject-slowdown", args->inject_slowdown,
                  "Make the tree query do about FACTOR times its work (self-test: must fail)")
      ->check(CLI::Range(1.0, 1000.0));
  cmd->add_flag("--time-advisory", args->time_advisory,
                "Report time checks but let only exactness and counters decide the verdict");
  cmd->add_option("--json", args->json, "Write the verdict and every check as JSON here");
  add_simd_option(cmd, &args->simd);
  cmd->add_flag("--quiet,-q", args->quiet, "No progress lines");

  return [args, threads] {
    require_writable_output(args->baseline, "--baseline");
    require_writable_output(args->json, "--json");
    apply_simd_option(args->simd);
    gate::GateRunOptions run;
    run.repeat = args->repeat;
    run.warmup = args->warmup;
    if (threads->count() > 0) run.threads = args->threads;
    run.inject_slowdown = args->inject_slowdown;
    run.progress = !args->quiet;
    if (args->record) {
      if (args->scenarios.empty()) throw InputError("--record: name the scenarios (--scenario)");
      if (!args->json.empty()) throw InputError("--json: only when comparing, not with --record");
      return record(*args, run);
    }
    return compare(*args, run);
  };
}

}  // namespace ctb::cli
