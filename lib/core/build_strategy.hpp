#pragma once
// How a tree is built: shared by the scenario schema (which names it) and the tree (which
// obeys it), so it lives below both.

namespace ctb {

enum class BuildStrategy {
  euclidean_hybrid,  // nets over the coordinates (cheap; residual neighbours are local, §9)
  pure_residual,     // nets in the query metric itself
};
enum class BatchOrder { natural, hilbert };

inline const char* to_string(BuildStrategy strategy) {
  return strategy == BuildStrategy::pure_residual ? "pure-residual" : "euclidean-hybrid";
}
inline const char* to_string(BatchOrder order) {
  return order == BatchOrder::hilbert ? "hilbert" : "natural";
}

}  // namespace ctb
