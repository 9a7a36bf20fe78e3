// The sharded answer (bench/sharded.hpp) without MPI: ranks as threads over an in-process
// Collective, each holding one contiguous block of rows and its own pivot index. The two-phase
// answer (owners first, then the others under the owners' k-th distances) equals brute force
// over all rows, in both query modes and for 1 to 3 ranks; the owner map inverts shard_of; the
// shard pivot rule keeps one process's budget. (tests/mpi/test_mpi.sh runs the real thing.)
#include <gtest/gtest.h>

#include <barrier>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/sharded.hpp"
#include "bench/tree_engine.hpp"
#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "tree/hilbert_index.hpp"

namespace ctb {
namespace {

// `size` ranks as threads: every transfer is a rendezvous of all of them.
struct ThreadWorld {
  explicit ThreadWorld(int size) : size(size), sync(size), slots(static_cast<size_t>(size)) {}
  int size;
  std::barrier<> sync;
  std::vector<std::vector<uint8_t>> slots;
};

class ThreadCollective : public Collective {
 public:
  ThreadCollective(ThreadWorld& world, int rank) : w_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return w_.size; }
  std::vector<uint8_t> allgather(std::span<const uint8_t> mine,
                                 std::vector<size_t>* counts) override {
    w_.slots[static_cast<size_t>(rank_)].assign(mine.begin(), mine.end());
    w_.sync.arrive_and_wait();
    std::vector<uint8_t> all;
    if (counts != nullptr) counts->clear();
    for (const auto& s : w_.slots) {
      all.insert(all.end(), s.begin(), s.end());
      if (counts != nullptr) counts->push_back(s.size());
    }
    w_.sync.arrive_and_wait();  // nobody overwrites a slot before every rank has read it
    return all;
  }
  std::vector<uint8_t> gather(std::span<const uint8_t> mine, std::vector<size_t>* counts) override {
    std::vector<uint8_t> all = allgather(mine, counts);
    if (rank_ != 0) {
      all.clear();
      if (counts != nullptr) counts->clear();
    }
    return all;
  }
  void barrier() override { w_.sync.arrive_and_wait(); }

 private:
  ThreadWorld& w_;
  int rank_;
};

MetricData residual_data(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n * 2);
  for (double& v : x) v = normal(rng);
  std::vector<int64_t> inducing;
  for (size_t i = 0; i < 40; ++i) inducing.push_back(static_cast<int64_t>(i * (n / 40)));
  ResidualParams params;
  return build_residual(x, 2, inducing, params, 1);
}

// Every rank's share of the answer, merged on rank 0, with the pivot index (bounds used) or the
// brute force (bounds ignored) answering each shard.
// `index_only`: no scans (the plan and the per-query fallback off), so the bounds are exercised
// at this small size.
KnnResult sharded_answer(const MetricData& all, std::span<const QueryRow> queries, int ranks,
                         size_t k, bool pred, bool brute, bool index_only,
                         QueryCounters* rank0_counters) {
  ThreadWorld world(ranks);
  KnnResult merged;
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ThreadCollective comm(world, r);
      const RowRange range = shard_of(all.n, r, ranks);
      const MetricData shard = slice_rows(all, range.begin, range.end);
      BuildSpec build;
      build.pivots = hilbert_pivot_count(all.n, range.size());
      TreeEnginePtr tree;
      if (!brute) tree = build_index_engine(shard, Engine::pivot, build, 1, nullptr, nullptr);
      TreeQueryKnobs knobs;
      knobs.k = k;
      knobs.predecessor = pred;
      knobs.threads = 1;
      if (index_only) knobs.dense_fallback_evals = std::numeric_limits<size_t>::max();
      QueryCounters counters;
      KnnResult out =
          answer_sharded(comm, queries, range, all.n, k, pred,
                         [&](std::span<const QueryRow> qs, std::span<const double> bounds) {
                           if (brute) {
                             BruteForceOptions bf;
                             bf.k = k;
                             bf.predecessor = pred;
                             return brute_force_knn(shard, qs, bf);
                           }
                           QueryCounters c;
                           KnnResult res = query_tree_engine(*tree, qs, knobs, &c, nullptr, bounds);
                           counters += c;
                           return res;
                         });
      if (r == 0) {
        merged = std::move(out);
        if (rank0_counters != nullptr) *rank0_counters = counters;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return merged;
}

TEST(Sharded, QueryOwnerInvertsShardOf) {
  for (size_t n : {1, 2, 7, 100, 1001})
    for (int size = 1; size <= 5; ++size) {
      for (int r = 0; r < size; ++r) {
        const RowRange range = shard_of(n, r, size);
        for (size_t id = range.begin; id < range.end; ++id) {
          QueryRow q;
          q.id = static_cast<int64_t>(id);
          ASSERT_EQ(query_owner(q, 0, n, size), r) << "n=" << n << " size=" << size;
        }
      }
      QueryRow fresh;
      fresh.id = -1;
      for (size_t i = 0; i < 10; ++i)
        EXPECT_EQ(query_owner(fresh, i, n, size), static_cast<int>(i % static_cast<size_t>(size)));
    }
}

TEST(Sharded, ShardPivotRuleKeepsOneProcessBudget) {
  EXPECT_EQ(hilbert_pivot_count(32768, 32768), hilbert_pivot_count(32768));
  EXPECT_EQ(hilbert_pivot_count(32768, 16384), 4096u);  // 2,048 x 32,768 over 16,384 rows
  EXPECT_EQ(hilbert_pivot_count(32768, 10923), 2720u);  // a quarter of the rows
  // 2M points on two ranks: the 2 GiB cap of each rank's 1M rows, as one process at 1M.
  EXPECT_EQ(hilbert_pivot_count(2097152, 1048576), hilbert_pivot_count(1048576));
  for (size_t rows : {1, 10, 64, 300, 5000}) {
    const size_t p = hilbert_pivot_count(100000, rows);
    EXPECT_GE(p, 1u);
    EXPECT_LE(p, rows);
  }
}

TEST(Sharded, TwoPhaseAnswerEqualsBruteForceOverAllRows) {
  const MetricData all = residual_data(6000, 5);
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < all.n; i += 37) queries.push_back(query_row(all, i));
  for (bool pred : {false, true})
    for (int ranks : {1, 2, 3}) {
      const size_t k = 16;
      BruteForceOptions bf;
      bf.k = k;
      bf.predecessor = pred;
      const KnnResult truth = brute_force_knn(all, queries, bf);
      const std::string w = "pred=" + std::to_string(pred) + " ranks=" + std::to_string(ranks);
      for (int how = 0; how < 3; ++how) {
        const bool brute = how == 2, index_only = how == 0;
        QueryCounters c;
        const KnnResult got = sharded_answer(all, queries, ranks, k, pred, brute, index_only, &c);
        ASSERT_EQ(got.indices, truth.indices) << w << " how=" << how;
        for (size_t i = 0; i < got.distances.size(); ++i) {
          if (std::isinf(truth.distances[i])) {
            ASSERT_TRUE(std::isinf(got.distances[i])) << w;
          } else {
            ASSERT_LE(std::fabs(got.distances[i] - truth.distances[i]), 1e-12) << w;
          }
        }
        // Phase 2 skips the seeds: with more than one rank, rank 0 seeds only the queries it
        // owns (at most 3 growing rounds of 128 seed rows each; a third of them or so).
        if (index_only && ranks > 1 && !pred) {
          EXPECT_GT(c.seed_evals, 0u) << w;
          EXPECT_LT(c.seed_evals, queries.size() * 128) << w;
        }
      }
    }
}

}  // namespace
}  // namespace ctb
