#pragma once
// The points of a sweep: the cartesian product of `--set FIELD=V1,V2,...` over a scenario,
// every point validated by the scenario validator before any work starts, and the keys that say
// which points can share inputs, a tree, and the exact answer.
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "scenario/scenario.hpp"

namespace ctb {

/// One `--set`: a scenario field by its dotted name and the values to try, in order.
struct SweepAxis {
  std::string field;                   // e.g. "query.survivor_cap"
  std::vector<nlohmann::json> values;  // typed as in a scenario file
  std::vector<std::string> texts;      // as given on the command line
};

/// Parses "FIELD=V1,V2,..." (InputError naming the option when malformed).
SweepAxis parse_sweep_axis(const std::string& option);

struct SweepPoint {
  nlohmann::json set;      // {"FIELD": value, ...}: what this point set
  Scenario scenario;       // the base scenario with those fields, validated
  std::string inputs_key;  // equal: same dataset, backend and query rows
  std::string build_key;   // equal: same tree (inputs, every build field and the resolved
                           // query.engine: each engine builds its own index)
  std::string truth_key;   // equal: same exact answer (inputs, k, predecessor)
};

/// Top-level scenario fields that change only how a built tree is queried or timed; a point
/// differing from another only in these reuses its tree. Everything else (data, queries,
/// metric, residual, build.*, threads, and any field added to the schema later) is treated as
/// an input of the build, so a new build knob gets its own tree without code changes here.
const std::vector<std::string>& query_side_fields();

/// Every point of the product, first axis outermost. Throws InputError ("--set FIELD=V: ...")
/// for a duplicate or malformed field, a bad name or value, before anything is run.
std::vector<SweepPoint> expand_sweep(const ScenarioDocument& base,
                                     const std::vector<SweepAxis>& axes);

}  // namespace ctb
