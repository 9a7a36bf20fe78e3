#pragma once
// The blocked scan of every row for a set of queries: the plan's `scan` choice and the dense
// phase of the searches. Several queries share each loaded chunk of rows (the block kernel, as
// the brute force), so a query no bound can serve costs what it costs the brute force.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/cancel.hpp"
#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"

namespace ctb {

struct DenseScanOptions {
  size_t k = 1;
  bool predecessor = false;   // only ids < the query's
  bool ascending_ids = true;  // rows in dataset order (ids 0..n-1): predecessor scans end early
  int threads = 1;
  double inject_slowdown = 1.0;         // perf-gate self-test: repeat the distance work
  const CancelToken* cancel = nullptr;  // checked between blocks and every 256 chunks
  uint64_t* per_query_evals = nullptr;  // optional: receives += each query's rows scanned
};

/// Answers queries[qidx[i]] into row qidx[i] of `out` by scanning `rows` (any order; with
/// `ascending_ids`, dataset order). Counters (dense_evals, distance_evals, dense_fallbacks, block
/// sizes) are added to `counters`; they depend on the queries only, not on the thread count.
void dense_scan(const MetricData& rows, std::span<const QueryRow> queries, std::vector<size_t> qidx,
                const DenseScanOptions& options, QueryCounters& counters, KnnResult& out);

}  // namespace ctb
