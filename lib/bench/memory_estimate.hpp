#pragma once
// What a run will hold in memory, estimated before anything big is allocated, so a run that
// cannot fit is refused with the estimate (exit 2) instead of being killed by the kernel.
#include <cstddef>
#include <cstdint>
#include <string>

#include "scenario/scenario.hpp"

namespace ctb {

struct MemoryEstimate {
  uint64_t metric_bytes = 0;  // the metric rows in dataset order (V, p, coordinates, ids)
  uint64_t tree_bytes = 0;    // the tree: rows again in node order, node arrays, k-d trees
  uint64_t lists_bytes = 0;   // pivot lists (P x M x 12 bytes)
  uint64_t answer_bytes = 0;  // answers (Q x k indices and distances, twice with a comparison)
  uint64_t total() const { return metric_bytes + tree_bytes + lists_bytes + answer_bytes; }
};

/// The estimate for n points of `dim` coordinates, `rank` = m columns of V (0 = Euclidean),
/// `queries` x `k` answers, with or without a tree built by `build`.
MemoryEstimate estimate_memory(size_t n, size_t dim, size_t rank, size_t queries, size_t k,
                               bool tree, const BuildSpec& build);

/// MemAvailable of /proc/meminfo in bytes (0 when unknown).
uint64_t available_memory_bytes();

/// Throws InputError naming `what`, the estimate and its parts when it exceeds `available`
/// (0 = unknown: no check).
void check_memory(const MemoryEstimate& estimate, uint64_t available, const std::string& what);

/// The estimate of one rank times the `ranks` ranks that share this host's memory (a sharded
/// job, docs/mpi.md): each holds its own rows and index; the answers are per rank when
/// `answers_per_rank` (a sharded `run` keeps every query's local answer on every rank), else
/// held by rank 0 alone (the `knn` job keeps only rounds elsewhere).
MemoryEstimate times_ranks_on_host(MemoryEstimate estimate, int ranks, bool answers_per_rank);

}  // namespace ctb
