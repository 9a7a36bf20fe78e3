#pragma once
// A scenario: one self-contained description of a benchmark run (spec §3). Loaded from YAML or
// JSON (same schema), validated strictly: unknown keys, wrong types and out-of-range values
// are errors naming the file, the field and the problem.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/build_strategy.hpp"
#include "metric/metric.hpp"
#include "nlohmann/json.hpp"

namespace ctb {

struct DataSpec {
  // Either generated (numpy default_rng(seed).normal(0, 1, (n, dim))) or loaded from NPY.
  uint64_t seed = 0;     // data.seed
  size_t n = 0;          // data.n
  size_t dim = 0;        // data.dim
  std::string npy_path;  // data as a path (or data.path); empty when generated
};

struct QuerySpec {
  enum class Kind { generated, npy, all };
  Kind kind = Kind::generated;
  size_t count = 0;      // queries.count
  uint64_t seed = 0;     // queries.seed
  std::string npy_path;  // queries.path: int64 dataset indices (residual) or points
};

struct ResidualSpec {
  KernelType kernel = KernelType::rbf;  // residual.kernel: rbf | matern52
  double variance = 1.0;                // residual.variance (> 0)
  double lengthscale = 1.0;             // residual.lengthscale (> 0)
  size_t inducing_count = 512;          // residual.inducing_count (1 <= m <= n)
  uint64_t inducing_seed = 0;           // residual.inducing_seed (an integer) ...
  std::string inducing_npy;             // ... or an NPY path of int64 dataset indices, which
                                        // then also sets inducing_count
  double jitter = 1e-6;                 // residual.jitter, relative to variance (>= 0)
};

struct BuildSpec {
  BuildStrategy strategy = BuildStrategy::euclidean_hybrid;  // build.strategy
  size_t batch_size = 512;                                   // build.batch_size (>= 1)
  BatchOrder batch_order = BatchOrder::natural;              // build.batch_order
  size_t pivots = 0;      // build.pivots: residual pivot index P; 0 = `auto` (N / 16, <= 2,048)
  size_t pivot_list = 0;  // build.pivot_list: rows kept per pivot; only `auto` (whole rows)
  double base = kDefaultExpansionBase;  // build.base: cover-tree expansion base (> 1)
};

struct QueryOptionsSpec {
  Engine engine = Engine::automatic;  // query.engine: auto | pivot | box | cover-tree | brute
  bool predecessor = false;           // query.predecessor: return only dataset ids j < i
  size_t survivor_cap = 0;            // query.survivor_cap: APPROXIMATE beam cap, 0 = off (exact)
  size_t low_yield_stop = 0;          // query.low_yield_stop: APPROXIMATE early stop, 0 = off
  size_t dense_fallback_evals = 0;    // query.dense_fallback_evals: exact blocked scan beyond
                                      // this many index candidates (or best-first tree
                                      // evaluations); 0 = automatic (n / 5, n / 6)
  size_t seed_rows = 128;             // query.seed_rows: Euclidean-nearest rows evaluated first
  size_t pivot_candidates = 24;       // query.pivot_candidates: Euclidean-nearest pivots evaluated
  size_t bound_pivots = 16;           // query.bound_pivots: of them, the pivots of the bound
  // Cover-tree search heuristics, EXACT (answers unchanged; only the visiting order and the
  // tile sizes move):
  ChildOrder child_order = ChildOrder::natural;  // query.child_order: natural | bound
  size_t frontier_block = 1;  // query.frontier_block: frontier nodes expanded per step (>= 1)
};

struct Scenario {
  std::string name;                          // name (required)
  std::string description;                   // description
  MetricKind metric = MetricKind::residual;  // metric (required): residual | euclidean
  DataSpec data;                             // data (required)
  QuerySpec queries;                         // queries (required): {count, seed} | path | "all"
  size_t k = 0;                              // k (required, 1 <= k <= n)
  ResidualSpec residual;                     // residual
  BuildSpec build;                           // build
  QueryOptionsSpec query;                    // query
  size_t repeat = 5;                         // timed passes (>= 1)
  size_t warmup = 1;                         // untimed passes first (>= 0)
  int threads = 0;                           // 0 = all hardware threads
  std::string source;  // where it was loaded from (file path or "built-in:<name>")
};

/// The index `engine` names on `metric`: automatic -> pivot (residual) or box (Euclidean); the
/// others as they are. Never returns Engine::automatic.
Engine resolve_engine(Engine engine, MetricKind metric);

/// Why `engine` cannot answer `metric` queries (empty: it can): pivot lists are residual only,
/// the box index is Euclidean only.
std::string engine_metric_problem(Engine engine, MetricKind metric);

/// A knob the scenario sets away from its default that its resolved engine does not read
/// (e.g. query.survivor_cap with the pivot engine): the field and why; empty field = none.
struct EngineKnobProblem {
  std::string field;
  std::string problem;
};
EngineKnobProblem engine_knob_problem(const Scenario& scenario);

/// Loads a scenario by built-in name (e.g. "gold32k") or by path to a .yaml/.yml/.json file.
/// Relative NPY paths inside a file are resolved against the file's directory.
Scenario load_scenario(const std::string& name_or_path);

/// The backend's parameters for a scenario's residual section (kernel, variance, lengthscale,
/// jitter): the one mapping run, the sharded run and audit share.
ResidualParams residual_params(const ResidualSpec& spec);

/// Parses scenario text; `source` names it in errors; `base_dir` resolves relative NPY paths.
Scenario parse_scenario(const std::string& text, const std::string& source,
                        const std::filesystem::path& base_dir);

/// A scenario as parsed but not yet validated, and where it came from. `sweep` sets fields in
/// `doc` by their dotted names and validates the result here, so any field of the schema can be
/// set and is checked exactly as in a file.
struct ScenarioDocument {
  nlohmann::json doc;              // the parsed YAML/JSON tree
  std::string source;              // names it in errors ("built-in:gold32k" or the path)
  std::filesystem::path base_dir;  // resolves relative NPY paths
};

/// Loads a scenario's document (built-in name or path, as load_scenario) without validating it.
ScenarioDocument load_scenario_document(const std::string& name_or_path);

/// Validates a document into a Scenario (InputError naming source, field and problem).
Scenario validate_scenario_document(const ScenarioDocument& document);

/// Built-in scenarios: (name, one-line description), sorted by name.
std::vector<std::pair<std::string, std::string>> list_builtin_scenarios();

/// The text of a built-in scenario, if `name` is one.
std::optional<std::string> builtin_scenario_text(const std::string& name);

}  // namespace ctb
