#pragma once
// How a tree is built and which index answers: shared by the scenario schema (which names
// them) and the harness and tree (which obey them), so they live below all of them.
#include <optional>
#include <string_view>

namespace ctb {

enum class BuildStrategy {
  euclidean_hybrid,  // nets over the coordinates (cheap; residual neighbours are local, §9)
  pure_residual,     // nets in the query metric itself
};
enum class BatchOrder { natural, hilbert };

/// The order the cover-tree search evaluates a node's surviving children in (exact either way):
/// node order, or ascending parent-pivot lower bound (nearer subtrees tighten the k-th distance
/// sooner, so more siblings are pruned by their radius before they are queued).
enum class ChildOrder { natural, bound };

inline const char* to_string(ChildOrder order) {
  return order == ChildOrder::bound ? "bound" : "natural";
}

/// The cover tree's expansion base when build.base is not given (the classic cover tree's 2).
inline constexpr double kDefaultExpansionBase = 2.0;

inline const char* to_string(BuildStrategy strategy) {
  return strategy == BuildStrategy::pure_residual ? "pure-residual" : "euclidean-hybrid";
}
inline const char* to_string(BatchOrder order) {
  return order == BatchOrder::hilbert ? "hilbert" : "natural";
}

/// The index that answers the queries (query.engine, --engine). `automatic` is a request only:
/// it resolves to `pivot` for residual data and `box` for Euclidean data (resolve_engine in
/// scenario/scenario.hpp); what a run reports is always the resolved index.
enum class Engine {
  automatic,   // "auto" (also accepted: "tree"): the fastest exact index for the metric
  pivot,       // residual pivot lists (tree/pivot_search.cpp)
  box,         // Euclidean bounding-box tree (tree/euclid_knn.cpp)
  cover_tree,  // the cover tree's exact best-first search
  brute,       // the blocked brute-force scan (no index)
};

inline const char* to_string(Engine engine) {
  switch (engine) {
    case Engine::pivot:
      return "pivot";
    case Engine::box:
      return "box";
    case Engine::cover_tree:
      return "cover-tree";
    case Engine::brute:
      return "brute";
    case Engine::automatic:
      break;
  }
  return "auto";
}

/// The engine a name means ("tree" is an alias of "auto"); nullopt for an unknown name.
inline std::optional<Engine> parse_engine(std::string_view name) {
  if (name == "auto" || name == "tree") return Engine::automatic;
  if (name == "pivot") return Engine::pivot;
  if (name == "box") return Engine::box;
  if (name == "cover-tree") return Engine::cover_tree;
  if (name == "brute") return Engine::brute;
  return std::nullopt;
}

/// The names parse_engine accepts, for help texts and errors.
inline constexpr const char* kEngineNames = "auto, pivot, box, cover-tree, brute (tree = auto)";

}  // namespace ctb
