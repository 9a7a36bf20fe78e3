#include "search/brute_force.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"

namespace ctb {

namespace {

// Queries per task: each pass over the rows serves this many queries, so V (128 MiB at gold
// size) streams from memory once per block rather than once per query.
constexpr size_t kMaxQueryBlock = 64;
// Rows per distances_block call: the distance buffer (block x rows) stays small next to the
// V rows in L2.
constexpr size_t kRowBlock = 128;

size_t query_block_size(size_t n_queries, int threads) {
  // Enough blocks that every worker gets several (dynamic scheduling evens out the tail);
  // a multiple of 4 keeps the kernels' register tiles full.
  const size_t want_blocks = static_cast<size_t>(std::max(1, threads)) * 4;
  const size_t per_block = (n_queries + want_blocks - 1) / want_blocks;
  return std::clamp<size_t>((per_block + 3) / 4 * 4, 4, kMaxQueryBlock);
}

}  // namespace

KnnResult brute_force_knn(const MetricData& data, std::span<const QueryRow> queries,
                          const BruteForceOptions& options) {
  if (options.k == 0) throw InputError("brute force: k must be at least 1");
  KnnResult result;
  result.resize(queries.size(), options.k);
  if (queries.empty()) return result;

  const bool ascending_ids = std::is_sorted(data.ids.begin(), data.ids.end()) &&
                             std::adjacent_find(data.ids.begin(), data.ids.end()) == data.ids.end();
  const size_t block = query_block_size(queries.size(), options.threads);
  const size_t n_blocks = (queries.size() + block - 1) / block;
  const int workers = std::max(1, std::min<int>(options.threads, static_cast<int>(n_blocks)));

  struct Scratch {
    std::vector<double> dist;
    std::vector<TopK> top;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(workers));
  for (Scratch& s : scratch) {
    s.dist.resize(block * kRowBlock);
    s.top.resize(block);
  }

  parallel_for(n_blocks, workers, options.cancel, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t q0 = task * block;
    const size_t nq = std::min(block, queries.size() - q0);
    const std::span<const QueryRow> qs = queries.subspan(q0, nq);
    for (size_t i = 0; i < nq; ++i) s.top[i].reset(options.k);

    // In predecessor mode with rows in dataset order, rows at or past the largest query id
    // can never qualify, so the scan stops there.
    size_t row_end = data.n;
    if (options.predecessor && ascending_ids) {
      int64_t max_id = -1;
      for (const QueryRow& q : qs) max_id = std::max(max_id, q.id);
      row_end = static_cast<size_t>(std::lower_bound(data.ids.begin(), data.ids.end(), max_id) -
                                    data.ids.begin());
    }

    for (size_t r0 = 0; r0 < row_end; r0 += kRowBlock) {
      // A block of queries against every row can take seconds at large n: check here too.
      if ((r0 / kRowBlock) % 64 == 0) throw_if_cancelled(options.cancel);
      const size_t r1 = std::min(row_end, r0 + kRowBlock);
      const size_t width = r1 - r0;
      distances_block(data, qs, r0, r1, s.dist.data());
      for (size_t i = 0; i < nq; ++i) {
        TopK& top = s.top[i];
        const double* d = s.dist.data() + i * width;
        const int64_t qid = qs[i].id;
        for (size_t j = 0; j < width; ++j) {
          const int64_t id = data.ids[r0 + j];
          if (options.predecessor && id >= qid) continue;
          if (d[j] <= top.kth()) top.push(d[j], id);
        }
      }
    }
    for (size_t i = 0; i < nq; ++i) s.top[i].write(result, q0 + i);
  });
  return result;
}

}  // namespace ctb
