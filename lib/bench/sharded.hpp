#pragma once
// Exact k-NN with the rows sharded over ranks (docs/mpi.md): rank r holds one contiguous block
// of the points (a MetricData with local ids; global id = local + the block's first row), builds
// its own index over it and answers every query over its rows; the k best of all ranks are merged
// exactly, ties by global index, as one process would. The transfers go through a Collective, so
// the library never links MPI.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bench/runner.hpp"
#include "core/collective.hpp"
#include "metric/metric.hpp"
#include "search/counters.hpp"
#include "search/knn.hpp"

namespace ctb {

/// Rows [begin, end) of the dataset.
struct RowRange {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

/// Rank `rank` of `size`'s contiguous block of n rows (the first n % size ranks get one more).
RowRange shard_of(size_t n, int rank, int size);

/// Rows [begin, end) of `data` (coordinates, V, p; ids renumbered 0..end-begin-1, local).
MetricData slice_rows(const MetricData& data, size_t begin, size_t end);

/// The query rows every rank answers: for a dataset point, its coordinates, V row and p as the
/// rank holding it computed them (sent to all); for a fresh point (id -1), the coordinates every
/// rank already has. `rows` point into the vectors: not copyable.
struct SharedQueries {
  std::vector<double> coords;
  AlignedDoubles v;
  std::vector<QueryRow> rows;

  SharedQueries() = default;
  SharedQueries(const SharedQueries&) = delete;
  SharedQueries& operator=(const SharedQueries&) = delete;
};

/// Fills `out` with the queries `ids` (global dataset indices, -1 = the fresh point i of
/// `fresh_coords`, n_queries x dim) from the ranks' shards; `shard` covers `range`.
void share_query_rows(Collective& world, const MetricData& shard, RowRange range,
                      std::span<const int64_t> ids, const double* fresh_coords, SharedQueries& out);

/// Indices of the queries with any admissible row in `range` (all of them unless
/// `predecessor`: then those whose id is above range.begin).
std::vector<size_t> queries_with_rows(std::span<const QueryRow> queries, RowRange range,
                                      bool predecessor);

/// A query as this rank's index sees it: a shard's rows carry local ids 0..rows-1 (the indexes
/// want rows in dataset order), so a global id inside the shard becomes its local id, one past
/// it becomes `rows` (every row a predecessor; matches none), one before it (non-predecessor
/// mode) -1 (matches none). Ties keep their order: local = global - range.begin.
QueryRow local_query(const QueryRow& q, RowRange range, bool predecessor);

/// The rank that answers query i first (phase 1 of answer_sharded): the holder of its row, or
/// for a fresh point (id -1) rank i % size.
int query_owner(const QueryRow& q, size_t i, size_t n, int size);

/// Answers `queries` over this rank's rows and merges every rank's k best into rank 0's result
/// (the others get an empty one), in two phases. Phase 1: each rank answers the queries it owns
/// (query_owner); their k-th distances are shared. Phase 2: each rank answers the others' queries
/// under the owner's k-th distance as a known bound (`local`'s second argument; +inf = none), so
/// an index skips the seeds and prunes from the start: a query's fixed cost is paid once, not
/// once per rank. `local(rows, bounds)` is called with the admissible subset only, and may
/// ignore the bounds (the brute force does).
template <class Local>
KnnResult answer_sharded(Collective& world, std::span<const QueryRow> queries, RowRange range,
                         size_t n, size_t k, bool predecessor, Local&& local);

/// Rank 0: per query, the k best (distance, id) of all ranks' rows (each rank's `local` row
/// sorted, -1 / +inf padded), exactly as one process's TopK over all rows. Others: empty.
KnnResult merge_knn(Collective& world, const KnnResult& local);

/// Rank 0: the counters summed over the ranks (`queries` kept: each query counts once).
QueryCounters sum_counters(Collective& world, const QueryCounters& local);

/// Rank 0: every rank's figures, in rank order. Others: empty.
std::vector<RankStats> gather_rank_stats(Collective& world, const RankStats& mine);

/// A sharded run of `result.scenario` (options applied, `engine` resolved): run_scenario calls
/// this when options.collective has more than one rank.
void run_scenario_sharded(RunResult& result, const RunOptions& options, Collective& world);

// --- template -------------------------------------------------------------------------------

/// The owners' k-th distances of phase 1 (`answers` holds this rank's rows for `owned`), shared
/// with every rank: +inf where the owner has fewer than k.
std::vector<double> share_owner_kth(Collective& world, size_t n_queries,
                                    std::span<const size_t> owned, const KnnResult& answers);

template <class Local>
KnnResult answer_sharded(Collective& world, std::span<const QueryRow> queries, RowRange range,
                         size_t n, size_t k, bool predecessor, Local&& local) {
  const std::vector<size_t> active = queries_with_rows(queries, range, predecessor);
  std::vector<size_t> owned, others;
  for (const size_t i : active)
    (query_owner(queries[i], i, n, world.size()) == world.rank() ? owned : others).push_back(i);
  const auto answer = [&](const std::vector<size_t>& which, std::span<const double> bounds) {
    std::vector<QueryRow> rows;
    rows.reserve(which.size());
    for (const size_t i : which) rows.push_back(local_query(queries[i], range, predecessor));
    return rows.empty() ? KnnResult{} : local(std::span<const QueryRow>(rows), bounds);
  };
  const KnnResult first = answer(owned, {});
  const std::vector<double> owner_kth = share_owner_kth(world, queries.size(), owned, first);
  std::vector<double> bounds;
  bounds.reserve(others.size());
  for (const size_t i : others) bounds.push_back(owner_kth[i]);
  const KnnResult second = answer(others, bounds);

  KnnResult mine;
  mine.resize(queries.size(), k);
  const auto base = static_cast<int64_t>(range.begin);
  const auto place = [&](const std::vector<size_t>& which, const KnnResult& part) {
    for (size_t j = 0; j < which.size(); ++j) {
      for (size_t c = 0; c < k; ++c) {
        const int64_t id = part.indices[j * k + c];
        mine.indices[which[j] * k + c] = id < 0 ? id : id + base;  // back to global ids
        mine.distances[which[j] * k + c] = part.distances[j * k + c];
      }
    }
  };
  place(owned, first);
  place(others, second);
  return merge_knn(world, mine);
}

}  // namespace ctb
