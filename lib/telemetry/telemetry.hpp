#pragma once
// Per-run JSONL telemetry (spec README §5, docs/telemetry.md): one `covertree_bench.run` row,
// one `covertree_bench.build_batch` row per insertion batch and one `covertree_bench.query_pass`
// row per query pass. Build rows reuse the field names of `covertreex.benchmark_batch.v2` where
// the meaning matches; fields the reference lacks get names it never used.
//
// The runner fills the plain structs below, then:
//   TelemetryWriter w(info);               // fixes run_id and run_hash
//   w.add_build_batch(stats);  ...         // one per batch, in order
//   w.add_query_pass(pass);    ...         // one per pass (warm-up passes flagged)
//   w.append_to(path);                     // all rows of the run, appended atomically
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "search/counters.hpp"

namespace ctb {

inline constexpr const char* kRunSchemaId = "covertree_bench.run";
inline constexpr const char* kBuildBatchSchemaId = "covertree_bench.build_batch";
inline constexpr const char* kQueryPassSchemaId = "covertree_bench.query_pass";
inline constexpr const char* kQuerySchemaId = "covertree_bench.query";  // --telemetry-queries
inline constexpr int kTelemetrySchemaVersion = 1;

/// Everything that identifies a run (configuration + seeds, hashed into run_hash), the machine
/// fingerprint (not hashed) and the headline figures (not hashed). Unknown optionals are omitted
/// from the row rather than written as placeholders.
struct RunInfo {
  // --- configuration (all of it goes into run_hash) ---
  std::string scenario;         // scenario name, e.g. "gold32k"
  std::string metric;           // "residual" | "euclidean" (the reference's CLI spelling)
  std::string engine;           // tree engine label, e.g. "covertree"
  uint64_t n_points = 0;        // rows in the tree            -> "tree_points"
  uint64_t dim = 0;             // coordinates per point       -> "dimension"
  uint64_t n_queries = 0;       // queries per pass            -> "queries"
  uint64_t k = 0;               //                             -> "k"
  int threads = 0;              // worker threads actually used
  std::string build_strategy;   // e.g. "euclidean_hybrid" | "pure_residual"
  std::string batch_order;      // "natural" | "hilbert"     -> "batch_order_strategy"
  uint64_t batch_size = 0;      // configured insertion batch -> "batch_size"
  bool predecessor = false;     // query.predecessor
  uint64_t survivor_cap = 0;    // APPROXIMATE beam cap, 0 = exact
  uint64_t low_yield_stop = 0;  // APPROXIMATE early stop, 0 = exact
  uint64_t repeat = 0;          // timed passes
  uint64_t warmup = 0;          // untimed passes
  uint64_t data_seed = 0;
  std::optional<uint64_t> query_seed;     // absent when queries come from a file or "all"
  std::optional<uint64_t> inducing_seed;  // absent when inducing points come from a file
  std::string data_source;                // "generated" or the NPY path as given in the scenario
  // Residual kernel (ignored for euclidean: leave kernel empty).
  std::string kernel;  // "rbf" | "matern52"
  double variance = 0;
  double lengthscale = 0;
  uint64_t inducing_count = 0;  // m
  double jitter = 0;

  // --- machine fingerprint (not hashed: equal configs on two machines stay comparable) ---
  std::string cpu_model;
  std::string simd_target;
  std::string compiler;
  std::string build_type;
  std::string build_flags;
  std::string git_revision;
  std::string hostname;
  std::string tool_version;

  // --- headline figures (seconds here, written as ms) ---
  std::optional<double> build_seconds;         // tree build wall time
  std::optional<double> backend_seconds;       // residual backend setup (factorisation) wall time
  std::optional<double> query_seconds_best;    // fastest timed pass
  std::optional<double> query_seconds_median;  // median timed pass
  std::optional<double> qps_best;              // queries / best pass seconds
  std::optional<double> recall;                // vs brute force, when it was checked
  std::optional<uint64_t> peak_rss_bytes;
  std::optional<uint64_t> tree_depth;
  nlohmann::json tree_quality;               // tree-quality figures (object; null = not written)
  std::optional<double> brute_seconds_best;  // fastest brute-force pass, when it was timed

  // --- a point of a `sweep` (not hashed; omitted for plain runs) ---
  std::string sweep_id;      // shared by every point of one sweep
  nlohmann::json sweep_set;  // the fields this point set: {"query.survivor_cap": 512, ...}
};

/// One insertion batch. Times in ms, memory in bytes.
struct BuildBatchStats {
  uint64_t batch_index = 0;
  uint64_t candidates = 0;      // points in this batch (the real length)
  uint64_t selected = 0;        // inserted as new cover nodes (MIS-selected)
  uint64_t dominated = 0;       // attached under another point: candidates - selected
  uint64_t mis_iterations = 0;  // rounds of the MIS
  double traversal_ms = 0;
  double conflict_graph_ms = 0;
  double mis_ms = 0;
  double batch_ms = 0;  // whole batch wall time (ours; the reference has no such field)
  std::optional<uint64_t> rss_bytes;
  std::optional<int64_t> rss_delta_bytes;
  std::optional<int64_t> level;                  // cover level the batch was inserted at (ours)
  std::optional<uint64_t> conflict_adj_pairs;    // directed conflict-graph edges
  std::optional<uint64_t> build_distance_evals;  // distances computed for this batch (ours)
  // Which phase of the index's build the row is (ours): "nets_level" for a cover-tree level,
  // else the phase the index reports ("nets_layout", "radii", "pivot_rows", "box_index",
  // "other"); the rows of a run cover its whole build.
  std::optional<std::string> build_phase;
};

/// One query pass over all queries (timed, or a warm-up when `warmup` is set).
struct QueryPassStats {
  uint64_t pass_index = 0;  // 0-based over all passes, warm-ups included
  bool warmup = false;
  double query_ms = 0;     // wall time of the pass
  QueryCounters counters;  // summed over the pass's queries
  std::optional<double> recall;
};

/// One query of a pass (--telemetry-queries): the per-query distribution behind the pass's sums.
struct QueryStats {
  uint64_t query_index = 0;  // row of the query in the scenario's query list
  int64_t query_id = -1;     // its dataset index (-1 for a fresh Euclidean query point)
  uint64_t pass_index = 0;   // the pass it was measured in (the last timed pass)
  uint64_t distance_evals = 0;
  double kth_distance = 0;  // distance to its k-th neighbour (+inf when fewer than k exist)
};

/// "ctb-YYYYMMDD-HHMMSS-xxxxxx" (UTC time + 6 random hex digits), like the reference's pcct-ids.
std::string make_run_id();

/// The configuration + seeds of `info` as the JSON object that run_hash covers.
nlohmann::json run_config_json(const RunInfo& info);

/// Names of every configuration field a run row can carry (the keys run_hash covers).
const std::vector<std::string>& run_config_keys();

/// sha256 hex of the canonical JSON (sorted keys, "," ":" separators) of
/// {"config": run_config_json(info), "schema_id": "covertree_bench.run_hash", "version": 1}.
std::string compute_run_hash(const RunInfo& info);

/// The row objects, exactly as written (before serialization).
nlohmann::json make_run_row(const RunInfo& info, const std::string& run_id,
                            const std::string& run_hash, size_t build_batches, size_t query_passes);
nlohmann::json make_build_batch_row(const RunInfo& info, const BuildBatchStats& b,
                                    const std::string& run_id, const std::string& run_hash);
nlohmann::json make_query_pass_row(const RunInfo& info, const QueryPassStats& q,
                                   const std::string& run_id, const std::string& run_hash);
nlohmann::json make_query_row(const QueryStats& q, const std::string& run_id,
                              const std::string& run_hash);

/// Collects the rows of one run and appends them to a JSONL file in one atomic step.
class TelemetryWriter {
 public:
  /// `run_id` empty -> make_run_id().
  explicit TelemetryWriter(RunInfo info, std::string run_id = {});

  const std::string& run_id() const { return run_id_; }
  /// compute_run_hash(info()): always reflects the configuration as it is now.
  std::string run_hash() const { return compute_run_hash(info_); }
  /// Headline figures are usually known only at the end: fill them in here before append_to.
  RunInfo& info() { return info_; }
  const RunInfo& info() const { return info_; }

  void add_build_batch(const BuildBatchStats& stats);
  void add_query_pass(const QueryPassStats& stats);
  void add_query(const QueryStats& stats);

  /// All rows, one per line, each ending in '\n': run row, build rows, query-pass rows, then
  /// per-query rows.
  std::string render() const;
  /// Appends render() to `path` as one contiguous batch, safe against concurrent appenders
  /// (append_lines_atomic). Returns warnings (a torn last line removed first), if any.
  std::vector<std::string> append_to(const std::filesystem::path& path) const;

 private:
  RunInfo info_;
  std::string run_id_;
  std::vector<BuildBatchStats> batches_;
  std::vector<QueryPassStats> passes_;
  std::vector<QueryStats> queries_;
};

}  // namespace ctb
