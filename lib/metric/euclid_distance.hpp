#pragma once
// The Euclidean distance, in one place: every Euclidean entry point (the distance kernels'
// Euclidean branch, distance_scalar, the brute force, the Euclidean box-tree search in
// tree/euclid_knn.cpp) computes a (query, row) distance with exactly these operations, so its
// bits do not depend on which of them computed it.
//
//   r2 = ((0 + t_0 * t_0) + t_1 * t_1) + ... + t_{dim-1} * t_{dim-1},  t_k = x_k - y_k
//   d  = sqrt(r2)  (correctly rounded, so std::sqrt and a SIMD sqrt agree)
//
// Every product is rounded on its own (the project compiles with -ffp-contract=off) and the
// sum runs over the dimensions in order. Vectorising ACROSS rows (one row per lane, as the
// box-tree leaf scan does) keeps each row's operation order, hence its bits.
//
// Monotonicity, which the box tree's exact pruning relies on: each step (subtraction, square,
// addition) is a correctly rounded monotone function of its exact inputs, so if |g_k| <=
// |t_k| for every k then euclid_squared(g) <= euclid_squared(t) in floating point too.
#include <cmath>
#include <cstddef>

namespace ctb {

/// Squared distance of two coordinate rows of `dim` values (runtime dimension).
inline double euclid_squared(const double* x, const double* y, size_t dim) {
  double r2 = 0.0;
  for (size_t k = 0; k < dim; ++k) {
    const double t = x[k] - y[k];
    r2 += t * t;
  }
  return r2;
}

/// The reported distance from a squared distance.
inline double euclid_from_squared(double r2) { return std::sqrt(r2); }

}  // namespace ctb
