// knn_example POINTS.npy K OUT.npy: the exact Euclidean k nearest neighbours of every point
// (float64 n x d in; int64 n x K out, nearest first, ties by the lower index, a point its own
// nearest), as `covertree-bench knn --metric euclidean --points POINTS.npy --k K
// --out-indices OUT.npy` writes them. Built against the installed covertree_bench package.
#include <charconv>
#include <covertree_bench/covertree_bench.hpp>
#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: knn_example POINTS.npy K OUT.npy\n");
    return 2;
  }
  const std::string k_arg = argv[2];
  size_t k = 0;
  const auto [end, ec] = std::from_chars(k_arg.data(), k_arg.data() + k_arg.size(), k);
  if (ec != std::errc() || end != k_arg.data() + k_arg.size()) {
    std::fprintf(stderr, "knn_example: K must be a whole number (got '%s')\n", argv[2]);
    return 2;
  }
  try {
    const ctb::PointArray points = ctb::read_points_npy(argv[1]);
    const ctb::Index index = ctb::build_index(points.euclidean());
    ctb::KnnQuery query;
    query.k = k;
    const ctb::Neighbours nn = index.knn(query);
    ctb::write_indices_npy(argv[3], nn);
    std::printf("covertree_bench %s: %zu points, k = %zu, engine %s -> %s\n",
                ctb::version().c_str(), index.size(), k, index.engine().c_str(), argv[3]);
  } catch (const ctb::InputError& e) {
    std::fprintf(stderr, "knn_example: %s\n", e.what());
    return 2;
  }
  return 0;
}
