// Residual backend: the low-rank factor V and the residual variances p (spec §1).
//
// V = L^-1 k(U, X) is ~m^2 n flop (2.7e11 at n = 1M, m = 512): a triangular solve with n
// right-hand sides, done by OpenBLAS's dtrsm. Determinism: the rows are cut into FIXED GLOBAL
// blocks of kResidualRowBlock rows by dataset index (independent of the thread count and of
// the rows a caller asks for), and each block is one single-threaded dtrsm call on our own
// threads (lib/core/parallel.hpp). A row's bits therefore depend only on its block's inputs:
// the same for any thread count and for any shard [row_begin, row_end) (a shard that starts or
// ends inside a block solves the whole block and keeps its rows).
//
// The kernel block k(U, x_j) is formed column by column by kernel_column below: inducing
// coordinates laid out per dimension, the squared distances accumulated across inducing points,
// then an exp of our own (plain IEEE operations, no FMA, no table) that the compiler
// vectorises; it is compiled for AVX2 and for the baseline and picked at load time, with the
// same bits from either (every operation is correctly rounded, none is fused).
//
// Measured (2-core AMD EPYC shared with other builds, CPU time per V entry at m = 512, one
// thread): Eigen's blocked solve (our SSE2 build) ~65 ns, OpenBLAS dtrsm (Haswell kernels)
// ~17 ns at 1024..4096-row blocks (256-row blocks ~10% slower); the exp of a kernel entry
// ~3.0 ns with glibc's exp, ~1.25 ns with ours (AVX2 clone; ~3.1 ns in the baseline SSE2
// clone). The whole backend at n = 256k: 7.3 s CPU before, 2.4 s now.
#include <cblas.h>
#include <fmt/format.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/metric.hpp"

namespace ctb {

namespace {

constexpr size_t kStrideMultiple = 8;

using ColMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// x86-64 with GCC or clang: an AVX2 clone beside the baseline, chosen by the loader (ifunc).
// Both run the same IEEE operations in the same order (-ffp-contract=off: nothing is fused),
// so they give the same bits; the clone only runs four lanes at a time.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones) && !defined(__SANITIZE_ADDRESS__)
#define CTB_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#endif
#ifndef CTB_KERNEL_CLONES
#define CTB_KERNEL_CLONES
#endif

// exp(x) for x <= 0 (kernel arguments are never positive), within 2 ulp of the exact value;
// 0 below -708 (where exp is below 3.3e-308: subnormal results are flushed). Branch-free so the
// loop around it vectorises (this file is compiled with -fno-trapping-math for the selects).
// Range reduction x = n ln2 + r, |r| <= ln2/2 (Cody-Waite, fdlibm's split of ln2), the
// Taylor polynomial of degree 13 in Estrin's scheme (the first omitted term is below 5e-18 of
// the result), and 2^n built in the exponent bits.
inline double exp_nonpositive(double x) {
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // 32 trailing zero bits: n*hi exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShift = 0x1.8p52;  // adding it rounds to an integer in the low bits
  constexpr double kMin = -708.0;
  const double x0 = x < 0.0 ? x : 0.0;
  const double xc = x0 > kMin ? x0 : kMin;
  const double t = xc * kLog2e + kShift;
  const double nd = t - kShift;
  const double r = (xc - nd * kLn2Hi) - nd * kLn2Lo;
  const double r2 = r * r;
  const double r4 = r2 * r2;
  const double r8 = r4 * r4;
  const double p01 = 1.0 + r;
  const double p23 = 0.5 + r * (1.0 / 6.0);
  const double p45 = 1.0 / 24.0 + r * (1.0 / 120.0);
  const double p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
  const double p89 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
  const double p1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
  const double p1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  const double q0 = p01 + r2 * p23;
  const double q1 = p45 + r2 * p67;
  const double q2 = p89 + r2 * p1011;
  const double s0 = q0 + r4 * q1;
  const double s1 = q2 + r4 * p1213;
  const double poly = s0 + r8 * s1;
  // n = t - kShift as an integer (|n| <= 1022 here), biased into the exponent field.
  const uint64_t bits = (std::bit_cast<uint64_t>(t) - std::bit_cast<uint64_t>(kShift) + 1023u)
                        << 52;
  const double y = poly * std::bit_cast<double>(bits);
  return x0 > kMin ? y : 0.0;
}

// out[a] = k(u_a, x) for a < m; u holds the inducing coordinates per dimension (u[d * ldu + a]).
// r2 is summed over the dimensions in order from 0, as euclid_squared does.
CTB_KERNEL_CLONES void kernel_column(const KernelParams& kernel, const double* __restrict u,
                                     size_t ldu, size_t m, size_t dim, const double* __restrict x,
                                     double* __restrict out) {
  for (size_t a = 0; a < m; ++a) out[a] = 0.0;
  for (size_t d = 0; d < dim; ++d) {
    const double xd = x[d];
    const double* __restrict ud = u + d * ldu;
    for (size_t a = 0; a < m; ++a) {
      const double t = ud[a] - xd;
      out[a] += t * t;
    }
  }
  const double var = kernel.variance;
  const double l = kernel.lengthscale;
  if (kernel.type == KernelType::rbf) {
    const double c = -0.5 / (l * l);
    for (size_t a = 0; a < m; ++a) out[a] = var * exp_nonpositive(out[a] * c);
  } else {
    const double c = std::sqrt(5.0) / l;
    for (size_t a = 0; a < m; ++a) {
      const double s = std::sqrt(out[a]) * c;
      out[a] = var * ((1.0 + s + s * s / 3.0) * exp_nonpositive(-s));
    }
  }
}

// OpenBLAS's own thread count is process-global: one thread for our calls (each block is
// single-threaded by contract), the caller's setting back afterwards (a Python user's numpy
// may share the library).
class OpenBlasSingleThread {
 public:
  OpenBlasSingleThread() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~OpenBlasSingleThread() { openblas_set_num_threads(saved_); }
  OpenBlasSingleThread(const OpenBlasSingleThread&) = delete;
  OpenBlasSingleThread& operator=(const OpenBlasSingleThread&) = delete;

 private:
  int saved_;
};

}  // namespace

MetricData build_residual_rows(std::span<const double> coords, size_t dim,
                               std::span<const int64_t> inducing, const ResidualParams& params,
                               int threads, size_t row_begin, size_t row_end) {
  const KernelParams& kernel = params.kernel;
  if (dim == 0) throw InputError("residual backend: coordinate dimension must be at least 1");
  if (coords.size() % dim != 0) {
    throw InputError(
        fmt::format("residual backend: {} coordinate values are not a multiple of dimension {}",
                    coords.size(), dim));
  }
  if (!(kernel.variance > 0.0) || !std::isfinite(kernel.variance) || !(kernel.lengthscale > 0.0) ||
      !std::isfinite(kernel.lengthscale)) {
    throw InputError("residual backend: kernel variance and lengthscale must be positive");
  }
  if (!(params.jitter >= 0.0) || !std::isfinite(params.jitter)) {
    throw InputError(fmt::format("residual backend: jitter must be >= 0 (got {})", params.jitter));
  }
  const size_t n = coords.size() / dim;
  const size_t m = inducing.size();
  if (m == 0) throw InputError("residual backend: no inducing points");
  if (row_begin > row_end || row_end > n) {
    throw InputError(fmt::format("residual backend: rows [{}, {}) are not within the {} points",
                                 row_begin, row_end, n));
  }
  for (size_t a = 0; a < m; ++a) {
    if (inducing[a] < 0 || static_cast<size_t>(inducing[a]) >= n) {
      throw InputError(
          fmt::format("residual backend: inducing index {} is outside 0..{}", inducing[a], n));
    }
    if (a > 0 && inducing[a] <= inducing[a - 1]) {
      throw InputError("residual backend: inducing indices must be sorted and distinct");
    }
  }
  for (double c : coords) {
    if (!std::isfinite(c)) throw InputError("residual backend: non-finite coordinate");
  }
  if (m > static_cast<size_t>(INT32_MAX / 2)) {
    throw InputError(fmt::format("residual backend: m = {} inducing points is too many", m));
  }

  const size_t rows = row_end - row_begin;
  MetricData data;
  data.kind = MetricKind::residual;
  data.kernel = kernel;
  data.n = rows;
  data.dim = dim;
  data.rank = m;
  data.v_stride =
      std::max(kStrideMultiple, (m + kStrideMultiple - 1) / kStrideMultiple * kStrideMultiple);
  data.coords.assign(coords.begin() + static_cast<ptrdiff_t>(row_begin * dim),
                     coords.begin() + static_cast<ptrdiff_t>(row_end * dim));
  data.ids.resize(rows);
  for (size_t i = 0; i < rows; ++i) data.ids[i] = static_cast<int64_t>(row_begin + i);

  const double* x = coords.data();
  const size_t stride = data.v_stride;
  // Inducing coordinates per dimension, for kernel_column.
  std::vector<double> u(dim * m);
  for (size_t a = 0; a < m; ++a) {
    for (size_t d = 0; d < dim; ++d) u[d * m + a] = x[static_cast<size_t>(inducing[a]) * dim + d];
  }

  // K_mm column by column with the same kernel code as k(U, x) (symmetric: the squares of
  // u_a - u_b and u_b - u_a are equal).
  ColMatrix kmm(m, m);
  for (size_t a = 0; a < m; ++a) {
    kernel_column(kernel, u.data(), m, m, dim, x + static_cast<size_t>(inducing[a]) * dim,
                  kmm.data() + a * m);
    kmm(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(a)) +=
        params.jitter * kernel.variance;
  }
  const Eigen::LLT<ColMatrix> llt(kmm);
  if (llt.info() != Eigen::Success) {
    throw InputError(fmt::format(
        "residual backend: Cholesky of K_mm failed (m = {}, jitter = {}; not positive definite; "
        "duplicate inducing points with jitter 0?)",
        m, params.jitter));
  }
  const ColMatrix lower = llt.matrixL();

  // V is stored row-major with padded rows; seen from BLAS, a block of rows is a column-major
  // m x B matrix with leading dimension v_stride, so the solve writes V in place. The padding
  // (rows m..v_stride of that matrix) stays zero: dtrsm touches only the first m.
  data.v.assign(rows * stride, 0.0);
  data.p.resize(rows);
  if (rows == 0) return data;
  const size_t first_block = row_begin / kResidualRowBlock;
  const size_t end_block = (row_end + kResidualRowBlock - 1) / kResidualRowBlock;
  const int workers = std::max(1, threads);
  std::vector<AlignedDoubles> scratch(static_cast<size_t>(workers));
  const OpenBlasSingleThread single_thread;
  parallel_for(end_block - first_block, workers, params.cancel, [&](size_t task, int worker) {
    const size_t gb = (first_block + task) * kResidualRowBlock;  // global rows [gb, ge)
    const size_t ge = std::min(gb + kResidualRowBlock, n);
    const size_t keep_begin = std::max(gb, row_begin);  // the rows of [row_begin, row_end)
    const size_t keep_end = std::min(ge, row_end);
    double* target = nullptr;
    const bool in_place = gb >= row_begin && ge <= row_end;
    if (in_place) {
      target = data.v.data() + (gb - row_begin) * stride;
    } else {
      // A partial block: the whole block is solved in scratch, so its rows get the bits they
      // get in a full build.
      AlignedDoubles& s = scratch[static_cast<size_t>(worker)];
      if (s.empty()) s.assign(kResidualRowBlock * stride, 0.0);
      target = s.data();
    }
    for (size_t j = gb; j < ge; ++j) {
      kernel_column(kernel, u.data(), m, m, dim, x + j * dim, target + (j - gb) * stride);
    }
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
                static_cast<int>(m), static_cast<int>(ge - gb), 1.0, lower.data(),
                static_cast<int>(m), target, static_cast<int>(stride));
    if (!in_place) {
      std::copy(target + (keep_begin - gb) * stride, target + (keep_end - gb) * stride,
                data.v.data() + (keep_begin - row_begin) * stride);
    }
    for (size_t j = keep_begin; j < keep_end; ++j) {
      const double* vj = data.v.data() + (j - row_begin) * stride;
      double norm2 = 0.0;
      for (size_t a = 0; a < m; ++a) norm2 += vj[a] * vj[a];
      data.p[j - row_begin] = std::max(kernel.variance - norm2, 1e-9);
    }
  });
  return data;
}

MetricData build_residual(std::span<const double> coords, size_t dim,
                          std::span<const int64_t> inducing, const ResidualParams& params,
                          int threads) {
  const size_t n = dim > 0 ? coords.size() / dim : 0;
  return build_residual_rows(coords, dim, inducing, params, threads, 0, n);
}

}  // namespace ctb
