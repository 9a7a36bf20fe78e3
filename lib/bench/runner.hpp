#pragma once
// Runs a scenario end to end: data, residual backend, tree build, warm-up and timed query
// passes, optional in-process brute force and nanoflann comparisons. The harness (timing,
// repetitions, fingerprint) is kept apart from what it measures (the engines).
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/progress.hpp"
#include "bench/tree_engine.hpp"
#include "core/collective.hpp"
#include "nlohmann/json.hpp"
#include "scenario/dataset.hpp"
#include "scenario/scenario.hpp"
#include "search/brute_force.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "telemetry/telemetry.hpp"
#include "tree/tree_stats.hpp"

namespace ctb {

// Engine (which index answers: pivot, box, cover-tree, brute; auto resolves to one of them)
// is in core/build_strategy.hpp, shared with the scenario schema (query.engine).

/// An exact brute force by another implementation, timed beside ours in the same process
/// (--compare-openblas). Supplied by the binary that links it (lib/peer), so this library
/// never depends on OpenBLAS.
struct PeerKnn {
  std::string description;  // e.g. "OpenBLAS 0.3.21 ...", for the summary
  std::function<KnnResult(const MetricData&, std::span<const QueryRow>, const BruteForceOptions&)>
      knn;
};

struct RunOptions {
  std::optional<Engine> engine;                 // --engine (overrides query.engine)
  std::optional<int> threads;                   // --threads (overrides the scenario)
  std::optional<size_t> repeat;                 // --repeat
  std::optional<size_t> warmup;                 // --warmup
  std::optional<BuildStrategy> build_strategy;  // --build-strategy
  bool compare_brute = false;                   // --compare-brute
  bool compare_nanoflann = false;               // --compare-nanoflann (Euclidean only)
  std::optional<PeerKnn> openblas_peer;         // --compare-openblas (residual only)
  double inject_slowdown = 1.0;                 // --inject-slowdown: tree does ~FACTOR x work
  bool progress = true;                         // status line on a terminal
  bool per_query_telemetry = false;             // --telemetry-queries: per-query counts
  // Sharded over processes (docs/mpi.md): the other ranks (nullptr or size 1: one process).
  Collective* collective = nullptr;
  int fail_rank = -1;  // --fail-rank R: rank R throws after its build (tests the error path)
};

/// One rank of a sharded run (summary `ranks`); one entry, rank 0, in one process.
struct RankStats {
  int64_t rank = 0;
  uint64_t rows = 0;  // its contiguous block of the points
  double build_seconds = 0;
  uint64_t distance_evals = 0;  // its share of the last timed pass
  uint64_t bytes_sent = 0;      // handed to the collective transfers
  uint64_t peak_rss_bytes = 0;
};

/// One query pass, warm-up or timed, in the order run.
struct PassRecord {
  bool warmup = false;
  double seconds = 0;
  QueryCounters counters;  // tree engine only (zeros for brute)
};

struct RunResult {
  Scenario scenario;  // as run (after overrides)
  // The index that answered: pivot, box, cover-tree or brute (never automatic).
  Engine engine = Engine::pivot;
  int threads = 1;
  size_t n_points = 0;
  size_t dim = 0;
  size_t n_queries = 0;
  double data_seconds = 0;                     // generating or loading inputs
  double backend_seconds = 0;                  // residual V and p
  double build_seconds = 0;                    // tree construction (0 for brute)
  std::vector<double> query_seconds;           // every timed pass
  std::vector<QueryCounters> pass_counters;    // per timed pass (tree engine)
  std::vector<PassRecord> passes;              // every pass, warm-ups included
  std::vector<BuildBatchStats> build_batches;  // the whole build (levels, then phases), as rows
  int64_t tree_depth = 0;
  std::optional<TreeStats> tree_stats;  // tree engine: its shape, build phases and pivots
  uint64_t peak_rss_bytes = 0;          // the process's peak resident set at the end of the run
  int world_size = 1;                   // processes the rows were sharded over (mpirun -np)
  std::vector<RankStats> ranks;         // sharded runs: every rank's figures (rank 0 only)
  KnnResult answer;                     // from the last timed pass
  bool approximate = false;             // an approximate budget was on
  // --compare-brute
  std::optional<std::vector<double>> brute_seconds;
  std::optional<double> recall_vs_brute;
  // --compare-nanoflann
  std::optional<std::vector<double>> nanoflann_seconds;
  std::optional<double> nanoflann_build_seconds;
  std::optional<double> recall_vs_nanoflann;
  // --telemetry-queries: each query's distance evaluations in the last timed pass (tree engine)
  std::vector<uint64_t> per_query_evals;
  std::vector<int64_t> query_ids;  // ... and the queries' dataset ids (-1: a fresh point)
  // A point of a `sweep`: the sweep's id and the fields this point set (telemetry run row).
  std::string sweep_id;
  nlohmann::json sweep_set;
  // --compare-openblas
  std::optional<std::vector<double>> openblas_seconds;
  std::optional<double> recall_vs_openblas;
  std::optional<double> openblas_max_distance_error;
  std::string openblas_description;

  double query_seconds_best() const;
  double query_seconds_median() const;
  double qps_best() const;
};

/// Runs `scenario` with `options`. Throws InputError on bad input.
RunResult run_scenario(const Scenario& scenario, const RunOptions& options);

/// A scenario's inputs as the engines see them: the dataset, the metric rows (residual V and p
/// computed) and the query rows, which point into `dataset` and `data` (so this is move-only:
/// moving keeps the vectors' buffers, copying would leave the rows pointing at the original).
struct PreparedInputs {
  Dataset dataset;
  MetricData data;
  std::vector<QueryRow> queries;
  int threads = 1;             // workers resolved from the scenario (0 = all cores)
  double data_seconds = 0;     // generating or loading inputs
  double backend_seconds = 0;  // residual V and p

  PreparedInputs() = default;
  PreparedInputs(PreparedInputs&&) = default;
  PreparedInputs& operator=(PreparedInputs&&) = default;
  PreparedInputs(const PreparedInputs&) = delete;
  PreparedInputs& operator=(const PreparedInputs&) = delete;
};

/// The first stages of run_scenario: inputs, backend and query rows (k checked against n).
PreparedInputs prepare_inputs(const Scenario& scenario, Progress* progress = nullptr,
                              bool with_tree = true);

/// The scenario's query passes on a built tree (scenario.warmup untimed, then scenario.repeat
/// timed) recorded into `result`: passes, query_seconds, pass_counters and the last timed
/// pass's answer; with `per_query_evals`, that pass's per-query distance evaluations too.
void run_tree_passes(const TreeEngine& engine, std::span<const QueryRow> queries,
                     const TreeQueryKnobs& knobs, const Scenario& scenario, RunResult& result,
                     bool per_query_evals = false, Progress* progress = nullptr);

/// `warmup` untimed then `repeat` timed brute-force passes (the tree's passes get the same
/// warm-up); returns the timed passes' seconds and keeps the last answer.
std::vector<double> time_brute_passes(const MetricData& data, std::span<const QueryRow> queries,
                                      size_t k, bool predecessor, int threads, size_t repeat,
                                      KnnResult* answer, Progress* progress = nullptr,
                                      size_t warmup = 0);

/// The scenario's query passes answered by the brute force (engine brute), recorded into
/// `result` as run_tree_passes records the tree's (zero counters).
void run_brute_passes(const MetricData& data, std::span<const QueryRow> queries,
                      const Scenario& scenario, int threads, RunResult& result,
                      Progress* progress = nullptr);

/// The summary JSON (issue fields: scenario, engine, metric, n_points, ..., git_revision).
nlohmann::json summary_json(const RunResult& result);

/// The tree-quality figures as JSON (summary and telemetry run row): shape per level, build
/// phases, pivots, and the share of distance evaluations per search phase of `counters`.
nlohmann::json tree_quality_json(const TreeStats& stats, const QueryCounters* counters);

/// `--engine E` over a scenario (run, audit): sets query.engine, or InputError naming the flag
/// when the metric cannot use that engine.
void apply_engine_option(Scenario& scenario, const std::optional<Engine>& engine);

/// Peak resident set size of this process so far (bytes; 0 where unknown).
uint64_t peak_rss_bytes();

/// A short human summary (several lines).
std::string summary_text(const RunResult& result);

/// Appends the run's telemetry (run row, one row per build batch, one per query pass, and one
/// per query with --telemetry-queries) to the JSONL file at `path` as one contiguous batch.
/// Returns the append's warnings (a torn last line removed), for stderr.
std::vector<std::string> append_run_telemetry(const RunResult& result, const std::string& path);

/// The scenario's queries as the kernels see them: dataset rows of `data` for residual (and
/// "all") queries, fresh coordinates (id -1) for generated Euclidean queries.
std::vector<QueryRow> make_query_rows(const MetricData& data, const Dataset& dataset);

/// Fraction of `got`'s neighbour ids (ignoring -1 padding) found in the same row of `truth`.
double recall_at_k(const KnnResult& got, const KnnResult& truth);

/// Recall of `theirs` against `ours` under the cross-implementation rule of spec §2: an id of
/// theirs counts when it is in our row, or when its distance lies within `tol` of our k-th
/// distance (a boundary tie another summation order may break the other way). 1.0 when the
/// rule holds for every row. `max_distance_error` (optional) gets the largest rank-wise
/// |delta| of the sorted distances (padding against padding counts 0).
double recall_cross_implementation(const KnnResult& theirs, const KnnResult& ours, double tol,
                                   double* max_distance_error = nullptr);

}  // namespace ctb
