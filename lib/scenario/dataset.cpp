#include "scenario/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "core/error.hpp"
#include "data/npy.hpp"
#include "data/numpy_rng.hpp"

namespace ctb {
namespace {

[[noreturn]] void fail(const Scenario& s, std::string_view field, std::string_view problem) {
  throw InputError(fmt::format("{}: field '{}': {}", s.source, field, problem));
}

std::string shape_string(const std::vector<size_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

bool is_float(NpyDtype dtype) { return dtype == NpyDtype::f8 || dtype == NpyDtype::f4; }

// read_npy's own errors name the file; prefix the field so the user knows which input it was.
NpyArray load(const Scenario& s, std::string_view field, const std::string& path) {
  try {
    return read_npy(path);
  } catch (const InputError& e) {
    fail(s, field, e.what());
  }
}

// Coordinates feed distances, where one NaN silently poisons every comparison.
void check_finite(const Scenario& s, std::string_view field, const std::string& path,
                  const std::vector<double>& values, size_t dim) {
  const auto bad =
      std::find_if(values.begin(), values.end(), [](double x) { return !std::isfinite(x); });
  if (bad != values.end()) {
    const size_t index = static_cast<size_t>(bad - values.begin());
    fail(s, field,
         fmt::format("{}: non-finite coordinate {} at row {} (column {})", path, *bad, index / dim,
                     index % dim));
  }
}

// Integer index arrays: shape (Q,) or (Q, 1), every value in [0, n).
std::vector<int64_t> load_indices(const Scenario& s, std::string_view field,
                                  const std::string& path, const NpyArray& array, size_t n) {
  const auto& shape = array.shape;
  if (!(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1))) {
    fail(s, field,
         fmt::format("{}: expected shape (Q,) or (Q, 1) of indices (got {})", path,
                     shape_string(shape)));
  }
  if (array.size() == 0) fail(s, field, fmt::format("{}: no indices", path));
  std::vector<int64_t> ids;
  try {
    ids = array.as_i64(path);
  } catch (const InputError& e) {
    fail(s, field, e.what());
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<uint64_t>(ids[i]) >= n) {
      fail(s, field,
           fmt::format("{}: index {} at position {} is out of range [0, {})", path, ids[i], i, n));
    }
  }
  return ids;
}

void load_points(const Scenario& s, Dataset& d) {
  const std::string& path = s.data.npy_path;
  const NpyArray array = load(s, "data", path);
  if (!is_float(array.dtype) || array.shape.size() != 2) {
    fail(s, "data",
         fmt::format("{}: expected a 2-D float64 or float32 array (n, dim) (got shape {})", path,
                     shape_string(array.shape)));
  }
  d.n = array.shape[0];
  d.dim = array.shape[1];
  if (d.n == 0 || d.dim == 0) {
    fail(s, "data", fmt::format("{}: empty array (shape {})", path, shape_string(array.shape)));
  }
  if (d.n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail(s, "data", fmt::format("{}: too many points ({})", path, d.n));
  }
  d.points = array.as_f64();
  check_finite(s, "data", path, d.points, d.dim);
}

void load_queries(const Scenario& s, Dataset& d) {
  const std::string& path = s.queries.npy_path;
  const NpyArray array = load(s, "queries", path);
  if (s.metric == MetricKind::euclidean && is_float(array.dtype)) {
    if (array.shape.size() != 2 || array.shape[1] != d.dim || array.shape[0] == 0) {
      fail(s, "queries",
           fmt::format("{}: expected query points of shape (Q, {}) (got {})", path, d.dim,
                       shape_string(array.shape)));
    }
    d.query_points = array.as_f64();
    check_finite(s, "queries", path, d.query_points, d.dim);
    return;
  }
  if (is_float(array.dtype)) {
    fail(
        s, "queries",
        fmt::format("{}: expected int64 dataset indices for metric 'residual' (got floats)", path));
  }
  d.query_ids = load_indices(s, "queries", path, array, d.n);
}

void make_inducing(const Scenario& s, Dataset& d) {
  const ResidualSpec& r = s.residual;
  if (r.inducing_npy.empty()) {
    if (r.inducing_count > d.n) {
      fail(s, "residual.inducing_count",
           fmt::format("must be <= the number of points {} (got {})", d.n, r.inducing_count));
    }
    d.inducing = NumpyRng(r.inducing_seed)
                     .choice_without_replacement(static_cast<int64_t>(d.n), r.inducing_count);
  } else {
    const NpyArray array = load(s, "residual.inducing_seed", r.inducing_npy);
    if (is_float(array.dtype)) {
      fail(s, "residual.inducing_seed",
           fmt::format("{}: expected int64 dataset indices (got floats)", r.inducing_npy));
    }
    d.inducing = load_indices(s, "residual.inducing_seed", r.inducing_npy, array, d.n);
  }
  std::sort(d.inducing.begin(), d.inducing.end());
  // A repeated inducing point makes K_mm singular when jitter is 0; it is never intended.
  const auto dup = std::adjacent_find(d.inducing.begin(), d.inducing.end());
  if (dup != d.inducing.end()) {
    fail(s, "residual.inducing_seed",
         fmt::format("{}: index {} appears more than once", r.inducing_npy, *dup));
  }
}

}  // namespace

Dataset materialize(const Scenario& s) {
  Dataset d;
  if (s.data.npy_path.empty()) {
    d.n = s.data.n;
    d.dim = s.data.dim;
    d.points = NumpyRng(s.data.seed).normal(0.0, 1.0, d.n * d.dim);
  } else {
    load_points(s, d);
  }
  if (s.k > d.n) {
    fail(s, "k", fmt::format("must be <= the number of points {} (got {})", d.n, s.k));
  }

  switch (s.queries.kind) {
    case QuerySpec::Kind::all:
      d.query_ids.resize(d.n);
      for (size_t i = 0; i < d.n; ++i) d.query_ids[i] = static_cast<int64_t>(i);
      break;
    case QuerySpec::Kind::generated:
      if (s.metric == MetricKind::residual) {
        d.query_ids =
            NumpyRng(s.queries.seed).integers(0, static_cast<int64_t>(d.n), s.queries.count);
      } else {
        d.query_points = NumpyRng(s.queries.seed).normal(0.0, 1.0, s.queries.count * d.dim);
      }
      break;
    case QuerySpec::Kind::npy:
      load_queries(s, d);
      break;
  }
  if (s.query.predecessor && d.query_ids.empty()) {
    fail(s, "query.predecessor",
         "needs queries that are dataset indices (the query file holds fresh points)");
  }

  if (s.metric == MetricKind::residual) make_inducing(s, d);
  return d;
}

}  // namespace ctb
