#pragma once
// The audit's groups of checks, internal to the audit module. Each group is a separate file so
// the tree checks see only the tree's headers and the reference checks only the NPY reader.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "audit/audit.hpp"
#include "bench/tree_engine.hpp"
#include "metric/metric.hpp"
#include "scenario/scenario.hpp"
#include "search/knn.hpp"

namespace ctb {
struct CoverTree;
}

namespace ctb::audit {

/// How the index is built, as plain values (the scenario's BuildSpec, without the schema).
struct TreeBuildParams {
  BuildSpec spec;  // the scenario's build section, as `run` uses it
  int threads = 1;
  Engine engine = Engine::automatic;  // query.engine (resolved on the data's metric)
  size_t index_samples = 64;          // pivots (etc.) sampled by the index.* checks
};

struct TreeRun {
  Engine engine = Engine::pivot;  // the index that answered (resolved)
  KnnResult answer;               // the index's answer with default search settings (as `run`)
  KnnResult answer_no_fallback;   // the same with the dense fallback off: pure index pruning
  std::vector<Check> checks;      // the index's invariants (index.*) and the cover tree's (tree.*)
  int32_t depth = 0;
};

/// Builds the index the engine names over `data` as `run` does (build_index_engine), answers
/// `queries` through `run`'s query path (query_tree_engine; twice: as `run` does, and with the
/// dense fallback disabled so every answer comes from the index's pruning), and checks the
/// index that answered (index.*: pivot lists, box index, cover tree) and, where one was built,
/// the cover tree's invariants independently of the tree module, then with its own checker.
TreeRun run_tree(const MetricData& data, const TreeBuildParams& params,
                 std::span<const QueryRow> queries, const TreeQueryKnobs& query);

/// index.pivot_rows: on `samples` pivots of the Hilbert-bound index (evenly spread), that
/// every stored int16 correlation is within half a step (kRhoStep) of a fresh evaluation, that
/// it lies inside its group's and super group's range, that the pivots' Gram matrix equals a
/// fresh evaluation and is symmetric, and that the per-group rounding factors bound their rows:
/// what the search's bound relies on.
Check check_pivot_rows(const HilbertIndex& index, const MetricData& data, size_t samples,
                       int threads);

/// Stored index distances must agree with a fresh evaluation to this (the kernels give a pair
/// the same bits on a target; the pivot search prunes with a 1e-4 slack, far above it).
inline constexpr double kIndexTolerance = 1e-9;

/// Invariants of a built tree: root, structure, levels, radii, parent bounds, subtree minima.
std::vector<Check> check_tree(const CoverTree& tree, int threads);

/// Metric sanity on sampled rows: d(i,i) = 0, symmetry, range, the triangle inequality within
/// the rounding error of the three distances, and (residual) p_i = max(k(x_i,x_i)-|V_i|^2, 1e-9).
/// `exact` (the brute-force answer for `query_ids`) supplies close triples, where the triangle
/// inequality is tightest.
std::vector<Check> check_metric(const MetricData& data, std::span<const int64_t> query_ids,
                                const KnnResult& exact, size_t samples, uint64_t seed, int threads);

/// An upper bound on the rounding error of a computed residual distance d(i, j) (rows of
/// `data`), from the error of the length-m dot product and of p. Exposed for tests.
double residual_distance_error_bound(const MetricData& data, size_t i, size_t j, double d);

/// The reference's exported inputs and answers (layout of covertreex gold/inputs/).
struct ReferenceFiles {
  std::string dir;
  std::vector<size_t> points_shape;
  std::vector<double> points;
  std::vector<int64_t> query_ids;
  std::vector<int64_t> inducing;
  std::vector<double> p;  // p_diag.npy (float32 widened)
  KnnResult exact_f64;    // bruteforce_residual_f64_{indices,distances}.npy
  KnnResult approx_f32;   // bruteforce_residual_{indices,distances}.npy
};

/// Reads the reference directory. Throws InputError naming the missing or malformed file.
ReferenceFiles load_reference(const std::string& dir);

/// Parity checks against the reference, plus the reported figures for its float32 answer.
void check_reference(const ReferenceFiles& ref, std::span<const double> points,
                     std::span<const int64_t> query_ids, std::span<const int64_t> inducing,
                     const MetricData& data, const KnnResult& ours, AuditReport& report);

}  // namespace ctb::audit
