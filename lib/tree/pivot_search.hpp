#pragma once
// The exact residual k-NN search of one query through pivot lists (see pivot_search.cpp).
// Internal to the tree module: tree_knn answers residual queries with it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {

struct PivotSearchParams {
  size_t k = 1;
  bool predecessor = false;     // only dataset ids < q.id are admissible
  size_t seed_rows = 128;       // Euclidean-nearest rows evaluated first (seed the k-th bound)
  size_t pivot_candidates = 8;  // Euclidean-nearest pivots evaluated
  size_t bound_pivots = 4;      // pivots whose windows are intersected
  size_t dense_after = std::numeric_limits<size_t>::max();  // candidates that mean "go dense"
  double slack = 1e-4;        // a bound prunes only when it exceeds kth by more than this
  double slowdown = 1.0;      // perf-gate self-test: repeat the distance work
  size_t survivor_cap = 0;    // APPROXIMATE: stop after this many evaluations (0 = off)
  size_t low_yield_stop = 0;  // APPROXIMATE: stop after this many dry tiles (0 = off)
};

/// Per-worker scratch, sized for one tree; nothing is allocated per query once warm.
struct PivotSearchScratch {
  TopK topk;
  std::vector<uint32_t> eval_mark;  // per node: == stamp when evaluated for this query
  std::vector<uint32_t> hit_mark;   // per node: == stamp when in the first window
  std::vector<uint8_t> hit_count;   // per node: windows holding it
  std::vector<double> hit_lb;       // per node: best lower bound so far
  uint32_t stamp = 0;
  struct Pivot {
    int32_t index;  // pivot index (its list)
    int32_t node;
    double r;  // d(q, pivot)
    size_t lo, hi;
  };
  struct Candidate {
    double lb;
    int32_t node;
  };
  std::vector<Pivot> pivots;   // evaluated near pivots
  std::vector<Pivot> windows;  // the usable ones, with their windows
  std::vector<Candidate> cands;
  std::vector<size_t> knn_idx;
  std::vector<double> knn_d2;
  std::vector<int32_t> tile;
  std::vector<double> tile_d;
  std::vector<double> waste;
  double sink = 0.0;
  QueryCounters counters;

  void prepare(size_t n);
};

enum class PivotSearchResult { exact, needs_dense };

/// Searches q through the tree's pivot lists; on `exact`, scratch.topk holds the answer
/// (dataset ids). On `needs_dense` no pivot could close the
/// bound (or the candidates passed dense_after): the caller answers q by a full scan.
PivotSearchResult pivot_search(const CoverTree& tree, const QueryRow& q,
                               const PivotSearchParams& params, PivotSearchScratch& s);

/// Every search evaluation goes through here: distances of `nodes` into `out`, the injected
/// slowdown's repeated work, and the tile-size histogram.
void evaluate_nodes(const MetricData& rows, const QueryRow& q, const int32_t* nodes, size_t count,
                    double* out, double slowdown, std::vector<double>& waste, double& sink,
                    QueryCounters& counters);

}  // namespace ctb
