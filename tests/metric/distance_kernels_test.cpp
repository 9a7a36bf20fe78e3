#include "metric/distance_kernels.hpp"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "common/simd_targets.hpp"
#include "core/error.hpp"
#include "metric/test_data.hpp"

namespace ctb {
namespace {

// SIMD vs the plain scalar reference, compared on 1 - |rho| = d^2: the two differ only in
// summation order and in Highway's Exp (<= 1 ulp), an absolute error of a few 1e-16 in
// k - V.V, which the metric divides by sqrt(p_q p_r). Hence the bound below (with a 10x
// margin on that); inducing rows have p ~ jitter and are the worst case. Within one target
// the entry points must agree bit for bit; Euclidean must match the reference exactly.
double scalar_tolerance(const MetricData& data, const QueryRow& q, size_t row) {
  return 1e-12 + 1e-14 / std::sqrt(std::max(q.p * data.p[row], 1e-18));
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

using ForcedTarget = test_support::ForcedSimdTarget;

struct Case {
  MetricKind kind;
  KernelType kernel;
  size_t dim;
  size_t step;  // inducing spacing: rank = ceil(n / step)
};

std::string case_name(const Case& c) {
  std::string name = to_string(c.kind);
  if (c.kind == MetricKind::residual) name += std::string("_") + to_string(c.kernel);
  return name + "_d" + std::to_string(c.dim) + "_s" + std::to_string(c.step);
}

MetricData make_case(const Case& c, size_t n) {
  if (c.kind == MetricKind::euclidean) {
    return make_euclidean(testing::random_coords(n, c.dim, 21), c.dim);
  }
  return testing::residual_data(n, c.dim, c.step, c.kernel, 21);
}

class DistanceKernels : public ::testing::TestWithParam<Case> {};

TEST_P(DistanceKernels, EveryTargetMatchesScalarAndIsBitIdenticalAcrossEntryPoints) {
  const size_t n = 203;  // not a multiple of any tile, lane count or chunk
  const MetricData data = make_case(GetParam(), n);
  if (data.kind == MetricKind::residual) {
    ASSERT_NE(data.rank % 8, 0u) << "rank should leave a padded tail";
    ASSERT_GT(*std::min_element(data.p.begin(), data.p.end()), 1e-6) << "ill-conditioned data";
  }
  // Queries: 9 data rows (odd count: a partial query tile) and one outside point.
  std::vector<QueryRow> queries;
  for (size_t i = 0; i < 9; ++i) queries.push_back(query_row(data, (i * 37 + 5) % n));
  QueryRow outside = query_row(data, 100);
  outside.id = -1;
  queries.push_back(outside);
  const size_t begin = 3;
  const size_t end = n - 1;
  const size_t width = end - begin;
  std::vector<int32_t> rows;
  std::mt19937 gen(4);
  for (size_t j = 0; j < 150; ++j) rows.push_back(static_cast<int32_t>(gen() % n));

  const std::vector<int64_t> targets = available_simd_targets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    ForcedTarget forced(target);
    SCOPED_TRACE(hwy::TargetName(target));
    EXPECT_EQ(simd_target_name(), hwy::TargetName(target));

    std::vector<double> block(queries.size() * width);
    distances_block(data, queries, begin, end, block.data());
    // A different batch composition: queries two at a time over a shifted, shorter range.
    std::vector<double> pairs(2 * (width - 5));
    for (size_t i = 0; i + 1 < queries.size(); i += 2) {
      distances_block(data, std::span(queries).subspan(i, 2), begin + 5, end, pairs.data());
      for (size_t t = 0; t < 2; ++t) {
        for (size_t j = 0; j + 5 < width; ++j) {
          ASSERT_TRUE(same_bits(pairs[t * (width - 5) + j], block[(i + t) * width + j + 5]));
        }
      }
    }

    std::vector<double> range(width);
    std::vector<double> listed(rows.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      const QueryRow& q = queries[i];
      distances_to_range(data, q, begin, end, range.data());
      distances_to_rows(data, q, rows, listed.data());
      for (size_t j = 0; j < width; ++j) {
        const double d = block[i * width + j];
        ASSERT_TRUE(same_bits(d, range[j])) << "query " << i << " row " << begin + j;
        EXPECT_GE(d, 0.0);
        EXPECT_LE(d, 1.0 + (data.kind == MetricKind::euclidean ? 1.0 : 0.0));
        const double ref = distance_scalar(data, q, begin + j);
        if (data.kind == MetricKind::euclidean) {
          EXPECT_TRUE(same_bits(d, ref)) << d << " vs " << ref;
        } else {
          EXPECT_NEAR(d * d, ref * ref, scalar_tolerance(data, q, begin + j))
              << "query " << i << " row " << j;
        }
        if (q.id == data.ids[begin + j]) {
          EXPECT_EQ(d, 0.0);
        }
      }
      for (size_t j = 0; j < rows.size(); ++j) {
        const size_t row = static_cast<size_t>(rows[j]);
        if (row >= begin && row < end) {
          ASSERT_TRUE(same_bits(listed[j], range[row - begin])) << "row " << row;
        } else {
          const double ref = distance_scalar(data, q, row);
          if (data.kind == MetricKind::euclidean) {
            EXPECT_TRUE(same_bits(listed[j], ref));
          } else {
            EXPECT_NEAR(listed[j] * listed[j], ref * ref, scalar_tolerance(data, q, row));
          }
        }
      }
    }

    // Symmetry holds bit for bit: every step of the pair's computation is commutative.
    for (size_t i = 0; i < n; i += 11) {
      std::vector<double> from_i(n);
      distances_to_range(data, query_row(data, i), 0, n, from_i.data());
      EXPECT_EQ(from_i[i], 0.0);
      for (size_t j = 0; j < n; j += 13) {
        double back = -1.0;
        const int32_t row_i = static_cast<int32_t>(i);
        distances_to_rows(data, query_row(data, j), std::span(&row_i, 1), &back);
        EXPECT_TRUE(same_bits(from_i[j], back)) << i << "," << j;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, DistanceKernels,
                         ::testing::Values(Case{MetricKind::residual, KernelType::rbf, 3, 17},
                                           Case{MetricKind::residual, KernelType::matern52, 3, 17},
                                           Case{MetricKind::residual, KernelType::rbf, 2, 10},
                                           Case{MetricKind::residual, KernelType::matern52, 2, 29},
                                           Case{MetricKind::euclidean, KernelType::rbf, 3, 1},
                                           Case{MetricKind::euclidean, KernelType::rbf, 5, 1}),
                         [](const auto& info) { return case_name(info.param); });

TEST(DistanceKernelsDispatch, ResetRestoresTheBestTarget) {
  const std::vector<int64_t> targets = available_simd_targets();
  ASSERT_FALSE(targets.empty());
  // Targets are listed best first (lowest bit is the best target).
  const std::string best = hwy::TargetName(targets.front());
  force_simd_target(targets.back());
  EXPECT_EQ(simd_target_name(), hwy::TargetName(targets.back()));
  reset_simd_target();
  EXPECT_EQ(simd_target_name(), best);
}

TEST(DistanceKernelsDispatch, EmptyBatchesAreFine) {
  const MetricData data = testing::residual_data(20, 2, 5, KernelType::rbf, 2);
  const QueryRow q = query_row(data, 0);
  double sentinel = 7.0;
  distances_to_range(data, q, 4, 4, &sentinel);
  distances_to_rows(data, q, {}, &sentinel);
  distances_block(data, {}, 0, data.n, &sentinel);
  EXPECT_EQ(sentinel, 7.0);
}

// Residual data from a random V of any rank (so m can exceed the kernel's cache block along m),
// |V_i|^2 about half the variance.
MetricData random_vp(size_t n, size_t rank, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<double> coords = testing::random_coords(n, 3, seed + 1);
  std::vector<double> v(n * rank);
  const double scale = std::sqrt(1.5 / static_cast<double>(rank));
  for (double& x : v) x = unit(gen) * scale;
  std::vector<double> p(n);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t k = 0; k < rank; ++k) s += v[i * rank + k] * v[i * rank + k];
    p[i] = std::max(1.0 - s, 1e-3);
  }
  KernelParams kernel;
  kernel.lengthscale = 0.4;
  return residual_from_vp(coords, 3, v, rank, p, kernel);
}

// Every block entry point against the one-query kernel, bit for bit, over query counts that
// hit every register-tile tail, row counts on both sides of a chunk and of the packing
// threshold, ranks below and above the cache block along m, and row offsets.
TEST(BlockKernels, EveryEntryPointIsBitIdenticalToTheOneQueryKernel) {
  for (const size_t rank : {5, 37, 1100}) {
    SCOPED_TRACE("rank " + std::to_string(rank));
    const size_t n = 300;
    const MetricData data = random_vp(n, rank, rank);
    std::vector<QueryRow> all;
    for (size_t i = 0; i < 40; ++i) all.push_back(query_row(data, (i * 53 + 7) % n));
    all[3].id = -1;  // a point outside the data: no zero distance
    test_support::for_each_simd_target([&](const std::string&) {
      for (const size_t nq : {1, 2, 3, 5, 6, 7, 11, 13, 40}) {
        const std::span<const QueryRow> qs(all.data(), nq);
        for (const auto& [begin, end] :
             {std::pair<size_t, size_t>{0, 1}, {9, 14}, {0, 64}, {1, 66}, {100, 250}, {0, 300}}) {
          const size_t w = end - begin;
          std::vector<double> ref(nq * w);
          for (size_t i = 0; i < nq; ++i) distances_to_range(data, qs[i], begin, end, &ref[i * w]);
          std::vector<double> block(nq * w, -1.0);
          distances_block(data, qs, begin, end, block.data());
          std::vector<double> dots(nq * w, -1.0);
          dots_block(data, qs, begin, end, dots.data());
          std::vector<double> scan(nq * w, -1.0);
          size_t next = begin;
          distances_block_scan(data, qs, begin, end,
                               [&](size_t b, size_t e, const double* d, size_t ld) {
                                 EXPECT_EQ(b, next);  // chunks in order, covering the range
                                 EXPECT_GT(e, b);
                                 next = e;
                                 for (size_t i = 0; i < nq; ++i) {
                                   for (size_t j = b; j < e; ++j) {
                                     scan[i * w + j - begin] = d[i * ld + j - b];
                                   }
                                 }
                               });
          EXPECT_EQ(next, end);
          std::vector<int32_t> rows;
          for (size_t j = end; j-- > begin;) rows.push_back(static_cast<int32_t>(j));  // reversed
          std::vector<double> gathered(nq * w, -1.0);
          distances_block_rows(data, qs, rows, gathered.data());
          for (size_t i = 0; i < nq; ++i) {
            std::vector<double> finished(w);
            distances_from_dots(data, qs[i], begin, end, &dots[i * w], finished.data());
            for (size_t j = 0; j < w; ++j) {
              const double r = ref[i * w + j];
              ASSERT_TRUE(same_bits(block[i * w + j], r)) << "block q" << i << " row " << begin + j;
              ASSERT_TRUE(same_bits(scan[i * w + j], r)) << "scan q" << i << " row " << begin + j;
              ASSERT_TRUE(same_bits(gathered[i * w + (w - 1 - j)], r)) << "rows q" << i;
              // The block's dots finished separately give the block's distances.
              ASSERT_TRUE(same_bits(finished[j], r)) << "dots q" << i << " row " << begin + j;
              const double scalar = distance_scalar(data, qs[i], begin + j);
              ASSERT_NEAR(r * r, scalar * scalar, scalar_tolerance(data, qs[i], begin + j));
            }
          }
        }
      }
    });
  }
}

TEST(BlockKernels, GatheredRowsMayRepeatAndEuclideanIsExact) {
  const MetricData data = make_euclidean(testing::random_coords(150, 4, 9), 4);
  std::vector<QueryRow> qs;
  for (size_t i = 0; i < 9; ++i) qs.push_back(query_row(data, i * 16));
  std::vector<int32_t> rows;
  for (size_t j = 0; j < 130; ++j) rows.push_back(static_cast<int32_t>((j * 7) % 40));
  test_support::for_each_simd_target([&](const std::string&) {
    std::vector<double> out(qs.size() * rows.size());
    distances_block_rows(data, qs, rows, out.data());
    std::vector<double> scanned(qs.size() * data.n);
    distances_block_scan(data, qs, 0, data.n, [&](size_t b, size_t e, const double* d, size_t ld) {
      for (size_t i = 0; i < qs.size(); ++i) {
        for (size_t j = b; j < e; ++j) scanned[i * data.n + j] = d[i * ld + j - b];
      }
    });
    for (size_t i = 0; i < qs.size(); ++i) {
      for (size_t j = 0; j < rows.size(); ++j) {
        const size_t row = static_cast<size_t>(rows[j]);
        ASSERT_TRUE(same_bits(out[i * rows.size() + j], distance_scalar(data, qs[i], row)));
      }
      for (size_t j = 0; j < data.n; ++j) {
        ASSERT_TRUE(same_bits(scanned[i * data.n + j], distance_scalar(data, qs[i], j)));
      }
    }
  });
}

TEST(BlockKernels, ResidualOnlyEntryPointsRefuseEuclideanData) {
  const MetricData data = make_euclidean(testing::random_coords(10, 2, 1), 2);
  const QueryRow q = query_row(data, 0);
  double dots[10];
  double out[10];
  EXPECT_THROW(distances_from_dots(data, q, 0, 10, dots, out), InputError);
  EXPECT_THROW(dots_block(data, std::span(&q, 1), 0, 10, out), InputError);
  EXPECT_THROW(distances_block_scan(data, std::span(&q, 1), 0, 11,
                                    [](size_t, size_t, const double*, size_t) {}),
               InputError);
}

TEST(SimdSelection, NamesForceTargetsAndUnknownOrUnrunnableOnesAreRefused) {
  const std::string best = simd_target_name();
  const std::vector<std::string> choices = simd_target_choices();
  ASSERT_FALSE(choices.empty());
  EXPECT_EQ(choices.front(), "best");
  EXPECT_NE(std::find(choices.begin(), choices.end(), "scalar"), choices.end());
  for (const std::string& c : choices) {
    select_simd_target(c);
    if (c == "best") {
      EXPECT_EQ(simd_target_name(), best);
    } else if (c == "scalar") {
      EXPECT_TRUE(simd_target_name() == "EMU128" || simd_target_name() == "SCALAR");
    } else {
      std::string lower = simd_target_name();
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      EXPECT_EQ(lower, c);
    }
  }
  select_simd_target("AVX2" == best ? "Avx2" : "best");  // any case
  EXPECT_EQ(simd_target_name(), best);
  EXPECT_THROW(select_simd_target("avx9000"), InputError);
  for (const std::string& t : test_support::unrunnable_simd_targets()) {
    std::string lower = t;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    try {
      select_simd_target(lower);
      ADD_FAILURE() << lower << " accepted on a CPU that cannot run it";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("cannot run"), std::string::npos) << e.what();
    }
  }
  select_simd_target("best");
  EXPECT_EQ(simd_target_name(), best);
}

// Compiled targets this CPU cannot run are built (so they must compile) but not exercised here:
// reported as a skip rather than passing silently.
TEST(SimdSelection, TargetsThisCpuCannotRun) {
  const std::vector<std::string> missing = test_support::unrunnable_simd_targets();
  if (!missing.empty()) {
    std::string names;
    for (const std::string& t : missing) names += " " + t;
    GTEST_SKIP() << "compiled but not runnable on this CPU (not tested here):" << names;
  }
}

}  // namespace
}  // namespace ctb
