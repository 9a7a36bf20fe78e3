// `covertree-bench sweep`: one run per point of a cartesian product of scenario fields, the
// tree built once per build configuration; prints the table, optionally writes JSON/telemetry.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "scenario/scenario.hpp"
#include "sweep/sweep_output.hpp"
#include "sweep/sweep_points.hpp"
#include "sweep/sweep_run.hpp"

namespace ctb::cli {
namespace {

struct SweepArgs {
  std::string scenario;
  std::vector<std::string> sets;
  bool compare_brute = false;
  std::string telemetry;
  std::string json;
  bool quiet = false;
};

}  // namespace

CommandRunner add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Run a scenario at every point of a cartesian product of its fields (any field by its\n"
      "dotted name), building the tree once per build configuration; print one row per point\n"
      "(build s, q/s, distance evaluations per query, recall vs the exact answer, x brute) and\n"
      "mark the recall / q/s Pareto front.\n"
      "Example: covertree-bench sweep --scenario gold32k --set query.survivor_cap=0,512,2048 \\\n"
      "           --set build.pivots=1024,2048 --compare-brute --json sweep.json");
  cmd->add_option("--scenario,-s", args->scenario,
                  "Built-in scenario name (see `list`) or path to a .yaml/.json scenario file")
      ->required();
  cmd->add_option("--set", args->sets,
                  "FIELD=V1,V2,...: a scenario field (e.g. query.survivor_cap, build.pivots, k, "
                  "residual.inducing_count) and its values; repeat for more fields")
      ->required();
  cmd->add_flag("--compare-brute", args->compare_brute,
                "Also time the exact brute force (once per distinct inputs): x brute per point");
  cmd->add_option("--telemetry", args->telemetry,
                  "Append every point's telemetry rows (a run each, tagged with the sweep) here");
  cmd->add_option("--json", args->json,
                  "Write {\"scenario\", \"points\": [...]} (one object per point) here");
  cmd->add_flag("--quiet,-q", args->quiet, "Print no table (outputs are still written)");
  return [args] {
    require_writable_output(args->telemetry, "--telemetry");
    require_writable_output(args->json, "--json");
    const ScenarioDocument base = load_scenario_document(args->scenario);
    std::vector<SweepAxis> axes;
    std::vector<std::string> fields;
    for (const std::string& s : args->sets) {
      axes.push_back(parse_sweep_axis(s));
      fields.push_back(axes.back().field);
    }
    // Every point is validated here, before any data is generated or any tree built.
    const std::vector<SweepPoint> points = expand_sweep(base, axes);
    SweepOptions options;
    options.compare_brute = args->compare_brute;
    options.telemetry = args->telemetry;
    const SweepResult result = run_sweep(points, fields, options);
    for (const std::string& w : result.warnings) {
      std::fprintf(stderr, "covertree-bench: warning: %s\n", w.c_str());
    }
    if (!args->json.empty()) write_file_atomic(args->json, sweep_json(result).dump(2) + "\n");
    if (!args->quiet) std::fputs(sweep_table(result).c_str(), stdout);
    return 0;
  };
}

}  // namespace ctb::cli
