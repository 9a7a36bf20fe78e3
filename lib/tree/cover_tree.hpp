#pragma once
// A compressed cover tree, one node per point, as structure of arrays in node order.
// Node order is breadth-first, so the children of a node are one contiguous range of node ids
// and the metric rows (permuted into node order) of a tile of children are contiguous.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metric/metric.hpp"

namespace ctb {

struct CoverTree {
  // Per node (index = node id, 0 is the root):
  std::vector<int32_t> level;          // cover level; children have a strictly lower level
  std::vector<int32_t> parent;         // -1 for the root
  std::vector<int32_t> child_begin;    // children are node ids [child_begin, child_end)
  std::vector<int32_t> child_end;
  std::vector<double> radius;          // >= max d(node, descendant) in the query metric
  std::vector<double> parent_dist;     // d(parent, node) in the query metric (0 for root)
  std::vector<double> parent_min;      // min d(parent, j) over j in subtree(node) incl. node
  std::vector<double> parent_max;      // max d(parent, j) over j in subtree(node) incl. node
  std::vector<int64_t> subtree_min_id; // smallest dataset id in the subtree (incl. node)
  std::vector<int32_t> node_of_id;     // dataset id -> node id
  // Metric rows permuted into node order (rows.ids[node] is the node's dataset id).
  MetricData rows;

  size_t size() const { return level.size(); }
  int32_t depth() const;  // number of distinct levels on the longest root-to-leaf path
};

}  // namespace ctb
