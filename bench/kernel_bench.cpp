// Micro-benchmark of the distance kernels (Google Benchmark), beside OpenBLAS's DGEMM on the
// same shapes. Built by the release preset only (CTB_KERNEL_BENCH); see the README.
//
//   build/release/kernel-bench                       # everything, then a summary table
//   build/release/kernel-bench --benchmark_filter='m:512/'
//
// Kernels, for every Highway target this CPU supports (dispatch forced per benchmark):
//   block      distances_block: kQueries queries x kRows rows, the whole residual distance
//   dots       dots_block: the same shape, the V.V products alone (the GEMM part)
//   one_query  distances_to_range: one query against kOneRows rows, kOneQueries times
//   dgemm      cblas_dgemm on the block's shape (C = Q_V * R_V^T, k = m), and with M = 1 for
//              one_query (OpenBLAS's own threads: 1, or 2 for the threads:2 rows)
// GFLOP/s counts 2 m flops per (query, row) pair for every kernel, i.e. the dot product only
// (the kernel term and the finish come on top for `block` and `one_query`, unpaid). Single
// thread rates use CPU time (robust on a shared machine); two-thread rates use wall time.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <fmt/format.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "metric/metric.hpp"

extern "C" void openblas_set_num_threads(int);  // OpenBLAS extension, not in every cblas.h
extern "C" char* openblas_get_config(void);

namespace {

constexpr size_t kQueries = 192;   // block: queries (32 register tiles of 6)
constexpr size_t kRows = 16384;    // block: rows (64 MiB of V at m = 512)
constexpr size_t kOneQueries = 8;  // one_query: queries per iteration
constexpr size_t kOneRows = 4096;  // one_query: rows (16 MiB of V at m = 512: L3-resident)
const std::vector<size_t> kRanks = {64, 200, 512, 1024};

// Residual data with random V (|V_i|^2 ~ 0.5 of the variance, so p ~ 0.5), n rows.
const ctb::MetricData& data_for(size_t m) {
  static std::map<size_t, std::unique_ptr<ctb::MetricData>> cache;
  auto& slot = cache[m];
  if (!slot) {
    const size_t n = kRows;
    std::mt19937_64 gen(m);
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    std::vector<double> coords(n * 3);
    for (double& c : coords) c = unit(gen);
    const double scale = std::sqrt(1.5 / static_cast<double>(m));
    std::vector<double> v(n * m);
    for (double& x : v) x = unit(gen) * scale;
    std::vector<double> p(n);
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t k = 0; k < m; ++k) s += v[i * m + k] * v[i * m + k];
      p[i] = std::max(1.0 - s, 1e-9);
    }
    ctb::KernelParams kernel;
    slot = std::make_unique<ctb::MetricData>(ctb::residual_from_vp(coords, 3, v, m, p, kernel));
  }
  return *slot;
}

std::vector<ctb::QueryRow> queries_for(const ctb::MetricData& data, size_t count) {
  std::vector<ctb::QueryRow> qs;
  for (size_t i = 0; i < count; ++i) qs.push_back(ctb::query_row(data, (i * 7919) % data.n));
  return qs;
}

void set_rate(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

struct Forced {
  explicit Forced(int64_t target) { ctb::force_simd_target(target); }
  ~Forced() { ctb::reset_simd_target(); }
};

enum class Kernel { block, dots, one_query };

void bench_ours(benchmark::State& state, Kernel kernel, int64_t target, size_t m, int threads) {
  const ctb::MetricData& data = data_for(m);
  const Forced forced(target);
  if (kernel == Kernel::one_query) {
    const std::vector<ctb::QueryRow> qs = queries_for(data, kOneQueries * threads);
    std::vector<double> out(static_cast<size_t>(threads) * kOneRows);
    for (auto _ : state) {
      ctb::parallel_for(static_cast<size_t>(threads), threads, [&](size_t t, int) {
        for (size_t i = 0; i < kOneQueries; ++i) {
          ctb::distances_to_range(data, qs[t * kOneQueries + i], 0, kOneRows,
                                  out.data() + t * kOneRows);
        }
      });
      benchmark::DoNotOptimize(out.data());
    }
    set_rate(state, 2.0 * static_cast<double>(m * kOneRows * kOneQueries * threads));
    return;
  }
  const std::vector<ctb::QueryRow> qs = queries_for(data, kQueries);
  std::vector<double> out(kQueries * kRows);
  const size_t per = kQueries / static_cast<size_t>(threads);
  for (auto _ : state) {
    ctb::parallel_for(static_cast<size_t>(threads), threads, [&](size_t t, int) {
      const std::span<const ctb::QueryRow> mine(qs.data() + t * per, per);
      double* o = out.data() + t * per * kRows;
      if (kernel == Kernel::block) {
        ctb::distances_block(data, mine, 0, kRows, o);
      } else {
        ctb::dots_block(data, mine, 0, kRows, o);
      }
    });
    benchmark::DoNotOptimize(out.data());
  }
  set_rate(state, 2.0 * static_cast<double>(m * kRows * kQueries));
}

void bench_dgemm(benchmark::State& state, bool one, size_t m, int threads) {
  const ctb::MetricData& data = data_for(m);
  const size_t nq = one ? 1 : kQueries;
  const size_t nr = one ? kOneRows : kRows;
  const size_t reps = one ? kOneQueries * static_cast<size_t>(threads) : 1;
  const std::vector<ctb::QueryRow> qs = queries_for(data, nq);
  const size_t ld = data.v_stride;
  std::vector<double> a(nq * ld);
  for (size_t i = 0; i < nq; ++i) std::copy(qs[i].v, qs[i].v + ld, a.data() + i * ld);
  std::vector<double> c(nq * nr);
  openblas_set_num_threads(threads);
  for (auto _ : state) {
    for (size_t r = 0; r < reps; ++r) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nq),
                  static_cast<int>(nr), static_cast<int>(m), 1.0, a.data(), static_cast<int>(ld),
                  data.v.data(), static_cast<int>(ld), 0.0, c.data(), static_cast<int>(nr));
    }
    benchmark::DoNotOptimize(c.data());
  }
  openblas_set_num_threads(1);
  set_rate(state, 2.0 * static_cast<double>(m * nr * nq * reps));
}

// Console output as usual, plus a summary table at the end: GFLOP/s per kernel and target,
// and each as a percentage of DGEMM on the same shape and thread count.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      const auto it = r.counters.find("GFLOP/s");
      if (it == r.counters.end()) continue;
      double& best = rates_[r.benchmark_name()];  // the best repetition
      best = std::max(best, it->second.value);
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::map<std::string, std::map<std::string, double>> rows;  // "m threads" -> col -> rate
    for (const auto& [name, rate] : rates_) {
      // name: kernel/target/m:M/threads:T[/real_time]
      std::vector<std::string> parts;
      size_t start = 0;
      for (size_t pos; (pos = name.find('/', start)) != std::string::npos; start = pos + 1) {
        parts.push_back(name.substr(start, pos - start));
      }
      parts.push_back(name.substr(start));
      if (parts.size() < 4) continue;
      rows[fmt::format("{:>5} {:>8}", parts[2].substr(2), parts[3].substr(8))]
          [parts[0] + "/" + parts[1]] = rate;
    }
    std::fputs(
        "\nGFLOP/s (2 m flops per pair; best repetition) and % of OpenBLAS DGEMM on the same "
        "shape\n",
        stdout);
    for (const auto& [key, cols] : rows) {
      const auto dg = cols.find("dgemm/OpenBLAS");
      const auto dg1 = cols.find("dgemm_one/OpenBLAS");
      std::string line = fmt::format("m {} threads |", key);
      for (const auto& [col, rate] : cols) {
        const bool one = col.rfind("one_query", 0) == 0 || col.rfind("dgemm_one", 0) == 0;
        const auto ref = one ? dg1 : dg;
        line += fmt::format(" {} {:.1f}", col, rate);
        if (ref != cols.end() && col.rfind("dgemm", 0) != 0) {
          line += fmt::format(" ({:.0f}%)", 100.0 * rate / ref->second);
        }
        line += " |";
      }
      std::fputs((line + "\n").c_str(), stdout);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("kernel-bench: SIMD targets %s; OpenBLAS %s\n", ctb::simd_target_name().c_str(),
              openblas_get_config());
  for (const size_t m : kRanks) {
    for (const int threads : {1, 2}) {
      auto finish = [threads](benchmark::internal::Benchmark* b) {
        b->Unit(benchmark::kMillisecond);
        if (threads > 1) b->UseRealTime();
      };
      for (const int64_t target : ctb::available_simd_targets()) {
        const std::string t = hwy::TargetName(target);
        for (const auto& [kernel, label] :
             {std::pair{Kernel::block, "block"}, std::pair{Kernel::dots, "dots"},
              std::pair{Kernel::one_query, "one_query"}}) {
          finish(benchmark::RegisterBenchmark(
              fmt::format("{}/{}/m:{}/threads:{}", label, t, m, threads).c_str(),
              [=](benchmark::State& s) { bench_ours(s, kernel, target, m, threads); }));
        }
      }
      finish(benchmark::RegisterBenchmark(
          fmt::format("dgemm/OpenBLAS/m:{}/threads:{}", m, threads).c_str(),
          [=](benchmark::State& s) { bench_dgemm(s, false, m, threads); }));
      finish(benchmark::RegisterBenchmark(
          fmt::format("dgemm_one/OpenBLAS/m:{}/threads:{}", m, threads).c_str(),
          [=](benchmark::State& s) { bench_dgemm(s, true, m, threads); }));
    }
  }
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
