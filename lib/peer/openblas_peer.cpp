#include "peer/openblas_peer.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"

#if defined(CTB_HAVE_OPENBLAS)
#include <cblas.h>
// OpenBLAS extensions (not in every cblas.h).
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config(void);
#endif

namespace ctb {

bool openblas_available() {
#if defined(CTB_HAVE_OPENBLAS)
  return true;
#else
  return false;
#endif
}

std::string openblas_description() {
#if defined(CTB_HAVE_OPENBLAS)
  const std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  return config.rfind("OpenBLAS", 0) == 0 ? config : "OpenBLAS " + config;
#else
  return "";
#endif
}

KnnResult OpenBlasPeer::knn(const MetricData& data, std::span<const QueryRow> queries,
                            const BruteForceOptions& options) {
  if (!openblas_available()) {
    throw InputError(
        "--compare-openblas: this binary was built without OpenBLAS "
        "(install libopenblas-dev and rebuild)");
  }
  if (data.kind != MetricKind::residual) {
    throw InputError("--compare-openblas: residual metric data only");
  }
  if (options.k == 0) throw InputError("OpenBLAS peer: k must be at least 1");
  KnnResult result;
  result.resize(queries.size(), options.k);
  if (queries.empty() || data.n == 0) return result;
#if defined(CTB_HAVE_OPENBLAS)
  const size_t n = data.n;
  const size_t ld = data.v_stride;
  const int threads = std::max(1, options.threads);
  qv_.resize(kQueryBlock * ld);
  gram_.resize(kQueryBlock * n);
  dist_.resize(static_cast<size_t>(threads));
  for (auto& d : dist_) d.resize(n);
  std::vector<TopK> tops(static_cast<size_t>(threads));
  openblas_set_num_threads(threads);

  for (size_t q0 = 0; q0 < queries.size(); q0 += kQueryBlock) {
    const size_t nb = std::min(kQueryBlock, queries.size() - q0);
    for (size_t i = 0; i < nb; ++i) {
      std::copy_n(queries[q0 + i].v, ld, qv_.data() + i * ld);
    }
    // G = Q_V V^T on OpenBLAS's threads.
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(nb), static_cast<int>(n),
                static_cast<int>(data.rank), 1.0, qv_.data(), static_cast<int>(ld), data.v.data(),
                static_cast<int>(ld), 0.0, gram_.data(), static_cast<int>(n));
    // Our finishing code on our threads, one query per task.
    parallel_for(nb, threads, [&](size_t i, int worker) {
      const QueryRow& q = queries[q0 + i];
      std::vector<double>& d = dist_[static_cast<size_t>(worker)];
      distances_from_dots(data, q, 0, n, gram_.data() + i * n, d.data());
      TopK& top = tops[static_cast<size_t>(worker)];
      top.reset(options.k);
      double kth = top.kth();
      for (size_t j = 0; j < n; ++j) {
        if (d[j] > kth) continue;
        if (options.predecessor && data.ids[j] >= q.id) continue;
        top.push(d[j], data.ids[j]);
        kth = top.kth();
      }
      top.write(result, q0 + i);
    });
  }
#endif
  return result;
}

}  // namespace ctb
