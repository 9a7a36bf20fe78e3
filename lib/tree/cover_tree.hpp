#pragma once
// A compressed cover tree, one node per point, as structure of arrays in node order.
// Node order is breadth-first, so the children of a node are one contiguous range of node ids
// and the metric rows (permuted into node order) of a tile of children are contiguous.
//
// Exactness never depends on how the tree was built: after any build, `radius`, `parent_min`
// and `parent_max` are recomputed as TRUE extrema of distances evaluated in the query metric
// (the same kernel the search uses), so every prune in the search is a triangle-inequality
// bound on evaluated distances, not on the build's level bookkeeping.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/build_strategy.hpp"
#include "core/cancel.hpp"
#include "metric/metric.hpp"

namespace ctb {

// BuildStrategy (which metric the nested nets are formed in; radii are always in the query
// metric) and BatchOrder (scan order when centres are picked; the root is the first point) are
// in core/build_strategy.hpp, shared with the scenario schema.

struct BuildOptions {
  BuildStrategy strategy = BuildStrategy::euclidean_hybrid;
  BatchOrder batch_order = BatchOrder::natural;
  // Expansion base b (> 1): centres of level l are > b^l apart and cover their members within
  // b^l (build metric). Smaller bases give more levels with fewer children each.
  double base = kDefaultExpansionBase;
  int threads = 1;
  // Work-chunk size: the points whose owner is re-decided (one distance tile per point against
  // its group's new centres) are handed to threads in chunks of this many. Affects speed only;
  // the tree is identical for every batch_size and thread count.
  size_t batch_size = 512;
  // Set by another thread: the build stops between tasks with Cancelled (the Python module).
  const CancelToken* cancel = nullptr;
};

/// One level of the level-synchronous build (the lead maps these to "build batch" rows).
struct BuildLevelStats {
  int32_t level = 0;            // cover level l; separation/covering radius base^l (build metric)
  uint64_t active = 0;          // points not yet centres with positive distance to their owner
  uint64_t groups = 0;          // owner groups processed at this level
  uint64_t candidates = 0;      // points farther than 2^l from their owner
  uint64_t selected = 0;        // candidates that became centres (the greedy independent set)
  uint64_t dominated = 0;       // candidates - selected (attached to a new centre within 2^l)
  uint64_t distance_evals = 0;  // build-metric distances computed at this level
  double ms = 0.0;              // wall time of the level
};

struct EuclidIndex;  // tree/euclid_knn.hpp

struct CoverTree {
  // Per node (index = node id, 0 is the root):
  std::vector<int32_t> level;           // cover level; children have a strictly lower level
  double base = kDefaultExpansionBase;  // the build's expansion base (level l: base^l)
  std::vector<int32_t> parent;          // -1 for the root
  std::vector<int32_t> child_begin;     // children are node ids [child_begin, child_end)
  std::vector<int32_t> child_end;
  std::vector<double> radius;           // = max d(node, descendant) in the query metric
  std::vector<double> parent_dist;      // d(parent, node) in the query metric (0 for root)
  std::vector<double> parent_min;       // min d(parent, j) over j in subtree(node) incl. node
  std::vector<double> parent_max;       // max d(parent, j) over j in subtree(node) incl. node
  std::vector<int64_t> subtree_min_id;  // smallest dataset id in the subtree (incl. node)
  std::vector<int32_t> node_of_id;      // dataset id -> node id
  std::vector<int32_t> preorder_rank;   // node -> depth-first preorder position: nearby
                                        // ranks share ancestors (query scheduling key)
  // Metric rows permuted into node order (rows.ids[node] is the node's dataset id).
  MetricData rows;

  // Euclidean data only: the box tree that answers every Euclidean query (tree/euclid_knn.hpp).
  // Shared and immutable, so a CoverTree stays cheap to copy.
  std::shared_ptr<const EuclidIndex> euclid;

  // Build telemetry: one entry per level that had candidates, top level first.
  std::vector<BuildLevelStats> build_levels;
  double build_nets_ms = 0.0;   // nested-net construction (all levels)
  double build_radii_ms = 0.0;  // exact radii / parent bounds pass in the query metric

  size_t size() const { return level.size(); }
  int32_t depth() const;  // number of nodes on the longest root-to-leaf path
};

/// Builds the tree over `query_metric` (rows in dataset order, ids 0..n-1), forming the nets in
/// `build_metric` (same points and row order: Euclidean over the coordinates, or the query
/// metric itself). Deterministic: the same tree for any thread count and batch_size.
CoverTree build_cover_tree(const MetricData& query_metric, const MetricData& build_metric,
                           const BuildOptions& options);

/// Convenience: picks the build metric from options.strategy (coordinates for
/// euclidean_hybrid, the data itself for pure_residual or Euclidean data).
CoverTree build_cover_tree(const MetricData& data, const BuildOptions& options);

/// The batch order as a permutation of rows (position -> row). Exposed for tests.
std::vector<int32_t> batch_order_permutation(const MetricData& data, BatchOrder order);

/// Hilbert-curve index of a cell: `axes` (one value per dimension, each < 2^bits) are
/// transformed in place; dims * bits must be <= 64. Exposed for tests.
uint64_t hilbert_key(uint32_t* axes, int dims, int bits);

/// Structural and metric invariants; each violation is one message (empty = valid).
/// Recomputes every ancestor-descendant distance with distance_scalar: O(N * depth).
std::vector<std::string> check_tree_invariants(const CoverTree& tree);

}  // namespace ctb
