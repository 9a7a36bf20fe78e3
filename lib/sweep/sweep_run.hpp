#pragma once
// Runs a sweep's points through the bench harness (lib/bench): inputs prepared once per
// distinct input configuration, the tree built once per distinct build configuration, the
// exact answer (brute force) computed once per distinct (inputs, k, predecessor), and every
// point's query passes timed like `run` times them.
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "sweep/sweep_points.hpp"

namespace ctb {

struct SweepOptions {
  bool compare_brute = false;  // --compare-brute: time brute force (scenario.repeat passes)
  std::string telemetry;       // --telemetry: append each point's rows as it finishes
  bool progress = true;        // status line on a terminal
};

struct SweepPointResult {
  nlohmann::json set;        // the fields the point set
  std::string engine;        // the index that answered: pivot, box, cover-tree or brute
  size_t build_id = 0;       // which tree build it used (0-based, in build order)
  double build_seconds = 0;  // that build's wall time
  // The answering index's shape (tree_stats.hpp; zeros for an index without a cover tree):
  int64_t tree_depth = 0;      // nodes on the longest root-to-leaf path
  double branching_mean = 0;   // children per internal node
  uint64_t branching_max = 0;  // most children of one node
  double waste = 0;            // sibling cover balls also holding a sampled point (mean)
  double qps_best = 0;
  double qps_median = 0;
  double distance_evals_per_query = 0;     // last timed pass
  double recall = 0;                       // recall@k against the exact answer
  std::optional<double> speedup_vs_brute;  // --compare-brute
  std::optional<double> brute_qps;         // --compare-brute
  bool approximate = false;                // an APPROXIMATE knob was on
  bool pareto = false;                     // on the recall / q/s front
};

struct SweepResult {
  std::string scenario;
  std::string sweep_id;
  std::vector<std::string> fields;       // the fields set, in --set order
  std::vector<SweepPointResult> points;  // in product order
  size_t builds = 0;                     // trees built
  size_t exact_answers = 0;              // brute-force answers computed
  std::vector<std::string> warnings;     // from the telemetry appends
};

/// Runs every point (InputError on bad inputs, e.g. an NPY file that does not load).
SweepResult run_sweep(const std::vector<SweepPoint>& points, const std::vector<std::string>& fields,
                      const SweepOptions& options);

}  // namespace ctb
