#pragma once
// The metric data every engine evaluates distances on, as structure of arrays in one row
// order (dataset order, or a tree's node order after `permute_rows`).
//
// Residual correlation (spec §1):
//   rho_ij = (k(x_i,x_j) - V_i.V_j) / sqrt(max(p_i p_j, 1e-18)), clamped to [-1, 1]
//   d_ij   = sqrt(max(0, 1 - |rho_ij|)),  d_ii = 0 (same dataset index)
// Euclidean: d_ij = ||x_i - x_j||.
// The distance itself is computed in one place only: metric/distance_kernels-inl.cpp.
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "core/cancel.hpp"

namespace ctb {

enum class MetricKind { residual, euclidean };
enum class KernelType { rbf, matern52 };

const char* to_string(MetricKind kind);
const char* to_string(KernelType kernel);

struct KernelParams {
  KernelType type = KernelType::rbf;  // rbf | matern52
  double variance = 1.0;              // sigma^2 = k(x, x)
  double lengthscale = 1.0;           // l
};

struct ResidualParams {
  KernelParams kernel;
  double jitter = 1e-6;                 // K_mm += jitter * variance * I before the Cholesky
  const CancelToken* cancel = nullptr;  // set by another thread: build_residual throws Cancelled
};

/// Asks the kernel to back [p, p + bytes) with transparent huge pages (Linux madvise; a no-op
/// elsewhere or when refused).
void advise_huge_pages(void* p, size_t bytes);

/// Allocator giving 64-byte (cache-line) aligned storage: an unaligned V row makes every
/// AVX-512 load straddle two cache lines (measured ~15% on the brute-force kernel). Blocks of
/// 4 MiB and more are 2 MiB aligned and advised onto huge pages: a V row is a 4 KiB page at
/// m = 512, so with small pages every row the kernels touch is a TLB miss.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr size_t kHugeBytes = size_t{4} << 20;
  static constexpr size_t kHugeAlign = size_t{2} << 20;
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugeBytes) {
      const size_t rounded = (bytes + kHugeAlign - 1) / kHugeAlign * kHugeAlign;
      void* p = ::operator new (rounded, std::align_val_t{kHugeAlign});
      advise_huge_pages(p, rounded);
      return static_cast<T*>(p);
    }
    return static_cast<T*>(::operator new (bytes, std::align_val_t{64}));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) >= kHugeBytes) {
      ::operator delete (p, std::align_val_t{kHugeAlign});
    } else {
      ::operator delete (p, std::align_val_t{64});
    }
  }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const {
    return true;
  }
};
using AlignedDoubles = std::vector<double, CacheAlignedAllocator<double>>;

/// Rows of the metric in one order. V rows are padded with zeros to `v_stride` (a multiple
/// of 8 doubles, 64-byte aligned rows) so SIMD loops need no tail and sums are unchanged.
struct MetricData {
  MetricKind kind = MetricKind::euclidean;
  KernelParams kernel;         // residual only
  size_t n = 0;                // rows
  size_t dim = 0;              // coordinate dimension
  size_t rank = 0;             // m, columns of V (residual only; 0 for Euclidean)
  size_t v_stride = 0;         // doubles per V row (>= rank, multiple of 8)
  std::vector<double> coords;  // n x dim
  AlignedDoubles v;            // n x v_stride (residual only)
  std::vector<double> p;       // n (residual only): p_i = max(var - ||V_i||^2, 1e-9)
  std::vector<int64_t> ids;    // dataset index of each row (d = 0 between equal ids)

  const double* coord_row(size_t i) const { return coords.data() + i * dim; }
  const double* v_row(size_t i) const { return v.data() + i * v_stride; }
};

/// One query as the kernels see it. For a dataset point use `query_row(data, i)`; a fresh
/// Euclidean query has only coordinates and id -1.
struct QueryRow {
  const double* coords = nullptr;
  const double* v = nullptr;  // residual only, v_stride doubles
  double p = 1.0;             // residual only
  int64_t id = -1;            // dataset index, -1 for a point outside the data
};

inline QueryRow query_row(const MetricData& data, size_t row) {
  QueryRow q;
  q.coords = data.coord_row(row);
  q.v = data.kind == MetricKind::residual ? data.v_row(row) : nullptr;
  q.p = data.kind == MetricKind::residual ? data.p[row] : 1.0;
  q.id = data.ids[row];
  return q;
}

/// Euclidean metric data over coordinates (n x dim, row-major), ids 0..n-1.
MetricData make_euclidean(std::span<const double> coords, size_t dim);

/// Rows per block of the residual backend's triangular solve (one single-threaded OpenBLAS
/// dtrsm per block). Blocks are fixed by dataset index, [b * kResidualRowBlock, (b + 1) *
/// kResidualRowBlock), so a row of V has the same bits whatever the thread count and whatever
/// shard of rows is built (on one machine and OpenBLAS core type).
inline constexpr size_t kResidualRowBlock = 1024;

/// Residual backend: K_mm = k(U,U) + jitter*var*I, L = chol(K_mm), V_i = L^-1 k(U, x_i),
/// p_i = max(var - ||V_i||^2, 1e-9). `inducing` are sorted dataset indices. Uses `threads`.
/// Throws InputError when the Cholesky fails (e.g. duplicate inducing points with jitter 0).
MetricData build_residual(std::span<const double> coords, size_t dim,
                          std::span<const int64_t> inducing, const ResidualParams& params,
                          int threads);

/// The rows [row_begin, row_end) of build_residual over all of `coords` (a shard): row i of the
/// result is dataset row row_begin + i (ids, coords, V, p), with the same bits as that row of
/// the full build. Throws InputError unless row_begin <= row_end <= n.
MetricData build_residual_rows(std::span<const double> coords, size_t dim,
                               std::span<const int64_t> inducing, const ResidualParams& params,
                               int threads, size_t row_begin, size_t row_end);

/// Residual data from a user's own V (n x rank, row-major) and p (n).
MetricData residual_from_vp(std::span<const double> coords, size_t dim, std::span<const double> v,
                            size_t rank, std::span<const double> p, const KernelParams& kernel);

/// Rows reordered: out row i = in row order[i]. ids travel with their rows.
MetricData permute_rows(const MetricData& data, std::span<const int32_t> order);

/// Kernel value k(x, y) (scalar reference, for tests and sanity checks).
double kernel_value(const KernelParams& kernel, const double* x, const double* y, size_t dim);

/// Plain scalar distance, the reference the SIMD kernels are tested against.
double distance_scalar(const MetricData& data, const QueryRow& q, size_t row);

}  // namespace ctb
