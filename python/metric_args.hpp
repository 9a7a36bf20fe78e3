#pragma once
// cover_tree's and brute_force_knn's metric arguments (coords, kernel, v_matrix, p_diag,
// kernel_diag, inducing_count, seed, jitter): read from Python objects with the GIL held, then
// turned into the library's MetricData by the same calls the CLI's `knn` makes.
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "core/cancel.hpp"
#include "metric/metric.hpp"

namespace ctb::python {

struct MetricArgs {
  MetricKind kind = MetricKind::euclidean;
  Doubles coords;
  size_t n = 0;
  size_t dim = 0;
  ResidualParams residual;      // kernel and jitter (residual only)
  std::optional<Doubles> v;     // the user's V (n x m) ...
  std::optional<Doubles> p;     // ... and p (n)
  size_t inducing_count = 512;  // otherwise: m inducing points chosen from the seed
  bool inducing_count_given = false;
  uint64_t seed = 0;
};

/// Reads and checks the arguments (TypeError / ValueError). Needs the GIL.
MetricArgs read_metric_args(const py::handle& coords, const py::handle& kernel,
                            const py::handle& v_matrix, const py::handle& p_diag,
                            const py::handle& kernel_diag, const py::handle& inducing_count,
                            const py::handle& seed, double jitter);

/// The metric over the points (the residual backend may take seconds: call without the GIL).
/// Throws InputError on bad values, Cancelled when `cancel` is set; appends warnings.
MetricData build_metric(const MetricArgs& args, int threads, const CancelToken* cancel,
                        std::vector<std::string>* warnings);

/// threads=None -> all cores; otherwise at least 1 (ValueError).
int read_threads(const py::handle& threads, int default_threads);

}  // namespace ctb::python
