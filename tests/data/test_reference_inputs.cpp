// The covertreex reference inputs regenerate bit for bit from their recipes
// (../shared/reference/covertreex-numba/README.md and REPORT.md section 5).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <vector>

#include "data/npy.hpp"
#include "data/numpy_rng.hpp"

namespace ctb {
namespace {

const std::filesystem::path kReference =
    std::filesystem::path(CTB_SHARED_DIR) / "reference" / "covertreex-numba";

const char* const kSkipMessage =
    "reference data (../shared/reference/covertreex-numba) not found; "
    "these tests need it and are skipped";

template <typename T>
void expect_bytes_equal(const NpyArray& file, const std::vector<T>& generated) {
  ASSERT_EQ(file.bytes.size(), generated.size() * sizeof(T));
  EXPECT_EQ(std::memcmp(file.bytes.data(), generated.data(), file.bytes.size()), 0);
}

struct Recipe {
  const char* folder;
  size_t n_points;
  size_t n_queries;
  size_t n_inducing;
};

void check_recipe(const Recipe& r) {
  const std::filesystem::path dir = kReference / r.folder;
  const NpyArray points = read_npy(dir / "points.npy");
  EXPECT_EQ(points.dtype, NpyDtype::f8);
  EXPECT_EQ(points.shape, (std::vector<size_t>{r.n_points, 3}));
  expect_bytes_equal(points, NumpyRng(42).normal(0.0, 1.0, r.n_points * 3));

  const NpyArray queries = read_npy(dir / "queries.npy");
  EXPECT_EQ(queries.dtype, NpyDtype::i8);
  EXPECT_EQ(queries.shape, (std::vector<size_t>{r.n_queries, 1}));
  expect_bytes_equal(queries,
                     NumpyRng(43).integers(0, static_cast<int64_t>(r.n_points), r.n_queries));

  const NpyArray inducing = read_npy(dir / "inducing_idx.npy");
  EXPECT_EQ(inducing.dtype, NpyDtype::i8);
  EXPECT_EQ(inducing.shape, (std::vector<size_t>{r.n_inducing}));
  std::vector<int64_t> ind =
      NumpyRng(0).choice_without_replacement(static_cast<int64_t>(r.n_points), r.n_inducing);
  std::sort(ind.begin(), ind.end());
  expect_bytes_equal(inducing, ind);
}

TEST(ReferenceInputs, GoldRegeneratesBitForBit) {
  if (!std::filesystem::is_directory(kReference)) GTEST_SKIP() << kSkipMessage;
  check_recipe({"gold/inputs", 32768, 1024, 512});
}

TEST(ReferenceInputs, Fixture4096M64RegeneratesBitForBit) {
  if (!std::filesystem::is_directory(kReference)) GTEST_SKIP() << kSkipMessage;
  check_recipe({"fixture4096_m64", 4096, 256, 64});
}

}  // namespace
}  // namespace ctb
