#pragma once
// Comparing two k-NN answers under the exactness rules of spec §2.
//
// One comparison serves both rules; only the tolerance changes:
//  - same kernel (tree vs our brute force): tol = 1e-12. Both sides evaluate each distance
//    with the same code, so sorted distances agree to the last bits, and with the (distance,
//    index) tie-break so do the indices.
//  - another implementation (the reference's files): tol = 1e-6, because the metric amplifies
//    summation-order rounding (p_i ~ 1e-7 at gold settings).
// A difference in indices is "explained by a tie" when the distances involved agree within
// tol: a neighbour swapped for another at the same distance (up to rounding) is not an error,
// and is counted apart so a report can show it rather than hide it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "search/knn.hpp"

namespace ctb::audit {

inline constexpr double kSameKernelTolerance = 1e-12;
inline constexpr double kCrossImplementationTolerance = 1e-6;

struct KnnComparison {
  bool shape_ok = true;
  std::string shape_problem;  // set when the two answers are not both Q x k
  size_t queries = 0;
  size_t k = 0;
  // Recall@k of `got` against `truth`: truth ids (padding -1 excluded) found in got's row.
  size_t truth_ids = 0;
  size_t hits = 0;
  double recall() const {
    return truth_ids == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(truth_ids);
  }
  // Ids in one row but not the other. Explained: its distance lies within tol of the row's
  // k-th distance (a boundary tie). Counted once per side.
  size_t set_differences = 0;
  size_t set_differences_explained = 0;
  size_t set_differences_unexplained() const { return set_differences - set_differences_explained; }
  // Rank-wise: positions where the indices differ; explained when the sorted distances at that
  // rank agree within tol.
  size_t rank_mismatches = 0;
  size_t rank_mismatches_explained = 0;
  size_t rank_mismatches_unexplained() const { return rank_mismatches - rank_mismatches_explained; }
  // Sorted distances rank by rank (inf against inf, i.e. padding on both sides, counts as 0).
  double max_distance_error = 0.0;
  size_t distance_violations = 0;  // ranks with |delta| > tol (or one side non-finite)
  size_t queries_with_problems = 0;
  size_t first_bad_query = std::numeric_limits<size_t>::max();
  std::string first_problem;  // one readable example, for the report

  /// True when every difference is explained: the rule of spec §2 holds for this tolerance.
  bool exact() const {
    return shape_ok && distance_violations == 0 && set_differences_unexplained() == 0 &&
           rank_mismatches_unexplained() == 0;
  }
};

/// Compares `got` with `truth` (both rows sorted by (distance, id)) under tolerance `tol`.
KnnComparison compare_knn(const KnnResult& got, const KnnResult& truth, double tol);

/// Problems with one answer on its own: ids outside [0, n) other than -1 padding, padding
/// before real neighbours, duplicate ids in a row, rows not sorted by (distance, id),
/// NaN distances. Returns the number of bad rows; `example` gets the first problem.
size_t check_well_formed(const KnnResult& answer, size_t n_points, std::string* example);

/// Sorts every row by (distance, id), for answers from outside whose order is not promised.
void sort_rows(KnnResult& answer);

}  // namespace ctb::audit
