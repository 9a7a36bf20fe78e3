#include "search/brute_force.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"

namespace ctb {

// Queries per task: each pass over the rows serves this many queries, so V (128 MiB at gold
// size) streams from memory once per block rather than once per query. The kernel packs a
// block's queries once and walks the rows in chunks that stay in L2 while every query tile
// passes over them.
constexpr size_t kMaxQueryBlock = 192;
// The block kernels' register tiles hold 6 queries (AVX2, AVX-512; 4 on the portable
// fallback): blocks of a multiple of 6 keep them full.
constexpr size_t kQueryMultiple = 6;

std::vector<size_t> balanced_query_blocks(size_t n_queries, int threads, size_t max_block) {
  const size_t workers = static_cast<size_t>(std::max(1, threads));
  const size_t tiles = (n_queries + kQueryMultiple - 1) / kQueryMultiple;
  // Several blocks per worker (dynamic scheduling absorbs a slow core), none above the cap.
  size_t n_blocks = workers * 4;
  const size_t max_tiles =
      std::max<size_t>(1, std::min(max_block, kMaxQueryBlock) / kQueryMultiple);
  while ((tiles + n_blocks - 1) / n_blocks > max_tiles) n_blocks += workers;
  n_blocks = std::max<size_t>(1, std::min(n_blocks, tiles));
  std::vector<size_t> starts;
  for (size_t b = 0; b < n_blocks; ++b) {
    starts.push_back(std::min(n_queries, (tiles * b / n_blocks) * kQueryMultiple));
  }
  starts.push_back(n_queries);
  return starts;
}

KnnResult brute_force_knn(const MetricData& data, std::span<const QueryRow> queries,
                          const BruteForceOptions& options) {
  if (options.k == 0) throw InputError("brute force: k must be at least 1");
  KnnResult result;
  result.resize(queries.size(), options.k);
  if (queries.empty()) return result;

  const bool ascending_ids = std::is_sorted(data.ids.begin(), data.ids.end()) &&
                             std::adjacent_find(data.ids.begin(), data.ids.end()) == data.ids.end();
  const std::vector<size_t> starts = balanced_query_blocks(queries.size(), options.threads);
  const size_t n_blocks = starts.size() - 1;
  size_t block = 0;
  for (size_t b = 0; b < n_blocks; ++b) block = std::max(block, starts[b + 1] - starts[b]);
  const int workers = std::max(1, std::min<int>(options.threads, static_cast<int>(n_blocks)));

  std::vector<std::vector<TopK>> tops(static_cast<size_t>(workers), std::vector<TopK>(block));

  parallel_for(n_blocks, workers, options.cancel, [&](size_t task, int worker) {
    std::vector<TopK>& top = tops[static_cast<size_t>(worker)];
    const size_t q0 = starts[task];
    const size_t nq = starts[task + 1] - q0;
    const std::span<const QueryRow> qs = queries.subspan(q0, nq);
    for (size_t i = 0; i < nq; ++i) top[i].reset(options.k);

    // In predecessor mode with rows in dataset order, rows at or past the largest query id
    // can never qualify, so the scan stops there.
    size_t row_end = data.n;
    if (options.predecessor && ascending_ids) {
      int64_t max_id = -1;
      for (const QueryRow& q : qs) max_id = std::max(max_id, q.id);
      row_end = static_cast<size_t>(std::lower_bound(data.ids.begin(), data.ids.end(), max_id) -
                                    data.ids.begin());
    }

    // Each chunk of distances is offered to the top-k lists while it is still in cache.
    size_t chunks = 0;
    distances_block_scan(data, qs, 0, row_end,
                         [&](size_t r0, size_t r1, const double* dist, size_t ld) {
                           // A block against every row can take seconds at large n.
                           if (++chunks % 256 == 0) throw_if_cancelled(options.cancel);
                           const int64_t* ids = data.ids.data();
                           for (size_t i = 0; i < nq; ++i) {
                             TopK& t = top[i];
                             const double* d = dist + i * ld;
                             const int64_t qid = qs[i].id;
                             double kth = t.kth();
                             for (size_t j = 0; j < r1 - r0; ++j) {
                               if (d[j] > kth) continue;  // the common case, decided cheaply
                               if (options.predecessor && ids[r0 + j] >= qid) continue;
                               t.push(d[j], ids[r0 + j]);
                               kth = t.kth();
                             }
                           }
                         });
    for (size_t i = 0; i < nq; ++i) top[i].write(result, q0 + i);
  });
  return result;
}

}  // namespace ctb
