#pragma once
// Exact Euclidean k-NN specialised for small dimensions: a bounding-box tree with leaf buckets
// (see euclid_knn.cpp for the design, what was measured and why). Built by build_cover_tree
// (and build_euclid_tree) for Euclidean data; tree_knn answers such trees through euclid_knn.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"
#include "tree/cover_tree.hpp"

namespace ctb {

struct TreeQueryOptions;

/// The Euclidean index: a binary tree over the points, nodes in depth-first preorder (a
/// node's left child is the next node, so a subtree is one contiguous node range), every
/// node with the TIGHT bounding box of its points, split at the median of its widest axis.
/// Points are stored in leaf order; each leaf's coordinates are one contiguous block in
/// structure-of-arrays form (all x_0, then all x_1, ...), so a leaf scan is a vector loop.
struct EuclidIndex {
  size_t n = 0;                      // points
  size_t dim = 0;                    // coordinate dimension
  size_t leaf_size = 0;              // leaves hold at most this many points
  std::vector<int32_t> node_begin;   // node -> first point (leaf order)
  std::vector<int32_t> node_end;     // node -> one past its last point
  std::vector<int32_t> node_right;   // right child (left child = node + 1); -1 for a leaf
  std::vector<double> node_box;      // node -> lo[dim] then hi[dim]
  std::vector<int64_t> node_min_id;  // smallest dataset id in the node (predecessor pruning)
  // Point p (leaf order) of leaf [b, e), coordinate a: leaf_coords[b * dim + a * (e - b) + p - b].
  std::vector<double> leaf_coords;
  std::vector<int64_t> ids;  // leaf order -> dataset id
  int32_t depth = 0;         // nodes on the longest root-to-leaf path

  size_t nodes() const { return node_right.size(); }
};

/// Builds the index over Euclidean `data` (any row order; ids travel with the rows).
/// Deterministic: the same index for any thread count.
EuclidIndex build_euclid_index(const MetricData& data, int threads);

/// A CoverTree holding only the Euclidean index (no cover-tree nodes: size() is 0): what the
/// harness builds for Euclidean data, since Euclidean queries use only the index and the
/// cover tree's own build is ~10x nanoflann's at 1m points (measured; euclid_knn.cpp).
/// build_cover_tree builds both (the cover tree for its invariant checks and audits).
CoverTree build_euclid_tree(const MetricData& data, const BuildOptions& options);

/// Structural and box invariants (empty = valid): every point in exactly one leaf, boxes are
/// the tight boxes of their points, children partition their parent, min ids correct.
std::vector<std::string> check_euclid_index(const EuclidIndex& index, const MetricData& data);

/// Exact k-NN (unless an approximate budget of `options` is on): queries[i] is answered in
/// row i, (distance, id) order with ties by the lower id, the same bits as brute_force_knn.
/// Honours k, predecessor, threads, survivor_cap, low_yield_stop, inject_slowdown and
/// dense_fallback_evals (0 = automatic: never, see euclid_knn.cpp). `counters` (optional)
/// receives the sum over queries; identical for any thread count.
KnnResult euclid_knn(const EuclidIndex& index, std::span<const QueryRow> queries,
                     const TreeQueryOptions& options, QueryCounters* counters = nullptr);

}  // namespace ctb
