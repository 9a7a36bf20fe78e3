#include "audit/compare.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "fmt/format.h"

namespace ctb::audit {
namespace {

// The largest real (non-padding) distance of a row: its k-th distance when the row is full.
double row_kth(const KnnResult& r, size_t q) {
  double kth = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < r.k; ++i) {
    if (r.indices[q * r.k + i] >= 0) kth = std::max(kth, r.distances[q * r.k + i]);
  }
  return kth;
}

// Position of `id` in row q, or -1.
ptrdiff_t find_in_row(const KnnResult& r, size_t q, int64_t id) {
  for (size_t i = 0; i < r.k; ++i) {
    if (r.indices[q * r.k + i] == id) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

}  // namespace

KnnComparison compare_knn(const KnnResult& got, const KnnResult& truth, double tol) {
  KnnComparison c;
  c.queries = truth.n_queries;
  c.k = truth.k;
  if (got.n_queries != truth.n_queries || got.k != truth.k ||
      got.indices.size() != got.n_queries * got.k ||
      got.distances.size() != got.n_queries * got.k ||
      truth.indices.size() != truth.n_queries * truth.k ||
      truth.distances.size() != truth.n_queries * truth.k) {
    c.shape_ok = false;
    c.shape_problem = fmt::format("answer is {} x {}, expected {} x {}", got.n_queries, got.k,
                                  truth.n_queries, truth.k);
    return c;
  }
  const size_t k = truth.k;
  for (size_t q = 0; q < truth.n_queries; ++q) {
    std::string problem;
    auto note = [&](std::string text) {
      if (problem.empty()) problem = std::move(text);
    };

    for (size_t r = 0; r < k; ++r) {
      const double a = got.distances[q * k + r];
      const double b = truth.distances[q * k + r];
      const bool both_padding = std::isinf(a) && std::isinf(b) && a > 0 && b > 0;
      const double err = both_padding ? 0.0 : std::fabs(a - b);
      const bool ok = both_padding || (std::isfinite(a) && std::isfinite(b) && err <= tol);
      // NaN compares false everywhere; record it as an infinite error rather than lose it.
      c.max_distance_error = std::max(c.max_distance_error, std::isnan(err) ? INFINITY : err);
      if (!ok) {
        ++c.distance_violations;
        note(fmt::format("rank {}: distance {:.17g} vs {:.17g} (|delta| {:.3g} > {:.0e})", r, a, b,
                         err, tol));
      }
      const int64_t ga = got.indices[q * k + r];
      const int64_t tb = truth.indices[q * k + r];
      if (ga != tb) {
        ++c.rank_mismatches;
        if (ok) {
          ++c.rank_mismatches_explained;
        } else {
          note(fmt::format("rank {}: index {} vs {}", r, ga, tb));
        }
      }
    }

    const double kth_got = row_kth(got, q);
    const double kth_truth = row_kth(truth, q);
    for (size_t r = 0; r < k; ++r) {
      const int64_t id = truth.indices[q * k + r];
      if (id < 0) continue;
      ++c.truth_ids;
      if (find_in_row(got, q, id) >= 0) {
        ++c.hits;
        continue;
      }
      ++c.set_differences;
      const double d = truth.distances[q * k + r];
      if (d >= kth_truth - tol) {
        ++c.set_differences_explained;
      } else {
        note(fmt::format("index {} (distance {:.17g}, rank {}) missing; k-th distance {:.17g}", id,
                         d, r, kth_truth));
      }
    }
    for (size_t r = 0; r < k; ++r) {
      const int64_t id = got.indices[q * k + r];
      if (id < 0 || find_in_row(truth, q, id) >= 0) continue;
      ++c.set_differences;
      const double d = got.distances[q * k + r];
      if (d >= kth_got - tol) {
        ++c.set_differences_explained;
      } else {
        note(fmt::format("index {} (distance {:.17g}, rank {}) returned but not in the truth", id,
                         d, r));
      }
    }
    if (!problem.empty()) {
      ++c.queries_with_problems;
      if (c.first_bad_query == std::numeric_limits<size_t>::max()) {
        c.first_bad_query = q;
        c.first_problem = fmt::format("query {}: {}", q, problem);
      }
    }
  }
  return c;
}

size_t check_well_formed(const KnnResult& answer, size_t n_points, std::string* example) {
  size_t bad_rows = 0;
  const size_t k = answer.k;
  if (answer.indices.size() != answer.n_queries * k ||
      answer.distances.size() != answer.n_queries * k) {
    if (example) *example = "answer arrays do not match its Q x k shape";
    return answer.n_queries == 0 ? 1 : answer.n_queries;
  }
  std::vector<int64_t> ids;
  for (size_t q = 0; q < answer.n_queries; ++q) {
    std::string problem;
    bool padding_seen = false;
    ids.clear();
    for (size_t r = 0; r < k && problem.empty(); ++r) {
      const int64_t id = answer.indices[q * k + r];
      const double d = answer.distances[q * k + r];
      if (id == -1) {
        padding_seen = true;
        if (!(std::isinf(d) && d > 0)) {
          problem = fmt::format("rank {}: padding index -1 with distance {} (expected inf)", r, d);
        }
        continue;
      }
      if (id < 0 || static_cast<uint64_t>(id) >= n_points) {
        problem = fmt::format("rank {}: index {} outside [0, {})", r, id, n_points);
      } else if (padding_seen) {
        problem = fmt::format("rank {}: index {} after -1 padding", r, id);
      } else if (std::isnan(d) || d < 0) {
        problem = fmt::format("rank {}: distance {} for index {}", r, d, id);
      } else if (r > 0 && answer.indices[q * k + r - 1] >= 0) {
        const double pd = answer.distances[q * k + r - 1];
        const int64_t pid = answer.indices[q * k + r - 1];
        if (pd > d || (pd == d && pid > id)) {
          problem = fmt::format(
              "ranks {}-{}: ({:.17g}, {}) before ({:.17g}, {}) breaks the "
              "(distance, index) order",
              r - 1, r, pd, pid, d, id);
        }
      }
      if (problem.empty()) {
        if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
          problem = fmt::format("rank {}: index {} appears twice", r, id);
        }
        ids.push_back(id);
      }
    }
    if (!problem.empty()) {
      if (bad_rows == 0 && example) *example = fmt::format("query {}: {}", q, problem);
      ++bad_rows;
    }
  }
  return bad_rows;
}

void sort_rows(KnnResult& answer) {
  const size_t k = answer.k;
  std::vector<size_t> order(k);
  std::vector<int64_t> ids(k);
  std::vector<double> ds(k);
  for (size_t q = 0; q < answer.n_queries; ++q) {
    int64_t* id_row = answer.indices.data() + q * k;
    double* d_row = answer.distances.data() + q * k;
    std::iota(order.begin(), order.end(), size_t{0});
    // Padding (-1) sorts last whatever its distance; NaN sorts last among real neighbours.
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const bool pa = id_row[a] < 0;
      const bool pb = id_row[b] < 0;
      if (pa != pb) return pb;
      const double da = d_row[a];
      const double db = d_row[b];
      if (std::isnan(da) != std::isnan(db)) return std::isnan(db);
      if (da != db && !std::isnan(da)) return da < db;
      return id_row[a] < id_row[b];
    });
    for (size_t i = 0; i < k; ++i) {
      ids[i] = id_row[order[i]];
      ds[i] = d_row[order[i]];
    }
    std::copy(ids.begin(), ids.end(), id_row);
    std::copy(ds.begin(), ds.end(), d_row);
  }
}

}  // namespace ctb::audit
