#pragma once
// Tree-quality figures (the roadmap's depth, branching factor and "waste" profile): how the
// tree is shaped per level, what each build phase cost, and how the pivot lists cover the data.
//
// Waste (docs/telemetry.md): for a fixed sample of points p (every ceil(n / kWasteSample)-th
// dataset id) and every node u on p's path to the root, the number of u's children c OTHER
// than the one whose subtree holds p with d(p, c) <= radius(c): the sibling cover balls that
// also hold p, i.e. the subtrees a search for p cannot rule out by their radius alone. The
// mean over all (p, u) pairs; 0 = disjoint sibling balls. Distances are the query metric's
// kernel, so the figure is deterministic and costs sample x depth x branching evaluations.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tree/cover_tree.hpp"

namespace ctb {

/// Points the waste figure samples (at most; all of them when n is smaller).
inline constexpr size_t kWasteSample = 1024;

struct TreeLevelShape {
  int32_t level = 0;            // cover level (base^level in the build metric)
  uint64_t nodes = 0;           // nodes at this level
  uint64_t internal = 0;        // ... of them with children
  double branching_mean = 0.0;  // children per internal node of this level
  uint64_t branching_max = 0;   // most children of one node of this level
  double radius_p10 = 0.0;      // true radius (query metric) of this level's nodes: 10th
  double median_radius = 0.0;   // ... 50th
  double radius_p90 = 0.0;      // ... 90th percentile
  double radius_max = 0.0;      // ... and the largest
  double waste = 0.0;           // mean sibling balls also holding a sampled point, u here
  uint64_t waste_pairs = 0;     // (sampled point, node of this level) pairs behind it
};

struct TreeStats {
  int64_t depth = 0;                   // nodes on the longest root-to-leaf path
  uint64_t nodes = 0;                  // nodes of the cover tree (0 for the other indexes)
  double base = 0.0;                   // the build's expansion base (0: no cover tree)
  double branching_mean = 0.0;         // children per internal node
  uint64_t branching_max = 0;          // most children of one node
  double waste = 0.0;                  // see the file comment (all levels)
  uint64_t waste_sample = 0;           // sampled points behind it
  std::vector<TreeLevelShape> levels;  // top level first
  double build_nets_ms = 0.0;          // nested nets
  double build_radii_ms = 0.0;         // exact radii and parent bounds
  double build_pivots_ms = 0.0;        // the pivot index (all its phases)
  uint64_t pivots = 0;                 // pivot lists: pivots P
  uint64_t pivot_list = 0;             // ... rows per list M
  double pivot_cover_radius = 0.0;     // ... max distance of a row to its nearest pivot
  uint64_t bytes = 0;                  // memory of the tree's arrays (rows, lists, index)
  std::string index;                   // the index that answers (e.g. "pivot")
  std::string pivot_rule;              // how its pivot count was chosen
};

TreeStats tree_stats(const CoverTree& tree);

}  // namespace ctb
