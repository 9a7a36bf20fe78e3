// The `covertree_bench` Python module: covertreex's call shapes (cover_tree, tree.knn,
// kernels) over the same library calls as the CLI's `knn` subcommand (lib/bench/knn_job.hpp,
// tree_engine.hpp, search/brute_force.hpp). Arguments are read with the GIL held; the work runs
// without it and stops on Ctrl-C (interruptible.hpp).
#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "bench/knn_job.hpp"
#include "bench/tree_engine.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "interruptible.hpp"
#include "metric_args.hpp"
#include "search/brute_force.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb::python {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

BuildStrategy read_build_strategy(const std::string& name) {
  if (name == "euclidean-hybrid") return BuildStrategy::euclidean_hybrid;
  if (name == "pure-residual") return BuildStrategy::pure_residual;
  throw py::value_error(
      fmt::format("build_strategy: unknown '{}' (euclidean-hybrid or pure-residual)", name));
}

// Warnings from the library (e.g. p inconsistent with V) as Python RuntimeWarnings.
void emit_warnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) {
    if (PyErr_WarnEx(PyExc_RuntimeWarning, w.c_str(), 2) != 0) throw py::error_already_set();
  }
}

// knn's `queries`, read with the GIL held: dataset indices (residual trees, and None = every
// point), or coordinates Q x d (Euclidean trees), as covertreex takes them.
struct QueryArgs {
  bool all = true;
  std::vector<int64_t> ids;
  std::optional<Doubles> coords;
};

QueryArgs read_queries(const py::handle& queries, MetricKind kind, size_t n, size_t dim,
                       bool predecessor) {
  QueryArgs q;
  if (queries.is_none()) return q;
  q.all = false;
  if (kind == MetricKind::residual) {
    q.ids = as_indices(queries, "queries");
    check_query_ids(q.ids, n, "queries");
    return q;
  }
  if (predecessor) {
    throw py::value_error(
        "predecessor_mode: needs dataset points as queries (queries=None) on a Euclidean tree");
  }
  q.coords = as_doubles(queries, "queries");
  const std::vector<size_t>& shape = q.coords->shape;
  const bool fits = (shape.size() == 2 && shape[1] == dim) || (shape.size() == 1 && dim == 1);
  if (!fits) {
    throw py::value_error(fmt::format(
        "queries must be Q x d coordinates with d = {} (the tree's dimension), got shape {}", dim,
        shape_string(shape)));
  }
  check_points_finite(q.coords->values, dim, "queries");
  return q;
}

std::vector<QueryRow> query_rows(const MetricData& data, const QueryArgs& q) {
  std::vector<QueryRow> rows;
  if (q.all) {
    rows.reserve(data.n);
    for (size_t i = 0; i < data.n; ++i) rows.push_back(query_row(data, i));
  } else if (q.coords) {
    const size_t count = q.coords->values.size() / data.dim;
    rows.resize(count);
    for (size_t i = 0; i < count; ++i) rows[i].coords = q.coords->values.data() + i * data.dim;
  } else {
    rows.reserve(q.ids.size());
    for (const int64_t id : q.ids) rows.push_back(query_row(data, static_cast<size_t>(id)));
  }
  return rows;
}

py::object answer_to_python(KnnResult&& answer, bool return_distances) {
  const size_t rows = answer.n_queries, cols = answer.k;
  py::array_t<int64_t> indices = to_numpy(std::move(answer.indices), rows, cols);
  if (!return_distances) return indices;
  py::array_t<double> distances = to_numpy(std::move(answer.distances), rows, cols);
  return py::make_tuple(std::move(indices), std::move(distances));
}

// A built tree with the metric rows its queries point into (dataset order).
class Tree {
 public:
  // The rows live on the heap: the engine keeps a pointer to them (the pivot index reads V in
  // place), and a Tree is moved into its Python object after the build.
  std::shared_ptr<MetricData> owned_data = std::make_shared<MetricData>();
  MetricData& data = *owned_data;
  TreeEnginePtr engine;
  int threads = 1;
  BuildStrategy strategy = BuildStrategy::euclidean_hybrid;
  double backend_seconds = 0;
  double build_seconds = 0;
  int64_t depth = 0;
  uint64_t build_distance_evals = 0;
  size_t build_levels = 0;
  // The last knn call's counters (updated with the GIL held, so concurrent calls never tear).
  QueryCounters last_counters;
  double last_query_seconds = 0;

  py::object knn(int64_t k, const py::handle& queries, bool return_distances, bool predecessor_mode,
                 const py::handle& threads_arg) {
    check_k(k, data.n, "k");
    const int workers = read_threads(threads_arg, threads);
    const QueryArgs q = read_queries(queries, data.kind, data.n, data.dim, predecessor_mode);
    struct Outcome {
      KnnResult answer;
      QueryCounters counters;
      double seconds = 0;
    };
    Outcome out = run_interruptible([&](const CancelToken* cancel) {
      Outcome o;
      const std::vector<QueryRow> rows = query_rows(data, q);
      TreeQueryKnobs knobs;
      knobs.k = static_cast<size_t>(k);
      knobs.predecessor = predecessor_mode;
      knobs.threads = workers;
      knobs.cancel = cancel;
      const auto t0 = Clock::now();
      o.answer = query_tree_engine(*engine, rows, knobs, &o.counters);
      o.seconds = seconds_since(t0);
      return o;
    });
    last_counters = out.counters;
    last_query_seconds = out.seconds;
    return answer_to_python(std::move(out.answer), return_distances);
  }

  py::dict stats() const {
    py::dict d;
    d["n"] = data.n;
    d["dim"] = data.dim;
    d["rank"] = data.rank;
    d["metric"] = to_string(data.kind);
    d["build_strategy"] = to_string(strategy);
    d["threads"] = threads;
    d["depth"] = depth;
    d["build_levels"] = build_levels;
    d["build_distance_evals"] = build_distance_evals;
    d["backend_seconds"] = backend_seconds;
    d["build_seconds"] = build_seconds;
    d["query_seconds"] = last_query_seconds;  // the last knn call
    last_counters.for_each_scalar([&](const char* name, uint64_t value) { d[name] = value; });
    return d;
  }

  std::string repr() const {
    std::string kernel;
    if (data.kind == MetricKind::residual) {
      kernel = fmt::format(", kernel={}(lengthscale={}, variance={}), m={}",
                           data.kernel.type == KernelType::rbf ? "RBF" : "Matern52",
                           data.kernel.lengthscale, data.kernel.variance, data.rank);
    }
    return fmt::format("CoverTree(n={}, dim={}, metric='{}'{})", data.n, data.dim,
                       to_string(data.kind), kernel);
  }
};

Tree cover_tree(const py::handle& coords, const py::handle& kernel, const py::handle& v_matrix,
                const py::handle& p_diag, const py::handle& kernel_diag,
                const py::handle& inducing_count, const py::handle& seed, double jitter,
                const std::string& build_strategy, const py::handle& threads_arg) {
  const MetricArgs args =
      read_metric_args(coords, kernel, v_matrix, p_diag, kernel_diag, inducing_count, seed, jitter);
  Tree tree;
  tree.strategy = read_build_strategy(build_strategy);
  tree.threads = read_threads(threads_arg, hardware_threads());
  std::vector<std::string> warnings;
  run_interruptible([&](const CancelToken* cancel) {
    auto t0 = Clock::now();
    tree.data = build_metric(args, tree.threads, cancel, &warnings);
    tree.backend_seconds = seconds_since(t0);
    BuildSpec build;
    build.strategy = tree.strategy;
    std::vector<BuildBatchStats> batches;
    t0 = Clock::now();
    tree.engine = build_tree_engine(tree.data, build, tree.threads, &batches, &tree.depth, cancel);
    tree.build_seconds = seconds_since(t0);
    tree.build_levels = batches.size();
    for (const BuildBatchStats& b : batches)
      tree.build_distance_evals += b.build_distance_evals.value_or(0);
    return 0;
  });
  emit_warnings(warnings);
  return tree;
}

py::object brute_force(const py::handle& coords, int64_t k, const py::handle& kernel,
                       const py::handle& v_matrix, const py::handle& p_diag,
                       const py::handle& kernel_diag, const py::handle& inducing_count,
                       const py::handle& seed, double jitter, const std::string& build_strategy,
                       const py::handle& threads_arg, const py::handle& queries,
                       bool return_distances, bool predecessor_mode) {
  const MetricArgs args =
      read_metric_args(coords, kernel, v_matrix, p_diag, kernel_diag, inducing_count, seed, jitter);
  read_build_strategy(build_strategy);  // checked for symmetry with cover_tree; no tree here
  const int threads = read_threads(threads_arg, hardware_threads());
  check_k(k, args.n, "k");
  const QueryArgs q = read_queries(queries, args.kind, args.n, args.dim, predecessor_mode);
  std::vector<std::string> warnings;
  KnnResult answer = run_interruptible([&](const CancelToken* cancel) {
    const MetricData data = build_metric(args, threads, cancel, &warnings);
    BruteForceOptions options;
    options.k = static_cast<size_t>(k);
    options.predecessor = predecessor_mode;
    options.threads = threads;
    options.cancel = cancel;
    return brute_force_knn(data, query_rows(data, q), options);
  });
  emit_warnings(warnings);
  return answer_to_python(std::move(answer), return_distances);
}

}  // namespace
}  // namespace ctb::python

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  using namespace ctb::python;
  using ctb::python::Tree;
  m.doc() =
      "Exact k-NN with cover trees under the residual-correlation (Vecchia GP) and "
      "Euclidean metrics: the covertree-bench library as a Python module.";
  // CMake's project version, the one number of the library, the CLI and this module.
  m.attr("__version__") = ctb::project_version();

  // Bad input: the library's one-line messages, as the CLI prints them (exit 2 there).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ctb::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  py::class_<Tree>(m, "CoverTree",
                   "A built cover tree; make one with covertree_bench.cover_tree(...).")
      .def("knn", &Tree::knn, py::arg("k"), py::kw_only(), py::arg("queries") = py::none(),
           py::arg("return_distances") = false, py::arg("predecessor_mode") = false,
           py::arg("threads") = py::none(),
           "Exact k nearest neighbours. queries: None (every point, itself included), dataset\n"
           "indices (residual trees) or Q x d coordinates (Euclidean trees). predecessor_mode:\n"
           "query i gets only points j < i (Vecchia conditioning sets). threads: None = the\n"
           "tree's. Returns int64 indices (Q x k, -1 padding) and, with return_distances,\n"
           "float64 distances (+inf padding), ordered by (distance, index).")
      .def_property_readonly(
          "build_time", [](const Tree& t) { return t.build_seconds; },
          "Tree build time in seconds (the residual backend not included)")
      .def_property_readonly("stats", &Tree::stats,
                             "Build figures and the last knn call's counters, as a dict")
      .def_property_readonly("n_points", [](const Tree& t) { return t.data.n; })
      .def_property_readonly("dim", [](const Tree& t) { return t.data.dim; })
      .def_property_readonly("metric", [](const Tree& t) { return to_string(t.data.kind); })
      .def_property_readonly("threads", [](const Tree& t) { return t.threads; })
      .def("__repr__", &Tree::repr);

  m.def("cover_tree", &cover_tree, py::arg("coords"), py::kw_only(), py::arg("kernel") = py::none(),
        py::arg("v_matrix") = py::none(), py::arg("p_diag") = py::none(),
        py::arg("kernel_diag") = py::none(), py::arg("inducing_count") = py::none(),
        py::arg("seed") = 0, py::arg("jitter") = 1e-6,
        py::arg("build_strategy") = "euclidean-hybrid", py::arg("threads") = py::none(),
        "Builds a cover tree over coords (n x d, float64 or float32).\n"
        "Residual correlation metric with kernel= (we choose inducing_count points, default\n"
        "512 capped at n, as sort(default_rng(seed).choice(n, m, replace=False))), or with\n"
        "your own v_matrix (n x m) and p_diag (n) under kernel= (default RBF(1, 1));\n"
        "Euclidean without either. jitter: added to K_mm's diagonal, relative to the variance.\n"
        "build_strategy: euclidean-hybrid or pure-residual. threads: None = all cores.");

  m.def("brute_force_knn", &brute_force, py::arg("coords"), py::arg("k"), py::kw_only(),
        py::arg("kernel") = py::none(), py::arg("v_matrix") = py::none(),
        py::arg("p_diag") = py::none(), py::arg("kernel_diag") = py::none(),
        py::arg("inducing_count") = py::none(), py::arg("seed") = 0, py::arg("jitter") = 1e-6,
        py::arg("build_strategy") = "euclidean-hybrid", py::arg("threads") = py::none(),
        py::arg("queries") = py::none(), py::arg("return_distances") = false,
        py::arg("predecessor_mode") = false,
        "Exact k-NN by scanning every point: the reference for cover_tree(...).knn(...).\n"
        "Takes cover_tree's arguments (build_strategy is checked, then unused), then knn's.");
}
