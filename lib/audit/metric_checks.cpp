// Metric sanity: the properties the search's pruning relies on (spec §1-2), measured on
// sampled rows with the search's own distance kernel.
//
// The triangle inequality holds for the true distances; computed ones break it by up to their
// rounding errors, which the metric amplifies (p_i ~ 1e-7 at gold settings). A fixed
// tolerance would be either too loose for well-conditioned data or too tight for gold, so each
// triple gets the sum of the three distances' rounding-error bounds
// (residual_distance_error_bound), derived from the length-m dot product's worst case.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "audit/checks.hpp"
#include "fmt/format.h"
#include "metric/distance_kernels.hpp"

namespace ctb::audit {
namespace {

constexpr double kUnit = 0x1p-53;  // unit roundoff of float64
constexpr double kSymmetryTolerance = 1e-12;

Check make(std::string name, bool ok, std::string detail) {
  return Check{std::move(name), ok ? Verdict::pass : Verdict::fail, std::move(detail)};
}

double norm_sq(const double* v, size_t m) {
  double s = 0.0;
  for (size_t c = 0; c < m; ++c) s += v[c] * v[c];
  return s;
}

// Worst-case relative error of a length-m sum of products (Higham's gamma_m).
double gamma(size_t m) {
  const double mu = static_cast<double>(m + 2) * kUnit;
  return mu / (1.0 - mu);
}

double euclidean_error_bound(const MetricData& data, size_t i, size_t j, double d) {
  const double ni = std::sqrt(norm_sq(data.coord_row(i), data.dim));
  const double nj = std::sqrt(norm_sq(data.coord_row(j), data.dim));
  return 4.0 * gamma(data.dim) * (d + ni + nj) + 1e-300;
}

double error_bound(const MetricData& data, size_t i, size_t j, double d) {
  return data.kind == MetricKind::residual ? residual_distance_error_bound(data, i, j, d)
                                           : euclidean_error_bound(data, i, j, d);
}

// One distance with the search's kernel: row j seen from row i as the query.
double kernel_distance(const MetricData& data, size_t i, size_t j) {
  const int32_t row = static_cast<int32_t>(j);
  double out = 0.0;
  distances_to_rows(data, query_row(data, i), std::span<const int32_t>(&row, 1), &out);
  return out;
}

}  // namespace

double residual_distance_error_bound(const MetricData& data, size_t i, size_t j, double d) {
  const size_t m = data.rank;
  const double g = gamma(m);
  const double var = data.kernel.variance;
  const double vi = norm_sq(data.v_row(i), m);
  const double vj = norm_sq(data.v_row(j), m);
  // Kernel value: exp/polynomial to a few ulps, plus the squared distance's cancellation,
  // which grows with the coordinates' magnitude relative to the lengthscale.
  const double ni = std::sqrt(norm_sq(data.coord_row(i), data.dim));
  const double nj = std::sqrt(norm_sq(data.coord_row(j), data.dim));
  const double ell = data.kernel.lengthscale;
  const double spread = (ni + nj) * (ni + nj) / (ell * ell);
  const double dk = (8.0 + 4.0 * static_cast<double>(data.dim)) * kUnit * var * (1.0 + spread);
  const double dvv = g * std::sqrt(vi * vj);
  const double pi = data.p[i];
  const double pj = data.p[j];
  const double dpi = g * (var + vi);
  const double dpj = g * (var + vj);
  const double s = std::sqrt(std::max(pi * pj, 1e-18));
  const double rel_s = 0.5 * (dpi / std::max(pi, 1e-9) + dpj / std::max(pj, 1e-9)) + 4 * kUnit;
  // |rho| <= 1 after clamping; the unclamped numerator/denominator is bounded the same way.
  const double drho = (dk + dvv) / s + rel_s + 8 * kUnit;
  // d^2 = 1 - |rho| moves by at most drho, so d moves by at most drho / d and sqrt(drho).
  const double dd = d > 0 ? std::min(std::sqrt(drho), drho / d) : std::sqrt(drho);
  return dd + 2 * kUnit * d;
}

std::vector<Check> check_metric(const MetricData& data, std::span<const int64_t> query_ids,
                                const KnnResult& exact, size_t samples, uint64_t seed,
                                int /*threads*/) {
  std::vector<Check> checks;
  const size_t n = data.n;
  if (n == 0) {
    checks.push_back(make("metric.rows", false, "no rows"));
    return checks;
  }
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t bound) { return static_cast<size_t>(rng() % bound); };
  const bool residual = data.kind == MetricKind::residual;
  const double upper = residual ? 1.0 : std::numeric_limits<double>::infinity();

  // Range over everything we compute here plus the exact answer's distances.
  size_t range_checked = 0;
  size_t out_of_range = 0;
  double lowest = std::numeric_limits<double>::infinity();
  double highest = -std::numeric_limits<double>::infinity();
  std::string range_example;
  auto in_range = [&](double d, size_t i, size_t j) {
    ++range_checked;
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
    if (!(d >= 0.0 && d <= upper)) {
      if (out_of_range++ == 0) range_example = fmt::format("d({}, {}) = {}", i, j, d);
    }
  };

  // --- d(i, i) = 0, with the search kernel and the scalar reference.
  size_t self_checked = 0;
  size_t self_bad = 0;
  std::string self_example;
  auto check_self = [&](size_t i) {
    const double a = kernel_distance(data, i, i);
    const double b = distance_scalar(data, query_row(data, i), i);
    ++self_checked;
    if (a != 0.0 || b != 0.0) {
      if (self_bad++ == 0) self_example = fmt::format("d({0}, {0}) = {1} (scalar {2})", i, a, b);
    }
  };
  for (const int64_t id : query_ids) {
    if (id >= 0 && static_cast<size_t>(id) < n) check_self(static_cast<size_t>(id));
  }
  for (size_t s = 0; s < std::min(samples, n); ++s) check_self(pick(n));
  checks.push_back(
      make("metric.self_distance", self_bad == 0,
           self_bad == 0
               ? fmt::format("d(i, i) = 0 for {} sampled rows (kernel and scalar)", self_checked)
               : fmt::format("{} of {} rows have d(i, i) != 0; first: {}", self_bad, self_checked,
                             self_example)));

  // Close pairs come from the exact answer (neighbours of queries); far pairs are uniform.
  std::vector<std::pair<size_t, size_t>> pairs;
  auto neighbour = [&](size_t q) -> int64_t {
    size_t real = 0;
    while (real < exact.k && exact.indices[q * exact.k + real] >= 0) ++real;
    return real == 0 ? -1 : exact.indices[q * exact.k + pick(real)];
  };
  const size_t nq = std::min(exact.n_queries, query_ids.size());
  for (size_t s = 0; s < samples; ++s) {
    if (nq > 0 && s % 2 == 0) {
      const size_t q = pick(nq);
      const int64_t j = neighbour(q);
      const int64_t i = query_ids[q];
      if (j >= 0 && i >= 0 && static_cast<size_t>(i) < n && static_cast<size_t>(j) < n) {
        pairs.emplace_back(static_cast<size_t>(i), static_cast<size_t>(j));
        continue;
      }
    }
    pairs.emplace_back(pick(n), pick(n));
  }

  // --- symmetry.
  double max_asym = 0.0;
  size_t asym_bad = 0;
  std::string asym_example;
  for (const auto& [i, j] : pairs) {
    const double a = kernel_distance(data, i, j);
    const double b = kernel_distance(data, j, i);
    in_range(a, i, j);
    const double diff = std::fabs(a - b);
    max_asym = std::max(max_asym, std::isnan(diff) ? INFINITY : diff);
    if (!(diff <= kSymmetryTolerance)) {
      if (asym_bad++ == 0) {
        asym_example = fmt::format("d({}, {}) = {:.17g} but d({}, {}) = {:.17g}", i, j, a, j, i, b);
      }
    }
  }
  checks.push_back(make(
      "metric.symmetry", asym_bad == 0,
      asym_bad == 0
          ? fmt::format("{} pairs (half of them query-neighbour pairs): max |d(i,j) - d(j,i)| = "
                        "{:.3g} (tolerance {:.0e})",
                        pairs.size(), max_asym, kSymmetryTolerance)
          : fmt::format("{} of {} pairs asymmetric beyond {:.0e}; first: {}", asym_bad,
                        pairs.size(), kSymmetryTolerance, asym_example)));

  // --- triangle inequality on triples: (query, two of its neighbours) and uniform triples.
  size_t triples = 0;
  size_t tri_bad = 0;
  double max_violation = -std::numeric_limits<double>::infinity();
  double max_ratio = 0.0;  // violation / tolerance, over triples that violate at all
  double max_tolerance = 0.0;
  std::string tri_example;
  for (size_t s = 0; s < samples; ++s) {
    size_t a = pick(n);
    size_t b = pick(n);
    size_t c = pick(n);
    if (nq > 0 && s % 2 == 0) {
      const size_t q = pick(nq);
      const int64_t i = query_ids[q];
      const int64_t j = neighbour(q);
      const int64_t l = neighbour(q);
      if (i >= 0 && j >= 0 && l >= 0 && static_cast<size_t>(i) < n && static_cast<size_t>(j) < n &&
          static_cast<size_t>(l) < n) {
        a = static_cast<size_t>(i);
        b = static_cast<size_t>(j);
        c = static_cast<size_t>(l);
      }
    }
    const double ab = kernel_distance(data, a, b);
    const double bc = kernel_distance(data, b, c);
    const double ac = kernel_distance(data, a, c);
    in_range(bc, b, c);
    in_range(ac, a, c);
    const double tol =
        error_bound(data, a, b, ab) + error_bound(data, b, c, bc) + error_bound(data, a, c, ac);
    const double violation = std::max({ac - ab - bc, ab - ac - bc, bc - ab - ac});
    ++triples;
    max_violation = std::max(max_violation, violation);
    max_tolerance = std::max(max_tolerance, tol);
    if (violation > 0) max_ratio = std::max(max_ratio, violation / tol);
    if (!(violation <= tol)) {
      if (tri_bad++ == 0) {
        tri_example = fmt::format(
            "rows ({}, {}, {}): d = {:.17g}, {:.17g}, {:.17g} violate by {:.3g} > rounding bound "
            "{:.3g}",
            a, b, c, ab, bc, ac, violation, tol);
      }
    }
  }
  checks.push_back(make(
      "metric.triangle", tri_bad == 0,
      tri_bad == 0
          ? fmt::format("{} triples (half query + two neighbours): max violation {:.3g}, at most "
                        "{:.2f} of the triple's rounding bound (largest bound {:.3g})",
                        triples, std::max(0.0, max_violation), max_ratio, max_tolerance)
          : fmt::format("{} of {} triples violate beyond the rounding bound; first: {}", tri_bad,
                        triples, tri_example)));

  for (size_t q = 0; q < exact.n_queries; ++q) {
    for (size_t r = 0; r < exact.k; ++r) {
      const int64_t id = exact.indices[q * exact.k + r];
      if (id >= 0) {
        // Named by dataset index when the query is a tree point (else by query number).
        const size_t from = q < query_ids.size() ? static_cast<size_t>(query_ids[q]) : q;
        in_range(exact.distances[q * exact.k + r], from, static_cast<size_t>(id));
      }
    }
  }
  checks.push_back(make(
      "metric.range", out_of_range == 0,
      out_of_range == 0
          ? fmt::format("{} distances (sampled pairs and every exact answer) in [{:.3g}, {:.3g}] "
                        "within [0, {}]",
                        range_checked, lowest, highest, residual ? "1" : "inf")
          : fmt::format("{} of {} distances outside [0, {}] or not finite; first: {}", out_of_range,
                        range_checked, residual ? "1" : "inf", range_example)));

  // --- p_i = max(k(x_i, x_i) - |V_i|^2, 1e-9), recomputed for every row.
  if (residual) {
    size_t p_bad = 0;
    double max_err = 0.0;
    double min_p = std::numeric_limits<double>::infinity();
    std::string p_example;
    const double g = gamma(data.rank);
    for (size_t i = 0; i < n; ++i) {
      const double kii = kernel_value(data.kernel, data.coord_row(i), data.coord_row(i), data.dim);
      const double vv = norm_sq(data.v_row(i), data.rank);
      const double expected = std::max(kii - vv, 1e-9);
      const double tol = 2.0 * g * (std::fabs(kii) + vv) + 1e-300;
      const double err = std::fabs(data.p[i] - expected);
      min_p = std::min(min_p, data.p[i]);
      max_err = std::max(max_err, std::isnan(err) ? INFINITY : err);
      if (!(err <= tol) || !(data.p[i] >= 1e-9)) {
        if (p_bad++ == 0) {
          p_example = fmt::format("row {}: p = {:.17g}, k(x,x) - |V|^2 = {:.17g} - {:.17g}", i,
                                  data.p[i], kii, vv);
        }
      }
    }
    checks.push_back(make(
        "metric.p_consistency", p_bad == 0,
        p_bad == 0 ? fmt::format("all {} rows: p_i = max(k(x_i,x_i) - |V_i|^2, 1e-9) within "
                                 "rounding (max |error| {:.3g}); min p {:.3g}",
                                 n, max_err, min_p)
                   : fmt::format("{} of {} rows inconsistent; first: {}", p_bad, n, p_example)));
  }
  return checks;
}

}  // namespace ctb::audit
