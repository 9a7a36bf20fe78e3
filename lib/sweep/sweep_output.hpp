#pragma once
// What a sweep prints and writes: the table (one row per point, the front marked) and the
// `--json` document.
#include <string>

#include "nlohmann/json.hpp"
#include "sweep/sweep_run.hpp"

namespace ctb {

/// One row per point: the fields set, build s, q/s best/median, distance evaluations per query,
/// recall, x brute (when timed) and '*' on the recall / q/s Pareto front.
std::string sweep_table(const SweepResult& result);

/// {"scenario", "sweep_id", "builds", "points": [{"set", "build_seconds", "qps_best",
/// "qps_median", "distance_evals_per_query", "recall", "speedup_vs_brute", "pareto", ...}]}.
nlohmann::json sweep_json(const SweepResult& result);

}  // namespace ctb
