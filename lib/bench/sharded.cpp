#include "bench/sharded.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "bench/memory_estimate.hpp"
#include "bench/progress.hpp"
#include "bench/tree_engine.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "fmt/format.h"
#include "scenario/dataset.hpp"
#include "search/brute_force.hpp"
#include "tree/hilbert_index.hpp"

namespace ctb {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class T>
std::vector<T> from_bytes(const std::vector<uint8_t>& bytes, size_t offset, size_t count) {
  std::vector<T> out(count);
  if (count > 0) std::memcpy(out.data(), bytes.data() + offset, count * sizeof(T));
  return out;
}

}  // namespace

RowRange shard_of(size_t n, int rank, int size) {
  const auto r = static_cast<size_t>(rank);
  const auto s = static_cast<size_t>(std::max(1, size));
  const size_t base = n / s, extra = n % s;
  RowRange range;
  range.begin = r * base + std::min(r, extra);
  range.end = range.begin + base + (r < extra ? 1 : 0);
  return range;
}

MetricData slice_rows(const MetricData& data, size_t begin, size_t end) {
  MetricData out;
  out.kind = data.kind;
  out.kernel = data.kernel;
  out.n = end - begin;
  out.dim = data.dim;
  out.rank = data.rank;
  out.v_stride = data.v_stride;
  const auto b = static_cast<ptrdiff_t>(begin), e = static_cast<ptrdiff_t>(end);
  const auto dim = static_cast<ptrdiff_t>(data.dim), stride = static_cast<ptrdiff_t>(data.v_stride);
  out.coords.assign(data.coords.begin() + b * dim, data.coords.begin() + e * dim);
  if (!data.v.empty()) out.v.assign(data.v.begin() + b * stride, data.v.begin() + e * stride);
  if (!data.p.empty()) out.p.assign(data.p.begin() + b, data.p.begin() + e);
  out.ids.resize(out.n);
  for (size_t i = 0; i < out.n; ++i) out.ids[i] = static_cast<int64_t>(i);
  return out;
}

QueryRow local_query(const QueryRow& q, RowRange range, bool predecessor) {
  QueryRow l = q;
  if (q.id < 0) return l;
  const auto id = static_cast<size_t>(q.id);
  if (id >= range.begin && id < range.end) {
    l.id = static_cast<int64_t>(id - range.begin);
  } else if (id >= range.end) {
    l.id = static_cast<int64_t>(range.size());
  } else {
    l.id = predecessor ? 0 : -1;  // predecessor queries before the shard are never asked
  }
  return l;
}

void share_query_rows(Collective& world, const MetricData& shard, RowRange range,
                      std::span<const int64_t> ids, const double* fresh_coords,
                      SharedQueries& out) {
  const size_t nq = ids.size(), dim = shard.dim;
  const bool residual = shard.kind == MetricKind::residual;
  const size_t stride = residual ? shard.v_stride : 0;
  // One record per query this rank holds: its position, coordinates, V row, p.
  const size_t record = 1 + dim + stride + (residual ? 1 : 0);
  std::vector<double> mine;
  for (size_t i = 0; i < nq; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || static_cast<size_t>(id) < range.begin || static_cast<size_t>(id) >= range.end)
      continue;
    const size_t row = static_cast<size_t>(id) - range.begin;
    mine.push_back(static_cast<double>(i));
    mine.insert(mine.end(), shard.coord_row(row), shard.coord_row(row) + dim);
    if (residual) {
      mine.insert(mine.end(), shard.v_row(row), shard.v_row(row) + stride);
      mine.push_back(shard.p[row]);
    }
  }
  const std::vector<uint8_t> all = world.allgather(as_bytes_of(std::span<const double>(mine)));
  const std::vector<double> records = from_bytes<double>(all, 0, all.size() / sizeof(double));

  out.coords.assign(nq * dim, 0.0);
  out.v.assign(nq * stride, 0.0);
  out.rows.assign(nq, QueryRow{});
  std::vector<double> p(nq, 1.0);
  std::vector<uint8_t> seen(nq, 0);
  for (size_t at = 0; at + record <= records.size(); at += record) {
    const auto i = static_cast<size_t>(records[at]);
    std::copy_n(records.begin() + static_cast<ptrdiff_t>(at + 1), dim,
                out.coords.begin() + static_cast<ptrdiff_t>(i * dim));
    if (residual) {
      std::copy_n(records.begin() + static_cast<ptrdiff_t>(at + 1 + dim), stride,
                  out.v.begin() + static_cast<ptrdiff_t>(i * stride));
      p[i] = records[at + 1 + dim + stride];
    }
    seen[i] = 1;
  }
  for (size_t i = 0; i < nq; ++i) {
    QueryRow& q = out.rows[i];
    q.id = ids[i];
    if (ids[i] < 0) {
      if (fresh_coords == nullptr)
        throw InputError("sharded query: a fresh point without coordinates");
      std::copy_n(fresh_coords + i * dim, dim,
                  out.coords.begin() + static_cast<ptrdiff_t>(i * dim));
    } else if (seen[i] == 0) {
      throw InputError(fmt::format("sharded query: no rank holds dataset row {}", ids[i]));
    }
    q.coords = out.coords.data() + i * dim;
    q.v = residual ? out.v.data() + i * stride : nullptr;
    q.p = residual ? p[i] : 1.0;
  }
}

std::vector<size_t> queries_with_rows(std::span<const QueryRow> queries, RowRange range,
                                      bool predecessor) {
  std::vector<size_t> active;
  active.reserve(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    // Predecessor mode admits rows with id < q.id: none here when q.id <= range.begin.
    if (predecessor && (range.size() == 0 || queries[i].id <= static_cast<int64_t>(range.begin)))
      continue;
    if (!predecessor && range.size() == 0) continue;
    active.push_back(i);
  }
  return active;
}

int query_owner(const QueryRow& q, size_t i, size_t n, int size) {
  if (q.id < 0) return static_cast<int>(i % static_cast<size_t>(std::max(1, size)));
  // The inverse of shard_of: the first n % size ranks hold base + 1 rows.
  const auto s = static_cast<size_t>(std::max(1, size));
  const size_t base = n / s, extra = n % s, id = static_cast<size_t>(q.id);
  const size_t wide = extra * (base + 1);
  return static_cast<int>(id < wide ? id / (base + 1)
                                    : extra + (id - wide) / std::max<size_t>(1, base));
}

std::vector<double> share_owner_kth(Collective& world, size_t n_queries,
                                    std::span<const size_t> owned, const KnnResult& answers) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> mine(n_queries, kInf);
  const size_t k = answers.k;
  for (size_t j = 0; j < owned.size(); ++j) {
    if (answers.indices[j * k + k - 1] >= 0) mine[owned[j]] = answers.distances[j * k + k - 1];
  }
  const std::vector<uint8_t> all = world.allgather(as_bytes_of(std::span<const double>(mine)));
  std::vector<double> kth(n_queries, kInf);
  for (size_t at = 0; at + n_queries * sizeof(double) <= all.size();
       at += n_queries * sizeof(double)) {
    const std::vector<double> theirs = from_bytes<double>(all, at, n_queries);
    for (size_t i = 0; i < n_queries; ++i) kth[i] = std::min(kth[i], theirs[i]);
  }
  return kth;
}

KnnResult merge_knn(Collective& world, const KnnResult& local) {
  const size_t nq = local.n_queries, k = local.k;
  std::vector<uint8_t> mine(nq * k * 16);
  if (nq * k > 0) {
    std::memcpy(mine.data(), local.indices.data(), nq * k * 8);
    std::memcpy(mine.data() + nq * k * 8, local.distances.data(), nq * k * 8);
  }
  std::vector<size_t> counts;
  const std::vector<uint8_t> all = world.gather(mine, &counts);
  KnnResult out;
  if (world.rank() != 0) return out;
  out.resize(nq, k);
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<double>> dists;
  size_t offset = 0;
  for (const size_t c : counts) {
    if (c != nq * k * 16) throw std::runtime_error("merge_knn: ranks answered different queries");
    ids.push_back(from_bytes<int64_t>(all, offset, nq * k));
    dists.push_back(from_bytes<double>(all, offset + nq * k * 8, nq * k));
    offset += c;
  }
  TopK top;
  for (size_t q = 0; q < nq; ++q) {
    top.reset(k);
    for (size_t r = 0; r < ids.size(); ++r) {
      for (size_t c = 0; c < k; ++c) {
        const int64_t id = ids[r][q * k + c];
        if (id < 0) break;  // padding comes last
        const double d = dists[r][q * k + c];
        if (top.full() && d > top.kth()) break;  // the rest of this sorted row is worse
        top.push(d, id);
      }
    }
    top.write(out, q);
  }
  return out;
}

QueryCounters sum_counters(Collective& world, const QueryCounters& local) {
  static_assert(std::is_trivially_copyable_v<QueryCounters>);
  const std::vector<uint8_t> all =
      world.gather(as_bytes_of(std::span<const QueryCounters>(&local, 1)));
  QueryCounters total;
  if (world.rank() != 0) return total;
  for (size_t at = 0; at + sizeof(QueryCounters) <= all.size(); at += sizeof(QueryCounters)) {
    QueryCounters c;
    std::memcpy(&c, all.data() + at, sizeof(QueryCounters));
    total += c;
  }
  total.queries = local.queries;
  return total;
}

std::vector<RankStats> gather_rank_stats(Collective& world, const RankStats& mine) {
  static_assert(std::is_trivially_copyable_v<RankStats>);
  const std::vector<uint8_t> all = world.gather(as_bytes_of(std::span<const RankStats>(&mine, 1)));
  std::vector<RankStats> out;
  if (world.rank() != 0) return out;
  out.resize(all.size() / sizeof(RankStats));
  std::memcpy(out.data(), all.data(), out.size() * sizeof(RankStats));
  return out;
}

void run_scenario_sharded(RunResult& result, const RunOptions& options, Collective& world) {
  Scenario& scenario = result.scenario;
  const Engine engine = result.engine;
  const int rank = world.rank(), size = world.size();
  if (options.compare_nanoflann || options.openblas_peer || options.per_query_telemetry) {
    throw InputError(
        "--compare-nanoflann, --compare-openblas and --telemetry-queries run in one process "
        "only (not under mpirun)");
  }
  Progress progress(options.progress && rank == 0);
  const auto status = [&](const std::string& s) {
    progress.status(fmt::format("{} [rank 0 of {}]: {}", scenario.name, size, s));
  };
  // "all" cores: this host's cores shared by the ranks on it.
  const int threads = scenario.threads > 0
                          ? scenario.threads
                          : std::max(1, hardware_threads() / std::max(1, world.local_size()));
  result.threads = threads;
  result.world_size = size;

  status("loading data");
  auto t0 = Clock::now();
  const Dataset dataset = materialize(scenario);
  result.data_seconds = seconds_since(t0);
  if (scenario.k < 1 || scenario.k > dataset.n) {
    throw InputError(fmt::format("{}: field 'k': must be between 1 and n = {} (got {})",
                                 scenario.source, dataset.n, scenario.k));
  }
  const RowRange range = shard_of(dataset.n, rank, size);
  const size_t m = scenario.metric == MetricKind::residual ? dataset.inducing.size() : 0;
  BuildSpec build = scenario.build;
  const bool auto_pivots = build.pivots == 0 && scenario.metric == MetricKind::residual;
  if (auto_pivots) build.pivots = hilbert_pivot_count(dataset.n, range.size());
  {
    // This rank's rows and every query's row, times the ranks sharing this host's memory.
    MemoryEstimate e = estimate_memory(range.size(), dataset.dim, m, dataset.n_queries(),
                                       scenario.k, engine != Engine::brute, build);
    e.metric_bytes += dataset.n_queries() * ((m + 7) / 8 * 8 + dataset.dim + 2) * 8;
    const int host = std::max(1, world.local_size());
    e = times_ranks_on_host(e, host, true);
    check_memory(e, available_memory_bytes(),
                 fmt::format("{} (rank {} of {}: rows [{}, {}), {} ranks on this host)",
                             scenario.source, rank, size, range.begin, range.end, host));
  }

  MetricData data;
  if (scenario.metric == MetricKind::residual) {
    status(
        fmt::format("residual backend (V, p) of rows [{}, {}), m = {}", range.begin, range.end, m));
    const ResidualParams params = residual_params(scenario.residual);
    t0 = Clock::now();
    data = build_residual_rows(dataset.points, dataset.dim, dataset.inducing, params, threads,
                               range.begin, range.end);
    for (int64_t& id : data.ids) id -= static_cast<int64_t>(range.begin);  // local ids
    result.backend_seconds = seconds_since(t0);
  } else {
    const std::span<const double> points(dataset.points);
    data = make_euclidean(points.subspan(range.begin * dataset.dim, range.size() * dataset.dim),
                          dataset.dim);
  }
  result.n_points = dataset.n;
  result.dim = dataset.dim;
  result.n_queries = dataset.n_queries();

  std::vector<int64_t> query_ids = dataset.query_ids;
  if (query_ids.empty()) query_ids.assign(dataset.n_queries(), -1);
  SharedQueries shared;
  share_query_rows(world, data, range, query_ids, dataset.query_points.data(), shared);
  const std::span<const QueryRow> queries(shared.rows);
  const size_t k = scenario.k;
  const bool predecessor = scenario.query.predecessor;

  TreeEnginePtr tree;
  if (engine != Engine::brute) {
    status(fmt::format("building the {} index over rows [{}, {})", to_string(engine), range.begin,
                       range.end));
    t0 = Clock::now();
    tree =
        build_index_engine(data, engine, build, threads, &result.build_batches, &result.tree_depth);
    result.build_seconds = seconds_since(t0);
    result.tree_stats = tree_engine_stats(*tree);
    if (auto_pivots && tree_engine_pivot_index(*tree) != nullptr) {
      result.tree_stats->pivot_rule = fmt::format(
          "auto, sharded: the pivot-row budget of one process over N = {} (P x rows as N / 16 "
          "within [64, 2048] x N), at most a quarter of this rank's {} rows, within 2 GiB -> {} "
          "pivots",
          dataset.n, range.size(), build.pivots);
    }
  }
  const double my_build_seconds = result.build_seconds;
  if (options.fail_rank == rank) {
    throw std::runtime_error(fmt::format(
        "--fail-rank {}: rank {} of {} raises an error after its build (the error path's test)",
        rank, rank, size));
  }
  TreeQueryKnobs knobs = tree_query_knobs(scenario, threads);
  knobs.inject_slowdown = options.inject_slowdown;
  BruteForceOptions brute;
  brute.k = k;
  brute.predecessor = predecessor;
  brute.threads = threads;

  // One pass: every rank answers over its rows, rank 0 merges (its clock includes the wait for
  // the slowest rank and the transfer).
  QueryCounters last_local;
  const auto pass = [&](bool use_brute, QueryCounters* counters) {
    world.barrier();
    const auto start = Clock::now();
    QueryCounters local;
    KnnResult merged =
        answer_sharded(world, queries, range, dataset.n, k, predecessor,
                       [&](std::span<const QueryRow> qs, std::span<const double> bounds) {
                         if (use_brute) return brute_force_knn(data, qs, brute);
                         QueryCounters c;
                         KnnResult r = query_tree_engine(*tree, qs, knobs, &c, nullptr, bounds);
                         local += c;
                         return r;
                       });
    const double seconds = seconds_since(start);
    local.queries = queries.size();
    if (counters != nullptr) {
      last_local = local;
      *counters = sum_counters(world, local);
    }
    return std::make_pair(seconds, std::move(merged));
  };

  const size_t passes = scenario.warmup + scenario.repeat;
  for (size_t p = 0; p < passes; ++p) {
    const bool warm = p < scenario.warmup;
    status(fmt::format("{} pass {}/{}", warm ? "warm-up" : "timed",
                       warm ? p + 1 : p - scenario.warmup + 1,
                       warm ? scenario.warmup : scenario.repeat));
    QueryCounters counters;
    auto [seconds, answer] = pass(engine == Engine::brute, &counters);
    if (engine == Engine::brute) counters = QueryCounters{};
    result.passes.push_back(PassRecord{warm, seconds, counters});
    if (!warm) {
      result.query_seconds.push_back(seconds);
      if (engine != Engine::brute) result.pass_counters.push_back(counters);
      if (p + 1 == passes) result.answer = std::move(answer);
    }
  }

  if (options.compare_brute) {
    KnnResult truth;
    std::vector<double> times;
    for (size_t p = 0; p < passes; ++p) {
      status(fmt::format("brute force pass {}/{}", p + 1, passes));
      auto [seconds, answer] = pass(true, nullptr);
      if (p < scenario.warmup) continue;
      times.push_back(seconds);
      if (p + 1 == passes) truth = std::move(answer);
    }
    result.brute_seconds = times;
    if (rank == 0) result.recall_vs_brute = recall_at_k(result.answer, truth);
  }
  progress.clear();

  // The job's build is as long as its slowest rank's.
  RankStats mine;
  mine.rank = rank;
  mine.rows = range.size();
  mine.build_seconds = my_build_seconds;
  mine.distance_evals = last_local.distance_evals;
  mine.bytes_sent = world.bytes_sent();
  mine.peak_rss_bytes = peak_rss_bytes();
  result.ranks = gather_rank_stats(world, mine);
  result.peak_rss_bytes = mine.peak_rss_bytes;
  for (const RankStats& r : result.ranks) {
    result.build_seconds = std::max(result.build_seconds, r.build_seconds);
    result.peak_rss_bytes = std::max(result.peak_rss_bytes, r.peak_rss_bytes);
  }
}

}  // namespace ctb
