#include "tree/tree_stats.hpp"

#include <algorithm>
#include <map>

namespace ctb {

TreeStats tree_stats(const CoverTree& tree) {
  TreeStats st;
  const size_t n = tree.size();
  st.depth = tree.depth();
  uint64_t internal = 0, children = 0;
  std::map<int32_t, std::vector<double>, std::greater<>> radii;  // top level first
  for (size_t u = 0; u < n; ++u) {
    const auto c = static_cast<uint64_t>(tree.child_end[u] - tree.child_begin[u]);
    if (c > 0) {
      ++internal;
      children += c;
    }
    st.branching_max = std::max(st.branching_max, c);
    radii[tree.level[u]].push_back(tree.radius[u]);
  }
  st.branching_mean =
      internal > 0 ? static_cast<double>(children) / static_cast<double>(internal) : 0.0;
  for (auto& [level, r] : radii) {
    std::nth_element(r.begin(), r.begin() + static_cast<long>(r.size() / 2), r.end());
    st.levels.push_back({level, r.size(), r[r.size() / 2]});
  }
  st.build_nets_ms = tree.build_nets_ms;
  st.build_radii_ms = tree.build_radii_ms;
  const auto bytes = [](const auto& v) { return static_cast<uint64_t>(v.size() * sizeof(v[0])); };
  st.bytes = bytes(tree.rows.v) + bytes(tree.rows.coords) + bytes(tree.rows.p) +
             bytes(tree.rows.ids) + 10 * bytes(tree.level);
  return st;
}

}  // namespace ctb
