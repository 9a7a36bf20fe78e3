#include "bench/memory_estimate.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "fmt/format.h"
#include "tree/hilbert_index.hpp"

namespace ctb {

MemoryEstimate estimate_memory(size_t n, size_t dim, size_t rank, size_t queries, size_t k,
                               bool tree, const BuildSpec& build) {
  MemoryEstimate e;
  const uint64_t stride = rank == 0 ? 0 : (rank + 7) / 8 * 8;          // padded V rows (metric.hpp)
  const uint64_t row = stride * 8 + (rank > 0 ? 8 : 0) + dim * 8 + 8;  // V, p, coords, id
  e.metric_bytes = n * row;
  if (tree && rank > 0) {
    // The pivot index (tree/hilbert_index.hpp): it reads the rows in place; per row its order,
    // position and rounding factor, the coordinate k-d tree's copy; per pivot and row an int16
    // correlation, per pivot and group of 16 (and super group) an int16 range, the Gram matrix.
    const uint64_t p = build.pivots > 0 ? std::min(build.pivots, n) : hilbert_pivot_count(n);
    e.tree_bytes = n * (4 + 4 + 8 + dim * 8 + 16);
    e.lists_bytes = p * n * 2 + p * ((n + 15) / 16) * 4 * 2 + p * p * 8;
  } else if (tree) {
    // Box tree: a permutation, the coordinates in leaf order, per-node boxes.
    e.tree_bytes = n * row + n * 10 * 8 + n * dim * 8 * 2;
  }
  e.answer_bytes = static_cast<uint64_t>(queries) * k * 16 * 2;
  return e;
}

uint64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream in(line);
    std::string key;
    uint64_t kib = 0;
    if (in >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

void check_memory(const MemoryEstimate& e, uint64_t available, const std::string& what) {
  if (available == 0 || e.total() <= available) return;
  const auto gib = [](uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); };
  throw InputError(fmt::format(
      "{}: needs an estimated {:.2f} GiB (metric rows {:.2f}, index {:.2f}, pivot rows {:.2f}, "
      "answers {:.2f}) but only {:.2f} GiB are available; use fewer points, a smaller "
      "residual.inducing_count or build.pivots",
      what, gib(e.total()), gib(e.metric_bytes), gib(e.tree_bytes), gib(e.lists_bytes),
      gib(e.answer_bytes), gib(available)));
}

MemoryEstimate times_ranks_on_host(MemoryEstimate e, int ranks, bool answers_per_rank) {
  const auto host = static_cast<uint64_t>(std::max(1, ranks));
  e.metric_bytes *= host;
  e.tree_bytes *= host;
  e.lists_bytes *= host;
  if (answers_per_rank) e.answer_bytes *= host;
  return e;
}

}  // namespace ctb
