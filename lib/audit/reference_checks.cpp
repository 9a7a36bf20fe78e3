// Parity with the reference's exported gold inputs (covertreex gold/inputs/ layout): the inputs
// must be bit-identical, p agree to float32 precision, and our exact answer must match the
// reference's float64 brute force under the cross-implementation rule (spec §2). The
// reference's own float32 answer is measured against ours and reported, not judged: it is
// known to be wrong for about half of the top-50 at gold settings.
#include <cmath>
#include <cstring>
#include <filesystem>

#include "audit/checks.hpp"
#include "audit/compare.hpp"
#include "core/error.hpp"
#include "data/npy.hpp"
#include "fmt/format.h"

namespace ctb::audit {
namespace {

namespace fs = std::filesystem;

Check make(std::string name, bool ok, std::string detail) {
  return Check{std::move(name), ok ? Verdict::pass : Verdict::fail, std::move(detail)};
}

std::string shape_text(const std::vector<size_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

NpyArray read_required(const fs::path& dir, const char* file) {
  const fs::path path = dir / file;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw InputError(fmt::format("--reference {}: missing file {}", dir.string(), file));
  }
  return read_npy(path);
}

// Flattens a Q-vector or a Q x 1 column of integer ids.
std::vector<int64_t> id_vector(const NpyArray& a, const fs::path& dir, const char* file) {
  const bool vector = a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1);
  if (!vector) {
    throw InputError(fmt::format("{}: expected a vector or a column of indices, got shape {}",
                                 (dir / file).string(), shape_text(a.shape)));
  }
  return a.as_i64((dir / file).string());
}

KnnResult answer(const fs::path& dir, const char* indices_file, const char* distances_file) {
  const NpyArray ids = read_required(dir, indices_file);
  const NpyArray ds = read_required(dir, distances_file);
  if (ids.shape.size() != 2 || ds.shape != ids.shape) {
    throw InputError(fmt::format(
        "--reference {}: {} has shape {} and {} has shape {}; expected "
        "two equal Q x k shapes",
        dir.string(), indices_file, shape_text(ids.shape), distances_file, shape_text(ds.shape)));
  }
  KnnResult r;
  r.n_queries = ids.shape[0];
  r.k = ids.shape[1];
  r.indices = ids.as_i64((dir / indices_file).string());
  r.distances = ds.as_f64();
  // The reference promises ascending rows but not our tie-break; sort so ranks line up.
  sort_rows(r);
  return r;
}

bool bit_identical(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

template <class T>
std::string first_difference(std::span<const T> ours, std::span<const T> theirs) {
  if (ours.size() != theirs.size()) {
    return fmt::format("{} values here, {} in the reference", ours.size(), theirs.size());
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    if (std::memcmp(&ours[i], &theirs[i], sizeof(T)) != 0) {
      return fmt::format("first difference at element {}: {} here, {} in the reference", i, ours[i],
                         theirs[i]);
    }
  }
  return "";
}

}  // namespace

ReferenceFiles load_reference(const std::string& dir_text) {
  const fs::path dir(dir_text);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(fmt::format("--reference {}: not a directory", dir_text));
  }
  ReferenceFiles ref;
  ref.dir = dir_text;
  const NpyArray points = read_required(dir, "points.npy");
  if (points.shape.size() != 2) {
    throw InputError(fmt::format("{}: expected N x d points, got shape {}",
                                 (dir / "points.npy").string(), shape_text(points.shape)));
  }
  if (points.dtype != NpyDtype::f8) {
    throw InputError(fmt::format("{}: expected float64 points (bit-identity is checked)",
                                 (dir / "points.npy").string()));
  }
  ref.points_shape = points.shape;
  ref.points = points.as_f64();
  ref.query_ids = id_vector(read_required(dir, "queries.npy"), dir, "queries.npy");
  ref.inducing = id_vector(read_required(dir, "inducing_idx.npy"), dir, "inducing_idx.npy");
  const NpyArray p = read_required(dir, "p_diag.npy");
  if (p.shape.size() != 1) {
    throw InputError(fmt::format("{}: expected a vector, got shape {}",
                                 (dir / "p_diag.npy").string(), shape_text(p.shape)));
  }
  ref.p = p.as_f64();
  ref.exact_f64 =
      answer(dir, "bruteforce_residual_f64_indices.npy", "bruteforce_residual_f64_distances.npy");
  ref.approx_f32 =
      answer(dir, "bruteforce_residual_indices.npy", "bruteforce_residual_distances.npy");
  return ref;
}

void check_reference(const ReferenceFiles& ref, std::span<const double> points,
                     std::span<const int64_t> query_ids, std::span<const int64_t> inducing,
                     const MetricData& data, const KnnResult& ours, AuditReport& report) {
  auto& checks = report.checks;
  const std::span<const double> ref_points(ref.points);
  const bool points_same = bit_identical(points, ref_points);
  checks.push_back(make("reference.points", points_same,
                        points_same ? fmt::format("{} x {} float64 points bit-identical",
                                                  ref.points_shape[0], ref.points_shape[1])
                                    : first_difference(points, ref_points)));

  const std::span<const int64_t> ref_queries(ref.query_ids);
  const bool queries_same =
      std::equal(query_ids.begin(), query_ids.end(), ref_queries.begin(), ref_queries.end());
  checks.push_back(make("reference.query_indices", queries_same,
                        queries_same ? fmt::format("{} query indices identical", query_ids.size())
                                     : first_difference(query_ids, ref_queries)));

  const std::span<const int64_t> ref_inducing(ref.inducing);
  const bool inducing_same =
      std::equal(inducing.begin(), inducing.end(), ref_inducing.begin(), ref_inducing.end());
  checks.push_back(make("reference.inducing_indices", inducing_same,
                        inducing_same
                            ? fmt::format("{} inducing indices identical", inducing.size())
                            : first_difference(inducing, ref_inducing)));

  // The reference computes p in float64 and stores it as float32: ours must round to within
  // one float32 ulp of theirs (2^-23 relative), which also allows a last-bit difference in
  // their float64 step (their own repeated runs differ there on 1.3% of entries).
  if (data.kind == MetricKind::residual && ref.p.size() == data.n) {
    size_t bad = 0;
    size_t rounds_equal = 0;
    double max_rel = 0.0;
    std::string example;
    for (size_t id = 0; id < data.n; ++id) {
      const double mine = data.p[id];  // data is in dataset order
      const double theirs = ref.p[id];
      const double rel = std::fabs(mine - theirs) / std::max(std::fabs(theirs), 1e-30);
      max_rel = std::max(max_rel, std::isnan(rel) ? INFINITY : rel);
      rounds_equal += static_cast<float>(mine) == static_cast<float>(theirs) ? 1 : 0;
      if (!(rel <= 0x1p-23)) {
        if (bad++ == 0) {
          example =
              fmt::format("row {}: p = {:.9g} here, {:.9g} in the reference", id, mine, theirs);
        }
      }
    }
    checks.push_back(make(
        "reference.p", bad == 0,
        bad == 0 ? fmt::format("{} values within one float32 ulp (max relative difference "
                               "{:.3g}); {} round to the same float32",
                               data.n, max_rel, rounds_equal)
                 : fmt::format("{} of {} values differ by more than one float32 ulp; first: {}",
                               bad, data.n, example)));
  } else {
    checks.push_back(
        make("reference.p", false,
             fmt::format("p_diag.npy has {} values for {} points", ref.p.size(), data.n)));
  }

  // Our exact answer against their float64 brute force: the cross-implementation rule.
  const KnnComparison exact = compare_knn(ours, ref.exact_f64, kCrossImplementationTolerance);
  std::string exact_detail;
  if (!exact.shape_ok) {
    exact_detail = exact.shape_problem + " (the reference's float64 brute force)";
  } else {
    exact_detail = fmt::format(
        "{} queries x {}: max sorted-distance difference {:.3g} (tolerance {:.0e}); recall {:.6f}; "
        "{} index differences, {} explained by ties within {:.0e} of the k-th distance",
        exact.queries, exact.k, exact.max_distance_error, kCrossImplementationTolerance,
        exact.recall(), exact.set_differences, exact.set_differences_explained,
        kCrossImplementationTolerance);
    if (!exact.exact()) exact_detail += "; first: " + exact.first_problem;
  }
  checks.push_back(make("reference.exact_f64", exact.exact(), exact_detail));

  // Reported, not judged: how far the reference's float32 answer is from exact.
  const KnnComparison f32 = compare_knn(ref.approx_f32, ours, kCrossImplementationTolerance);
  if (f32.shape_ok) {
    size_t identical_rows = 0;
    for (size_t q = 0; q < ours.n_queries; ++q) {
      bool same = true;
      for (size_t r = 0; r < ours.k && same; ++r) {
        same = ours.indices[q * ours.k + r] == ref.approx_f32.indices[q * ours.k + r];
      }
      identical_rows += same ? 1 : 0;
    }
    report.reference_f32_recall = f32.recall();
    report.reported.push_back(Reported{
        "reference_f32_recall", f32.recall(),
        fmt::format("the reference's float32 brute force finds {} of our {} exact neighbours "
                    "(recall@{} {:.4f}); {} of {} rows identical",
                    f32.hits, f32.truth_ids, ours.k, f32.recall(), identical_rows,
                    ours.n_queries)});
    report.reported.push_back(Reported{
        "reference_f32_max_distance_error", f32.max_distance_error,
        fmt::format("largest |sorted distance difference| to exact: {:.3g}; {} of {} ranks off "
                    "by more than {:.0e}",
                    f32.max_distance_error, f32.distance_violations, f32.queries * f32.k,
                    kCrossImplementationTolerance)});
  } else {
    report.reported.push_back(Reported{"reference_f32_recall", NAN, f32.shape_problem});
  }
}

}  // namespace ctb::audit
