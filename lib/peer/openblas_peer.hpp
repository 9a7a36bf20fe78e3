#pragma once
// The OpenBLAS peer of `run --compare-openblas`: an exact float64 brute force whose V.V products
// are cblas_dgemm calls, as a numpy user computes them (G = Q_V @ V.T), timed beside ours.
//
// Fixed so that it is not tuned down: blocks of 256 queries x all rows, one cblas_dgemm per
// block (k = m, the unpadded rank) on OpenBLAS's own threads (as many as the run's --threads;
// ours idle meanwhile), then our finishing code on our threads: distances_from_dots (kernel
// term, normalisation, clamp; the same lane-wise code as our kernels) and the same top-k as
// our brute force. Buffers are kept between passes, so a pass does not pay page faults.
//
// OpenBLAS is linked into this module only (and the binaries that use it); nothing of ours
// computes with it. Without OpenBLAS at build time, the peer reports itself unavailable.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "metric/metric.hpp"
#include "search/brute_force.hpp"
#include "search/knn.hpp"

namespace ctb {

/// True when this binary was built with OpenBLAS.
bool openblas_available();

/// "OpenBLAS 0.3.21 (DYNAMIC_ARCH ... Zen MAX_THREADS=64)", or "" when unavailable.
std::string openblas_description();

class OpenBlasPeer {
 public:
  static constexpr size_t kQueryBlock = 256;

  /// The k nearest rows of every query, exactly (up to the summation order of DGEMM).
  /// Residual data only; throws InputError otherwise, or when OpenBLAS is unavailable.
  KnnResult knn(const MetricData& data, std::span<const QueryRow> queries,
                const BruteForceOptions& options);

 private:
  std::vector<double> qv_;                 // kQueryBlock x v_stride, the block's V rows
  std::vector<double> gram_;               // kQueryBlock x n, their dots with every row
  std::vector<std::vector<double>> dist_;  // per worker: one query's n distances
};

}  // namespace ctb
