#include "tree/dense_scan.hpp"

#include <algorithm>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "search/brute_force.hpp"

namespace ctb {

void dense_scan(const MetricData& rows, std::span<const QueryRow> queries, std::vector<size_t> qidx,
                const DenseScanOptions& o, QueryCounters& counters, KnnResult& out) {
  const size_t n = rows.n;
  if (qidx.empty()) return;
  const int threads = std::max(1, o.threads);
  // Predecessor blocks need only the rows before their largest id: id-sorted blocks keep that
  // overshoot small (192 consecutive ids of an all-points job differ by 192 rows), and blocks
  // that do not depend on the thread count keep the counters independent of it. Otherwise
  // blocks of nearby queries (the caller's order).
  const bool by_id = o.predecessor && o.ascending_ids;
  if (by_id)
    std::sort(qidx.begin(), qidx.end(), [&](size_t a, size_t b) {
      return queries[a].id != queries[b].id ? queries[a].id < queries[b].id : a < b;
    });
  const std::vector<size_t> starts = balanced_query_blocks(qidx.size(), by_id ? 1 : threads, 192);
  const size_t blocks = starts.size() - 1;
  struct Scratch {
    std::vector<TopK> topk;
    std::vector<QueryRow> qs;
    std::vector<double> waste;
    double sink = 0.0;
    QueryCounters counters;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(std::min<size_t>(threads, blocks)));
  parallel_for(blocks, threads, o.cancel, [&](size_t blk, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    const size_t lo = starts[blk], nq = starts[blk + 1] - lo;
    s.qs.resize(nq);
    if (s.topk.size() < nq) s.topk.resize(nq);
    int64_t max_id = 0;
    for (size_t i = 0; i < nq; ++i) {
      s.qs[i] = queries[qidx[lo + i]];
      s.topk[i].reset(o.k);
      max_id = std::max(max_id, s.qs[i].id);
    }
    const size_t row_end =
        by_id ? std::min(n, static_cast<size_t>(std::max<int64_t>(0, max_id))) : n;
    size_t chunks = 0;
    distances_block_scan(rows, s.qs, 0, row_end,
                         [&](size_t b, size_t e, const double* d, size_t ld) {
                           if (++chunks % 256 == 0) throw_if_cancelled(o.cancel);
                           const size_t len = e - b;
                           for (double extra = o.inject_slowdown - 1.0; extra > 0.0; extra -= 1.0) {
                             s.waste.resize(nq * len);
                             distances_block(rows, s.qs, b, e, s.waste.data());
                             s.sink += s.waste[0];
                           }
                           const int64_t* ids = rows.ids.data();
                           for (size_t i = 0; i < nq; ++i) {
                             const double* di = d + i * ld;
                             TopK& t = s.topk[i];
                             const int64_t qid = s.qs[i].id;
                             double kth = t.kth();
                             for (size_t j = 0; j < len; ++j) {
                               if (di[j] > kth) continue;  // the common case, decided cheaply
                               if (o.predecessor && ids[b + j] >= qid) continue;
                               t.push(di[j], ids[b + j]);
                               kth = t.kth();
                             }
                             s.counters.add_block(len);
                           }
                         });
    for (size_t i = 0; i < nq; ++i) {
      s.topk[i].write(out, qidx[lo + i]);
      s.counters.distance_evals += row_end;
      s.counters.dense_evals += row_end;
      if (o.per_query_evals) o.per_query_evals[qidx[lo + i]] += row_end;
      ++s.counters.dense_fallbacks;
    }
  });
  double sink = 0.0;
  for (Scratch& s : scratch) {
    counters += s.counters;
    sink += s.sink;
  }
  [[maybe_unused]] volatile double slowdown_sink = sink;
}

}  // namespace ctb
