#include <covertree_bench/covertree_bench.hpp>
#include <cstdio>
#include <vector>

int main() {
  std::printf("%s\n", ctb::version().c_str());
  const std::vector<double> points = {0.0, 0.0, 1.0, 0.0, 0.0, 2.0};
  const ctb::Index index = ctb::build_index(ctb::EuclideanInput{points, 2});
  ctb::KnnQuery query;
  query.k = 2;
  const ctb::Neighbours nn = index.knn(query);
  // Point 1's nearest are itself, then point 0.
  if (nn.indices[2] != 1 || nn.indices[3] != 0) {
    std::fprintf(stderr, "consumer: wrong neighbours\n");
    return 1;
  }
  query.k = 4;  // more than n
  try {
    (void)index.knn(query);
  } catch (const ctb::InputError&) {
    return 0;
  }
  std::fprintf(stderr, "consumer: k > n did not throw ctb::InputError\n");
  return 1;
}
