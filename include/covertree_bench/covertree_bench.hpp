#pragma once
// covertree_bench: exact k-NN under the residual-correlation metric (Vecchia Gaussian
// processes) and Euclidean distance, as an installed C++ library.
//
//   find_package(covertree_bench CONFIG REQUIRED)
//   target_link_libraries(app PRIVATE covertree_bench::covertree_bench)
//
//   #include <covertree_bench/covertree_bench.hpp>
//   ctb::Index index = ctb::build_index(ctb::EuclideanInput{points, dim});
//   ctb::Neighbours nn = index.knn({.k = 10});   // every point, itself included
//
// The same library calls as the `covertree-bench knn` subcommand and the Python module: the
// same indexes, the same answers (exact; ties by the lower dataset index), the same one-line
// messages for bad input (ctb::InputError). This header includes standard headers only.
#include <covertree_bench/error.hpp>
#include <covertree_bench/export.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ctb {

/// The library's version, CMake's project version (e.g. "0.1.0").
CTB_API std::string version();

/// Euclidean distance over points: n x dim doubles, row-major. The span is read during the
/// build (the index keeps its own copy).
struct EuclideanInput {
  std::span<const double> points;  // n x dim, row-major
  size_t dim = 0;                  // coordinates per point (> 0)
};

enum class Kernel { rbf, matern52 };

/// The residual-correlation metric of a Gaussian process with kernel k over the points:
///   rho_ij = (k(x_i,x_j) - V_i.V_j) / sqrt(p_i p_j),   d_ij = sqrt(1 - |rho_ij|).
/// Either we compute V and p from `inducing_count` inducing points chosen as
/// sort(numpy.random.default_rng(seed).choice(n, m, replace=False)) (as the CLI and the Python
/// module do), or you give your own V (n x rank, row-major) and p (n).
struct ResidualInput {
  std::span<const double> points;  // n x dim, row-major
  size_t dim = 0;
  Kernel kernel = Kernel::rbf;
  double variance = 1.0;     // k(x, x) (> 0)
  double lengthscale = 1.0;  // (> 0)
  // Our V and p (used when `v` is empty):
  size_t inducing_count = 0;  // m; 0 = 512 capped at n
  uint64_t seed = 0;
  double jitter = 1e-6;  // added to K_mm's diagonal, relative to the variance
  // Your own V and p:
  std::span<const double> v;  // n x rank, row-major
  size_t rank = 0;
  std::span<const double> p;  // n, each finite and > 0
};

struct IndexOptions {
  /// The index that answers: "auto" (pivot lists for residual data, the box tree for
  /// Euclidean data), "pivot", "box", "cover-tree" or "brute" (a blocked scan, no index).
  std::string engine = "auto";
  /// The cover tree's nets: "euclidean-hybrid" or "pure-residual".
  std::string build_strategy = "euclidean-hybrid";
  int threads = 0;  // worker threads; 0 = all cores
};

/// Which points to answer and how many neighbours. With neither `ids` nor `coords`: every
/// point of the index, in dataset order.
struct KnnQuery {
  size_t k = 1;                    // neighbours per query, 1 <= k <= n
  bool predecessor = false;        // dataset query i gets only points j < i (Vecchia sets)
  std::span<const int64_t> ids;    // dataset points as queries
  std::span<const double> coords;  // Euclidean only: Q x dim query coordinates
  int threads = 0;                 // 0 = the index's
};

/// Q x k answers, row-major, nearest first, ties by the lower dataset index. A dataset point
/// is at distance 0 from itself. Missing neighbours (predecessor mode, fewer than k
/// predecessors) are index -1 and distance +inf.
struct Neighbours {
  size_t rows = 0;
  size_t k = 0;
  std::vector<int64_t> indices;   // rows x k dataset indices
  std::vector<double> distances;  // rows x k
};

/// A built index over a copy of its input's metric rows; move-only. Queries are const and may
/// run from several threads at once.
class CTB_API Index {
 public:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();

  size_t size() const;         // n
  size_t dim() const;          // coordinates per point
  std::string metric() const;  // "residual" or "euclidean"
  std::string engine() const;  // the index that answers: pivot, box, cover-tree, brute
  std::vector<std::string> warnings() const;  // e.g. your p below the residual diagonal

  /// Exact k nearest neighbours. Throws InputError on bad input.
  Neighbours knn(const KnnQuery& query) const;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Builds an index. Throws InputError on bad input (shapes, NaN, unknown names, an engine the
/// metric cannot use, a failed Cholesky).
CTB_API Index build_index(const EuclideanInput& input, const IndexOptions& options = {});
CTB_API Index build_index(const ResidualInput& input, const IndexOptions& options = {});

/// Exact k-NN by scanning every point: the reference for an index's answers.
CTB_API Neighbours brute_force_knn(const EuclideanInput& input, const KnnQuery& query);
CTB_API Neighbours brute_force_knn(const ResidualInput& input, const KnnQuery& query);

/// Points read from a .npy file (float64 or float32, n x d or n), as the CLI reads --points.
struct PointArray {
  std::vector<double> values;  // n x dim, row-major
  size_t n = 0;
  size_t dim = 0;
  EuclideanInput euclidean() const { return EuclideanInput{values, dim}; }
};

/// Throws InputError naming the file and the problem.
CTB_API PointArray read_points_npy(const std::string& path);
/// Writes the indices as an int64 .npy array of shape rows x k (as `knn --out-indices`).
CTB_API void write_indices_npy(const std::string& path, const Neighbours& neighbours);
/// Writes the distances as a float64 .npy array of shape rows x k.
CTB_API void write_distances_npy(const std::string& path, const Neighbours& neighbours);

}  // namespace ctb
