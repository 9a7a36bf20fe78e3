#include "bench/memory_estimate.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "fmt/format.h"

namespace ctb {

MemoryEstimate estimate_memory(size_t n, size_t dim, size_t rank, size_t queries, size_t k,
                               bool tree, const BuildSpec& build) {
  MemoryEstimate e;
  const uint64_t stride = rank == 0 ? 0 : (rank + 7) / 8 * 8;          // padded V rows (metric.hpp)
  const uint64_t row = stride * 8 + (rank > 0 ? 8 : 0) + dim * 8 + 8;  // V, p, coords, id
  e.metric_bytes = n * row;
  if (tree) {
    // Rows permuted into node order, ~10 per-node arrays, the coordinate copy of the index.
    e.tree_bytes = n * row + n * 10 * 8 + n * dim * 8 * 2;
    if (rank > 0 && build.pivots > 0) {
      const uint64_t p = std::min(build.pivots, n), m = std::min(build.pivot_list, n);
      e.lists_bytes = p * m * 12 + (p > 0 ? n * 16 : 0);  // + the picking's per-row arrays
    }
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
      "{}: needs an estimated {:.2f} GiB (metric rows {:.2f}, tree {:.2f}, pivot lists {:.2f}, "
      "answers {:.2f}) but only {:.2f} GiB are available; use fewer points, a smaller "
      "residual.inducing_count or build.pivot_list",
      what, gib(e.total()), gib(e.metric_bytes), gib(e.tree_bytes), gib(e.lists_bytes),
      gib(e.answer_bytes), gib(available)));
}

}  // namespace ctb
