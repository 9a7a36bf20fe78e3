#pragma once
// Tree-quality figures (the roadmap's depth, branching factor and "waste" profile): how the
// tree is shaped per level, what each build phase cost, and how the pivot lists cover the data.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tree/cover_tree.hpp"

namespace ctb {

struct TreeLevelShape {
  int32_t level = 0;           // cover level (2^level in the build metric)
  uint64_t nodes = 0;          // nodes at this level
  double median_radius = 0.0;  // median true radius (query metric) of this level's nodes
};

struct TreeStats {
  int64_t depth = 0;                   // nodes on the longest root-to-leaf path
  double branching_mean = 0.0;         // children per internal node
  uint64_t branching_max = 0;          // most children of one node
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
