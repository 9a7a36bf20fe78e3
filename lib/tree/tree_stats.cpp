#include "tree/tree_stats.hpp"

#include <algorithm>
#include <map>

#include "metric/distance_kernels.hpp"

namespace ctb {
namespace {

/// The q-quantile (nearest rank) of `v`, which it reorders.
double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  const auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

struct WasteSum {
  uint64_t extra = 0;  // sibling balls beyond the point's own branch
  uint64_t pairs = 0;  // (point, ancestor) pairs
};

/// The waste figure (tree_stats.hpp): per level of the ancestor u, summed over the sample.
std::map<int32_t, WasteSum> sibling_overlap(const CoverTree& tree, uint64_t* sample) {
  std::map<int32_t, WasteSum> by_level;
  const size_t n = tree.size();
  const size_t stride = std::max<size_t>(1, (n + kWasteSample - 1) / kWasteSample);
  std::vector<int32_t> children;
  std::vector<double> d;
  *sample = 0;
  for (size_t id = 0; id < n; id += stride) {
    ++*sample;
    const int32_t x = tree.node_of_id[id];
    const QueryRow p = query_row(tree.rows, static_cast<size_t>(x));
    for (int32_t below = x, u = tree.parent[static_cast<size_t>(x)]; u >= 0;
         below = u, u = tree.parent[static_cast<size_t>(u)]) {
      const auto uu = static_cast<size_t>(u);
      const int32_t cb = tree.child_begin[uu], ce = tree.child_end[uu];
      children.clear();
      for (int32_t c = cb; c < ce; ++c)
        if (c != below) children.push_back(c);  // the own branch holds p by definition
      d.resize(children.size());
      if (!children.empty()) distances_to_rows(tree.rows, p, children, d.data());
      WasteSum& w = by_level[tree.level[uu]];
      for (size_t i = 0; i < children.size(); ++i)
        if (d[i] <= tree.radius[static_cast<size_t>(children[i])]) ++w.extra;
      ++w.pairs;
    }
  }
  return by_level;
}

}  // namespace

TreeStats tree_stats(const CoverTree& tree) {
  TreeStats st;
  const size_t n = tree.size();
  st.depth = tree.depth();
  st.nodes = n;
  if (n > 0) st.base = tree.base;
  uint64_t internal = 0, children = 0;
  struct Level {
    std::vector<double> radii;
    uint64_t internal = 0, children = 0, branching_max = 0;
  };
  std::map<int32_t, Level, std::greater<>> levels;  // top level first
  for (size_t u = 0; u < n; ++u) {
    const auto c = static_cast<uint64_t>(tree.child_end[u] - tree.child_begin[u]);
    Level& l = levels[tree.level[u]];
    if (c > 0) {
      ++internal;
      children += c;
      ++l.internal;
      l.children += c;
    }
    st.branching_max = std::max(st.branching_max, c);
    l.branching_max = std::max(l.branching_max, c);
    l.radii.push_back(tree.radius[u]);
  }
  st.branching_mean =
      internal > 0 ? static_cast<double>(children) / static_cast<double>(internal) : 0.0;
  const std::map<int32_t, WasteSum> waste = sibling_overlap(tree, &st.waste_sample);
  uint64_t extra = 0, pairs = 0;
  for (const auto& [level, w] : waste) {
    extra += w.extra;
    pairs += w.pairs;
  }
  st.waste = pairs > 0 ? static_cast<double>(extra) / static_cast<double>(pairs) : 0.0;
  for (auto& [level, l] : levels) {
    TreeLevelShape shape;
    shape.level = level;
    shape.nodes = l.radii.size();
    shape.internal = l.internal;
    shape.branching_mean =
        l.internal > 0 ? static_cast<double>(l.children) / static_cast<double>(l.internal) : 0.0;
    shape.branching_max = l.branching_max;
    shape.radius_p10 = quantile(l.radii, 0.1);
    shape.median_radius = quantile(l.radii, 0.5);
    shape.radius_p90 = quantile(l.radii, 0.9);
    shape.radius_max = *std::max_element(l.radii.begin(), l.radii.end());
    if (const auto it = waste.find(level); it != waste.end() && it->second.pairs > 0) {
      shape.waste = static_cast<double>(it->second.extra) / static_cast<double>(it->second.pairs);
      shape.waste_pairs = it->second.pairs;
    }
    st.levels.push_back(shape);
  }
  st.build_nets_ms = tree.build_nets_ms;
  st.build_radii_ms = tree.build_radii_ms;
  const auto bytes = [](const auto& v) { return static_cast<uint64_t>(v.size() * sizeof(v[0])); };
  st.bytes = bytes(tree.rows.v) + bytes(tree.rows.coords) + bytes(tree.rows.p) +
             bytes(tree.rows.ids) + 10 * bytes(tree.level);
  return st;
}

}  // namespace ctb
