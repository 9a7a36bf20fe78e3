#pragma once
// Exact brute-force k-NN over every row: the ground truth for the tree and the in-run
// reference for speed ratios. Blocked for the cache (several queries share each loaded block
// of rows), multi-threaded over query blocks, same distance kernel as the tree.
#include <span>
#include <vector>

#include "core/cancel.hpp"
#include "metric/metric.hpp"
#include "search/knn.hpp"

namespace ctb {

struct BruteForceOptions {
  size_t k = 1;                         // neighbours per query
  bool predecessor = false;             // query with dataset id i returns only ids j < i
  int threads = 1;                      // worker threads
  const CancelToken* cancel = nullptr;  // set by another thread: the scan throws Cancelled
};

/// queries[i] is answered in row i of the result (dataset indices, sorted by (distance, id)).
KnnResult brute_force_knn(const MetricData& data, std::span<const QueryRow> queries,
                          const BruteForceOptions& options);

/// Query blocks for a blocked scan over all rows (brute force, the tree's dense phase): a
/// multiple of the thread count (every worker gets the same number, several each so dynamic
/// scheduling absorbs a slow core), each a whole number of 6-query register tiles and at most
/// min(max_block, 192) queries, as equal as possible. Returns the first query of every block,
/// then n_queries.
std::vector<size_t> balanced_query_blocks(size_t n_queries, int threads, size_t max_block = 192);

}  // namespace ctb
