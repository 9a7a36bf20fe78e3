// Exact residual k-NN through the Hilbert-bound index (the argument and the rounding budget are
// in hilbert_index.cpp). Per query:
//  1. Seed: evaluate the `seed_rows` Euclidean-nearest admissible rows; their k-th distance
//     bounds the true one from above (residual neighbours are spatially local, spec §9).
//  2. Pivots: compute the signed rho to the `pivot_candidates` Euclidean-nearest pivots, keep
//     the `bound_pivots` of largest |rho|, and solve for beta (Cholesky of G + lambda I: any
//     beta gives a valid bound, the regularisation only keeps it tight and finite).
//  3. Bound passes: super groups, then the groups of live super groups, then the cheap form per
//     point of live groups, then the full form on its survivors.
//  4. Evaluate the candidates by descending bound in tiles; after each tile the k-th distance
//     has only shrunk, so the remaining candidates are re-tested against it.
// Plan: a query without k admissible seeds, a predecessor query with few predecessors, or one
// whose bound leaves more than `scan_after` candidates goes to the blocked scan (dense_scan.hpp),
// which shares each loaded row among a block of such queries. The choice is a function of the
// query and the index only (counted work, never timings), so counters are reproducible.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/coord_index.hpp"
#include "tree/dense_scan.hpp"
#include "tree/evaluate.hpp"
#include "tree/hilbert_index.hpp"

namespace ctb {
namespace {

constexpr size_t kTile = 32;        // candidates per distances_to_rows call
constexpr size_t kQueryChunk = 16;  // queries per parallel task (neighbours in Hilbert order)
constexpr size_t kMaxPivots = 64;   // bound_pivots cap (the small dense algebra is n^2, n^3)
constexpr double kEps = 2.3e-16;    // 2^-52 with a margin: one rounding of a double
constexpr double kInf = std::numeric_limits<double>::infinity();
// The plan's cost model (see hilbert_knn), in nanoseconds of one core, counted work only.
constexpr double kFixedQueryNs = 45000.0;  // k-d searches, pivot correlations, the bound algebra
constexpr double kBoundEvalNs = 12.0;      // one bound evaluation (box or point form)
constexpr double kGatheredRows = 5.0;      // a gathered evaluation costs ~5 scanned ones (§12)
// One scanned row of rank m in the blocked scan: ~m / 40 ns plus the finish.
double scan_row_ns(size_t m) { return 2.0 + static_cast<double>(m) / 40.0; }
constexpr size_t kProbes = 32;  // queries the batch plan probes the index with

struct Candidate {
  double margin;  // bound minus the admission threshold's rho-independent part
  double e;       // 1 / sqrt(p) of the row
  int32_t row;
};

// The full form's per-point sums of one group's survivors (full_form_sums).
struct FullSums {
  double c1[64], cc[64], g1[64], ge[64], gt[64], gres[64];
};

// A point the cheap form kept: beta^T r~, its cheap-form margin, 1 / sqrt(p) and its position.
struct Survivor {
  double mid;
  double cheap;
  double e;
  uint32_t pos;
};

struct Scratch {
  TopK topk;
  std::vector<uint32_t> mark;  // per row: == stamp when evaluated for this query
  uint32_t stamp = 0;
  std::vector<size_t> near;
  std::vector<double> near_d2;
  std::vector<int32_t> tile;
  std::vector<double> tile_d;
  std::vector<double> waste;
  double sink = 0.0;
  std::vector<int32_t> piv_rows;
  std::vector<double> piv_rho;
  std::vector<size_t> piv_order;
  // The bound of one query (n pivots).
  size_t nb = 0;
  std::vector<size_t> pa;  // chosen pivots
  std::vector<double> L;   // Cholesky factor of G + lambda I, n x n row-major
  std::vector<double> beta, res, t, gsub, w, y, gam, fy;
  // Full form, per query: M = L^-1, and per row i of M: sum |M_ia| (m1), sum |M_ia| e_a (me),
  // sum |M_ia| t_a (mt); wres = M (r_q - G beta).
  std::vector<double> M, m1, me, mt, wres;
  std::vector<double> gm;     // G M^T (the check of M G M^T - I)
  std::vector<double> R, Cm;  // per group: the survivors' rows (n x 64) and M R
  FullSums sums;
  std::vector<double> acc_hi, acc_lo;
  std::vector<uint32_t> live_super, live_group;
  std::vector<Candidate> cands;
  std::vector<Survivor> cheap;  // the cheap form's survivors, in position order
  std::vector<size_t> scan;     // queries handed to the blocked scan
  double bound = kInf;          // the query's known k-th distance bound (kth_bound)
  QueryCounters counters;
};

// Cholesky of the n x n row-major `a` into `l` (lower); false if not positive definite.
bool cholesky(const double* a, size_t n, double* l) {
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j <= i; ++j) {
      double s = a[i * n + j];
      for (size_t t = 0; t < j; ++t) s -= l[i * n + t] * l[j * n + t];
      if (i == j) {
        if (!(s > 0.0)) return false;
        l[i * n + i] = std::sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
    for (size_t j = i + 1; j < n; ++j) l[i * n + j] = 0.0;
  }
  return true;
}

// x = (L L^T)^-1 b, y scratch.
void chol_solve(const double* l, size_t n, const double* b, double* y, double* x) {
  for (size_t i = 0; i < n; ++i) {
    double s = b[i];
    for (size_t t = 0; t < i; ++t) s -= l[i * n + t] * y[t];
    y[i] = s / l[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {
    double s = y[i];
    for (size_t t = i + 1; t < n; ++t) s -= l[t * n + i] * x[t];
    x[i] = s / l[i * n + i];
  }
}

// The bound's hot loops, compiled for AVX-512, AVX2 and the baseline and chosen at load time.
// They run across points (groups), never reduce within a vector, and fp-contract is off, so
// every target gives the same bits (counters do not depend on the CPU).
// (Not under the sanitizers: an ifunc resolver runs before their runtime is set up.)
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define CTB_BOUND_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CTB_BOUND_CLONES
#endif

// ah[g] += max(b_i lo, b_i hi), al[g] += min(...) over the chosen pivots' box ranges.
CTB_BOUND_CLONES void accumulate_box(const double* b, const size_t* pa, size_t nb,
                                     const int16_t* lo, const int16_t* hi, size_t stride,
                                     size_t off, size_t len, double* ah, double* al) {
  for (size_t i = 0; i < nb; ++i) {
    const double bi = b[i];
    const int16_t* l = lo + pa[i] * stride + off;
    const int16_t* h = hi + pa[i] * stride + off;
    for (size_t g = 0; g < len; ++g) {
      const double u = bi * static_cast<double>(l[g]), v = bi * static_cast<double>(h[g]);
      ah[g] += u > v ? u : v;
      al[g] += u < v ? u : v;
    }
  }
}

// mid[j] = sum_i b_i rho_i(p0 + j).
CTB_BOUND_CLONES void accumulate_mid(const double* b, const size_t* pa, size_t nb,
                                     const int16_t* rho, size_t n, size_t p0, size_t len,
                                     double* mid) {
  for (size_t j = 0; j < len; ++j) mid[j] = 0.0;
  for (size_t i = 0; i < nb; ++i) {
    const double bi = b[i];
    const int16_t* r = rho + pa[i] * n + p0;
    for (size_t j = 0; j < len; ++j) mid[j] += bi * static_cast<double>(r[j]);
  }
}

// The full form's per-point sums for cnt survivors (columns of R, stride 64): C = M R with M
// lower triangular, then |C|_1, |C|^2 and the weighted sums of |C|.
CTB_BOUND_CLONES void full_form_sums(const double* M, size_t nb, const double* R, size_t cnt,
                                     const double* m1, const double* me, const double* mt,
                                     const double* wres, double* C, FullSums& f) {
  for (size_t k = 0; k < cnt; ++k) {
    f.c1[k] = 0.0;
    f.cc[k] = 0.0;
    f.g1[k] = 0.0;
    f.ge[k] = 0.0;
    f.gt[k] = 0.0;
    f.gres[k] = 0.0;
  }
  for (size_t i = 0; i < nb; ++i) {
    double* ci = C + i * 64;
    for (size_t k = 0; k < cnt; ++k) ci[k] = 0.0;
    for (size_t t = 0; t <= i; ++t) {
      const double mv = M[i * nb + t];
      const double* rt = R + t * 64;
      for (size_t k = 0; k < cnt; ++k) ci[k] += mv * rt[k];
    }
    const double a1 = m1[i], ae = me[i], at = mt[i], wr = wres[i];
    for (size_t k = 0; k < cnt; ++k) {
      const double v = ci[k], av = v < 0.0 ? -v : v;
      f.c1[k] += av;
      f.cc[k] += v * v;
      f.g1[k] += av * a1;
      f.ge[k] += av * ae;
      f.gt[k] += av * at;
      f.gres[k] += v * wr;
    }
  }
}

struct QueryBound {
  double s_plus = 1.0;   // upper bound on s(beta)
  double a_const = 0.0;  // rho-independent slack (quantisation, rounding)
  double b_coef = 0.0;   // slack per unit of e_j
  double cq = 0.0;       // rho_error
  double b1 = 0.0;       // |beta|_1
  double dn = 0.0;       // bound on the spectral norm of M G M^T - I
  double m1max = 0.0;    // max_i m1_i
};

class Searcher {
 public:
  Searcher(const HilbertIndex& ix, const MetricData& data, const HilbertSearchOptions& o,
           size_t scan_after)
      : ix_(ix), data_(data), o_(o), scan_after_(scan_after) {}

  // Answers q into s.topk; false = hand it to the blocked scan (why in `reason`). `bound`: a
  // known upper bound on q's k-th distance (+inf = none; then the seeds make one).
  bool search(const QueryRow& q, double bound, Scratch& s, int& reason) const {
    QueryCounters& ct = s.counters;
    s.topk.reset(o_.k);
    s.bound = bound;
    if (++s.stamp == 0) {
      std::fill(s.mark.begin(), s.mark.end(), 0u);
      s.stamp = 1;
    }
    const size_t n = ix_.n;
    const bool pred = o_.predecessor;
    // Few predecessors: the scan of rows [0, q.id) is cheaper than any bound.
    if (pred && q.id >= 0 && static_cast<size_t>(q.id) <= std::max(8 * o_.seed_rows, n / 64)) {
      reason = 1;
      return false;
    }
    const auto admissible = [&](size_t row) { return !pred || data_.ids[row] < q.id; };

    // 1. Seeds (not needed under a known bound).
    uint64_t evals = 0;
    size_t want = std::min(n, std::max(o_.seed_rows, o_.k));
    for (size_t grow = 0; grow < 3 && !s.topk.full() && bound == kInf;
         ++grow, want = std::min(n, want * 2)) {
      s.near.resize(want);
      s.near_d2.resize(want);
      const size_t got = nearest_by_coords(ix_.coords->all_nodes(), q.coords, want, s.near.data(),
                                           s.near_d2.data());
      s.tile.clear();
      for (size_t i = 0; i < got; ++i) {
        const size_t row = s.near[i];
        if (s.mark[row] == s.stamp || !admissible(row)) continue;
        s.mark[row] = s.stamp;
        s.tile.push_back(static_cast<int32_t>(row));
      }
      evaluate(q, s, s.tile.size());
      evals += s.tile.size();
      ct.seed_evals += s.tile.size();
      if (want == n) break;
    }
    if (!s.topk.full() && bound == kInf) {
      ct.distance_evals += evals;
      reason = 2;
      return false;
    }

    // 2. Pivots: signed rho to the Euclidean-nearest ones (they are rows: offered too).
    const bool bounded = bound < kInf;
    const size_t C = std::min(ix_.pivots, std::max<size_t>(1, bounded ? o_.bounded_pivot_candidates
                                                                      : o_.pivot_candidates));
    s.near.resize(C);
    s.near_d2.resize(C);
    const size_t gotp =
        nearest_by_coords(ix_.coords->pivots(), q.coords, C, s.near.data(), s.near_d2.data());
    s.piv_rows.resize(gotp);
    s.piv_rho.resize(gotp);
    for (size_t i = 0; i < gotp; ++i) s.piv_rows[i] = ix_.pivot_row[s.near[i]];
    correlations_to_rows(data_, q, s.piv_rows, s.piv_rho.data());
    for (double extra = o_.inject_slowdown - 1.0; extra > 0.0; extra -= 1.0) {
      s.waste.resize(gotp);
      correlations_to_rows(data_, q, s.piv_rows, s.waste.data());
      s.sink += s.waste[0];
    }
    evals += gotp;
    ct.pivot_evals += gotp;
    ct.add_block(gotp);
    for (size_t i = 0; i < gotp; ++i) {
      const auto row = static_cast<size_t>(s.piv_rows[i]);
      if (s.mark[row] == s.stamp) continue;
      s.mark[row] = s.stamp;
      if (!admissible(row)) {
        ++ct.predecessor_filtered;
        continue;
      }
      // The same bits as distances_to_rows: the kernel's own finish of this rho.
      const double d = std::sqrt(std::max(0.0, 1.0 - std::abs(s.piv_rho[i])));
      if (d <= s.bound && s.topk.push(d, data_.ids[row])) ++ct.yields;
    }
    s.piv_order.resize(gotp);
    std::iota(s.piv_order.begin(), s.piv_order.end(), size_t{0});
    std::sort(s.piv_order.begin(), s.piv_order.end(), [&](size_t a, size_t b) {
      const double ra = std::abs(s.piv_rho[a]), rb = std::abs(s.piv_rho[b]);
      return ra != rb ? ra > rb : a < b;
    });
    const size_t nb =
        std::min({gotp, std::max<size_t>(1, bounded ? o_.bounded_bound_pivots : o_.bound_pivots),
                  kMaxPivots});
    QueryBound qb = setup_bound(q, s, nb);

    // 3. Bound passes.
    if (!collect(q, s, qb)) {
      ct.distance_evals += evals;
      reason = 3;
      return false;
    }

    // 4. Candidates, most promising first; re-tested as kth shrinks.
    std::sort(s.cands.begin(), s.cands.end(), [](const Candidate& a, const Candidate& b) {
      return a.margin != b.margin ? a.margin > b.margin : a.row < b.row;
    });
    size_t next = 0;
    while (next < s.cands.size()) {
      const double thr = threshold(kth_now(s));
      s.tile.clear();
      while (next < s.cands.size() && s.tile.size() < kTile) {
        const Candidate& c = s.cands[next++];
        if (c.margin + qb.b_coef * c.e < thr) continue;  // cannot reach the current kth
        s.tile.push_back(c.row);
      }
      if (s.tile.empty()) break;
      evaluate(q, s, s.tile.size());
      evals += s.tile.size();
      ct.candidate_evals += s.tile.size();
    }
    ct.distance_evals += evals;
    return true;
  }

 private:
  // |rho| a row needs to be able to enter the top k at k-th distance kth (its computed distance
  // sqrt(1 - |rho|) <= kth), less the rounding of that test.
  static double threshold(double kth) {
    return kth == kInf ? -kInf : 1.0 - kth * kth * (1.0 + 4.0 * kEps) - 1e-12;
  }

  // The k-th distance a row must reach: this query's own, or the known bound when tighter.
  static double kth_now(const Scratch& s) { return std::min(s.topk.kth(), s.bound); }

  void evaluate(const QueryRow& q, Scratch& s, size_t count) const {
    if (count == 0) return;
    if (s.tile_d.size() < count) s.tile_d.resize(count);
    evaluate_nodes(data_, q, s.tile.data(), count, s.tile_d.data(), o_.inject_slowdown, s.waste,
                   s.sink, s.counters);
    ++s.counters.frontier_levels;
    for (size_t i = 0; i < count; ++i) {
      const auto row = static_cast<size_t>(s.tile[i]);
      s.mark[row] = s.stamp;
      if (s.tile_d[i] <= s.bound && s.topk.push(s.tile_d[i], data_.ids[row])) ++s.counters.yields;
    }
  }

  QueryBound setup_bound(const QueryRow& q, Scratch& s, size_t nb) const {
    const size_t P = ix_.pivots;
    s.nb = nb;
    s.pa.resize(nb);
    s.gsub.resize(nb * nb);
    s.L.resize(nb * nb);
    s.beta.resize(nb);
    s.res.resize(nb);
    s.t.resize(nb);
    s.w.resize(nb);
    s.y.resize(nb);
    s.gam.resize(nb);
    std::vector<double>& rq = s.w;  // r_q of the chosen pivots
    for (size_t i = 0; i < nb; ++i) {
      s.pa[i] = s.near[s.piv_order[i]];
      rq[i] = s.piv_rho[s.piv_order[i]];
    }
    for (size_t i = 0; i < nb; ++i)
      for (size_t j = 0; j < nb; ++j) s.gsub[i * nb + j] = ix_.gram[s.pa[i] * P + s.pa[j]];
    // G + lambda I: lambda grows until the factor exists (duplicate pivots make G singular).
    std::vector<double>& a = s.gam;  // reused below; the factor input is rebuilt per try
    a.resize(nb * nb);
    for (double lambda = 1e-9 * static_cast<double>(nb);; lambda *= 100.0) {
      a = s.gsub;
      for (size_t i = 0; i < nb; ++i) a[i * nb + i] += lambda;
      if (cholesky(a.data(), nb, s.L.data())) break;
    }
    s.gam.resize(nb);
    s.fy.resize(nb);
    chol_solve(s.L.data(), nb, rq.data(), s.y.data(), s.beta.data());
    QueryBound qb;
    const double c = ix_.rho_error;
    const double eq = 1.0 / std::sqrt(q.p);
    double b1 = 0.0, ae = 0.0, btr = 0.0, bgb = 0.0;
    for (size_t i = 0; i < nb; ++i) {
      b1 += std::abs(s.beta[i]);
      ae += std::abs(s.beta[i]) * ix_.pivot_inv_sqrt_p[s.pa[i]];
      btr += s.beta[i] * rq[i];
      double gb = 0.0;
      for (size_t j = 0; j < nb; ++j) gb += s.gsub[i * nb + j] * s.beta[j];
      bgb += s.beta[i] * gb;
      s.res[i] = rq[i] - gb;  // r_q - G beta: ~lambda beta
    }
    const double s2 = 1.0 - 2.0 * btr + bgb;
    const double s2_err = 2.0 * (c * eq * ae + 4.0 * kEps * b1) + c * ae * ae +
                          4.0 * kEps * b1 * b1 + c * eq * eq + 1e-12 * (1.0 + b1) * (1.0 + b1);
    qb.s_plus = std::sqrt(std::max(0.0, s2 + s2_err));
    qb.a_const = b1 * kRhoStep + 4.0 * kEps * b1 + 1e-12 * (1.0 + b1) + 8.0 * kEps;
    qb.b_coef = c * (ae + eq);
    qb.cq = c;
    qb.b1 = b1;
    // t_a: the error of (r_q - G beta)_a.
    for (size_t i = 0; i < nb; ++i)
      s.t[i] = std::abs(s.res[i]) + c * ix_.pivot_inv_sqrt_p[s.pa[i]] * (eq + ae) +
               4.0 * kEps * (1.0 + b1);
    // M = L^-1 (any M keeps the bound valid: gamma := M^T c is just a choice) and its sums.
    s.M.assign(nb * nb, 0.0);
    for (size_t col = 0; col < nb; ++col)
      for (size_t i = col; i < nb; ++i) {
        double v = i == col ? 1.0 : 0.0;
        for (size_t t2 = col; t2 < i; ++t2) v -= s.L[i * nb + t2] * s.M[t2 * nb + col];
        s.M[i * nb + col] = v / s.L[i * nb + i];
      }
    s.m1.assign(nb, 0.0);
    s.me.assign(nb, 0.0);
    s.mt.assign(nb, 0.0);
    s.wres.assign(nb, 0.0);
    for (size_t i = 0; i < nb; ++i)
      for (size_t a2 = 0; a2 <= i; ++a2) {
        const double mv = s.M[i * nb + a2], am = std::abs(mv);
        s.m1[i] += am;
        s.me[i] += am * ix_.pivot_inv_sqrt_p[s.pa[a2]];
        s.mt[i] += am * s.t[a2];
        s.wres[i] += mv * s.res[a2];
      }
    for (size_t i = 0; i < nb; ++i) qb.m1max = std::max(qb.m1max, s.m1[i]);
    // |M G M^T - I|_F, plus the rounding of computing it (2 n eps m1_i m1_j per entry: T = G M^T
    // errs by n eps m1_j per entry and M T adds as much again), as M (G M^T): n^3, not n^4.
    std::vector<double>& T = s.gm;
    T.resize(nb * nb);
    for (size_t a2 = 0; a2 < nb; ++a2)
      for (size_t j = 0; j < nb; ++j) {
        double gm = 0.0;
        for (size_t b2 = 0; b2 <= j; ++b2) gm += s.gsub[a2 * nb + b2] * s.M[j * nb + b2];
        T[a2 * nb + j] = gm;
      }
    double fro = 0.0;
    for (size_t i = 0; i < nb; ++i)
      for (size_t j = 0; j < nb; ++j) {
        double v = 0.0;
        for (size_t a2 = 0; a2 <= i; ++a2) v += s.M[i * nb + a2] * T[a2 * nb + j];
        if (i == j) v -= 1.0;
        fro += v * v;
      }
    const double nd = static_cast<double>(nb);
    qb.dn = std::sqrt(fro) + 4.0 * nd * nd * kEps * qb.m1max * qb.m1max;
    // Scaled to the int16 units of the stored rows.
    for (size_t i = 0; i < nb; ++i) s.y[i] = s.beta[i] / kRhoScale;
    return qb;
  }

  // The cheap-form margin of a box [lo, hi] of beta^T r over the chosen pivots.
  // Fills s.cands with every point whose bound reaches the current threshold; false when the
  // cheap form already leaves more than scan_after points (s.cands then incomplete): the full
  // form costs ~1/4 of a scan per point and could not bring them below it often enough to pay.
  bool collect(const QueryRow& q, Scratch& s, const QueryBound& qb) const {
    QueryCounters& ct = s.counters;
    const size_t nb = s.nb;
    const double* by = s.y.data();  // beta / kRhoScale
    const double thr0 = threshold(kth_now(s));
    const double sp = qb.s_plus, c = qb.cq;
    s.cands.clear();
    // Super groups.
    const size_t S = ix_.supers;
    s.acc_hi.assign(S, 0.0);
    s.acc_lo.assign(S, 0.0);
    accumulate_box(by, s.pa.data(), nb, ix_.super_lo.data(), ix_.super_hi.data(), S, 0, S,
                   s.acc_hi.data(), s.acc_lo.data());
    ct.bound_evals += S;
    s.live_super.clear();
    for (size_t g = 0; g < S; ++g) {
      const double e = ix_.super_inv_sqrt_p[g];
      const double ub = std::max(std::abs(s.acc_hi[g]), std::abs(s.acc_lo[g])) + qb.a_const +
                        qb.b_coef * e + sp * (1.0 + c * e * e);
      if (ub >= thr0) s.live_super.push_back(static_cast<uint32_t>(g));
    }
    // Groups of live super groups.
    const size_t per = ix_.super_size / ix_.group_size, NG = ix_.groups;
    s.live_group.clear();
    double gh[64], gl[64];
    // The chosen pivots' ranges of a live super group are nb scattered cache lines (the
    // quantised rows do not fit in cache at large N): fetched ahead so their misses overlap.
    const auto prefetch_super = [&](size_t at) {
      if (at >= s.live_super.size()) return;
      const size_t g0 = s.live_super[at] * per;
      for (size_t i = 0; i < nb; ++i) {
        __builtin_prefetch(ix_.group_lo.data() + s.pa[i] * NG + g0);
        __builtin_prefetch(ix_.group_hi.data() + s.pa[i] * NG + g0);
      }
    };
    prefetch_super(0);
    prefetch_super(1);
    for (size_t at = 0; at < s.live_super.size(); ++at) {
      const uint32_t sg = s.live_super[at];
      prefetch_super(at + 2);
      const size_t g0 = sg * per, g1 = std::min(NG, g0 + per), len = g1 - g0;
      std::fill_n(gh, len, 0.0);
      std::fill_n(gl, len, 0.0);
      accumulate_box(by, s.pa.data(), nb, ix_.group_lo.data(), ix_.group_hi.data(), NG, g0, len, gh,
                     gl);
      ct.bound_evals += len;
      for (size_t g = 0; g < len; ++g) {
        const double e = ix_.group_inv_sqrt_p[g0 + g];
        const double ub = std::max(std::abs(gh[g]), std::abs(gl[g])) + qb.a_const + qb.b_coef * e +
                          sp * (1.0 + c * e * e);
        if (ub >= thr0) s.live_group.push_back(static_cast<uint32_t>(g0 + g));
      }
    }
    // Points of live groups: the cheap form per point, then the full form on its survivors in
    // chunks of 64 (any positions: the rows are gathered per survivor).
    const size_t n = ix_.n, G = ix_.group_size;
    const bool pred = o_.predecessor;
    const double nd = static_cast<double>(nb);
    double mid[64];
    s.cheap.clear();
    const auto prefetch_group = [&](size_t at) {
      if (at >= s.live_group.size()) return;
      const size_t p0 = s.live_group[at] * G;
      for (size_t i = 0; i < nb; ++i) __builtin_prefetch(ix_.rho.data() + s.pa[i] * n + p0);
      __builtin_prefetch(ix_.pos_inv_sqrt_p.data() + p0);
      __builtin_prefetch(ix_.order.data() + p0);
    };
    prefetch_group(0);
    prefetch_group(1);
    for (size_t at = 0; at < s.live_group.size(); ++at) {
      const uint32_t g = s.live_group[at];
      prefetch_group(at + 2);
      const size_t p0 = g * G, len = std::min(n, p0 + G) - p0;
      accumulate_mid(by, s.pa.data(), nb, ix_.rho.data(), n, p0, len, mid);
      ct.bound_evals += len;
      const double* ep = ix_.pos_inv_sqrt_p.data() + p0;
      for (size_t j = 0; j < len; ++j) {
        const double e = ep[j];
        const double cheap = std::abs(mid[j]) + qb.a_const + sp * (1.0 + c * e * e);
        if (cheap + qb.b_coef * e < thr0) continue;
        const auto row = static_cast<size_t>(ix_.order[p0 + j]);
        if (s.mark[row] == s.stamp) continue;  // evaluated already
        if (pred && data_.ids[row] >= q.id) continue;
        s.cheap.push_back({mid[j], cheap, e, static_cast<uint32_t>(p0 + j)});
      }
    }
    if (s.cheap.size() > scan_after_) return false;
    s.R.resize(nb * 64);
    s.Cm.resize(nb * 64);
    for (size_t c0 = 0; c0 < s.cheap.size(); c0 += 64) {
      const size_t cnt = std::min<size_t>(64, s.cheap.size() - c0);
      const Survivor* sv = s.cheap.data() + c0;
      // R = the survivors' rows (rho), C = M R (M lower triangular).
      double* R = s.R.data();
      double* Cm = s.Cm.data();
      for (size_t i = 0; i < nb; ++i) {
        const int16_t* r = ix_.rho.data() + s.pa[i] * n;
        for (size_t k2 = 0; k2 < cnt; ++k2) R[i * 64 + k2] = r[sv[k2].pos] / kRhoScale;
      }
      FullSums& f = s.sums;
      full_form_sums(s.M.data(), nb, R, cnt, s.m1.data(), s.me.data(), s.mt.data(), s.wres.data(),
                     Cm, f);
      const double *c1 = f.c1, *cc = f.cc, *g1 = f.g1, *ge = f.ge, *gt = f.gt, *gres = f.gres;
      for (size_t k2 = 0; k2 < cnt; ++k2) {
        const double e = sv[k2].e;
        // s_j(gamma)^2 <= |e_j|^2 - 2 gamma.r + gamma^T G gamma (+ the errors of r~ and G);
        // gamma.r = c.(M r~) = |c|^2 up to n eps g1, gamma^T G gamma <= (1 + dn) |c|^2.
        const double sj2 = (1.0 + c * e * e) - cc[k2] * (1.0 - qb.dn) + 2.0 * nd * kEps * g1[k2] +
                           2.0 * (g1[k2] * (kRhoStep + 4.0 * kEps) + c * e * ge[k2]) +
                           c * ge[k2] * ge[k2] + 4.0 * kEps * g1[k2] * g1[k2] +
                           8.0 * nd * kEps * (g1[k2] * g1[k2] + c1[k2] * c1[k2]) +
                           1e-12 * (1.0 + g1[k2]) * (1.0 + g1[k2]);
        const double sj = std::sqrt(std::max(0.0, sj2));
        const double full = std::abs(sv[k2].mid + gres[k2]) + qb.a_const + gt[k2] + sp * sj +
                            1e-12 * (1.0 + g1[k2]) * (1.0 + qb.b1);
        const double margin = std::min(sv[k2].cheap, full);
        if (margin + qb.b_coef * e < thr0) continue;
        s.cands.push_back({margin, e, ix_.order[sv[k2].pos]});
      }
    }
    return s.cands.size() <= scan_after_;
  }

  const HilbertIndex& ix_;
  const MetricData& data_;
  const HilbertSearchOptions& o_;
  size_t scan_after_;
};

}  // namespace

KnnResult hilbert_knn(const HilbertIndex& ix, const MetricData& data,
                      std::span<const QueryRow> queries, const HilbertSearchOptions& options,
                      QueryCounters* counters, HilbertPlan* plan) {
  KnnResult out;
  out.resize(queries.size(), options.k);
  QueryCounters total;
  HilbertPlan pl;
  const size_t n = ix.n;
  if (options.per_query_evals) std::fill_n(options.per_query_evals, queries.size(), uint64_t{0});
  if (options.k == 0 || n == 0 || queries.empty()) {
    total.queries = queries.size();
    if (counters) *counters = total;
    if (plan) *plan = pl;
    return out;
  }
  const size_t scan_after =
      options.scan_after > 0 ? options.scan_after : std::max<size_t>(64, n / 5);
  const Searcher searcher(ix, data, options, scan_after);
  // The batch plan, in counted nanoseconds of one core: a query through the index costs a fixed
  // part (the k-d searches, the pivot correlations, the bound's n^3 algebra), its bound
  // evaluations and its gathered evaluations (~5 scanned rows each, spec §12), plus a scan when
  // it is handed on; a scan costs n rows. Calibrated with `run --compare-brute` and the plan off
  // (single thread, Zen 5), rbf m = 512: the index costs 137, 134, 139, 190 us per query at
  // N = 8k, 16k, 32k, 64k against scans of 127, 245, 481, 971 us; m = 64: 63 and 84 us at 4k and
  // 16k against 26 and 76 us. The model gives 146, 124, 111, 133 and 79, 97 us against scans of
  // 121, 242, 485, 970 and 15, 59 us: every choice right. When even a query with no bound work
  // is not below a scan of every row, the whole batch is scanned. A disabled scan
  // (scan_after = max) keeps every query on the index.
  const double row_ns = scan_row_ns(data.rank);
  const double min_index_ns =
      kGatheredRows * row_ns *
          static_cast<double>(options.seed_rows + options.pivot_candidates + 2 * options.k) +
      kFixedQueryNs;
  const bool scan_all = options.plan_batch &&
                        options.scan_after != std::numeric_limits<size_t>::max() &&
                        min_index_ns >= row_ns * static_cast<double>(n);
  // Queries in the Hilbert order of their own point (a fresh point, or another shard's, at its
  // nearest pivot's): neighbours in a task share pivots, groups and rows in cache.
  std::vector<size_t> order(queries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<int64_t> key(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const int64_t id = queries[i].id;
    if (id >= 0 && id < static_cast<int64_t>(n)) {
      key[i] = ix.position[static_cast<size_t>(id)];
      continue;
    }
    size_t pivot = 0;
    double d2 = 0.0;
    const size_t got = nearest_by_coords(ix.coords->pivots(), queries[i].coords, 1, &pivot, &d2);
    key[i] = got == 1 ? ix.position[static_cast<size_t>(ix.pivot_row[pivot])]
                      : static_cast<int64_t>(n + i);
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return key[a] != key[b] ? key[a] < key[b] : a < b; });

  const int threads = std::max(1, options.threads);
  std::vector<Scratch> scratch(
      scan_all ? 0 : static_cast<size_t>(std::min<size_t>(threads, queries.size())));
  for (Scratch& s : scratch) s.mark.assign(n, 0);
  std::vector<uint8_t> reason(queries.size(), 4);
  // Each query's counted cost in the plan's model (ns): its gathered and bound evaluations, the
  // fixed part, plus a scan if it got one.
  std::vector<double> cost(queries.size(), 0.0);
  const auto scan_cost = [&](size_t qi) {
    const int64_t id = queries[qi].id;
    return row_ns * (options.predecessor ? static_cast<double>(std::clamp<int64_t>(id, 0, n))
                                         : static_cast<double>(n));
  };
  // Answers the queries list[0, count) through the index (those it hands on are queued).
  const auto run_index = [&](const size_t* list, size_t count) {
    const size_t tasks = (count + kQueryChunk - 1) / kQueryChunk;
    parallel_for(tasks, threads, options.cancel, [&](size_t task, int worker) {
      Scratch& s = scratch[static_cast<size_t>(worker)];
      const size_t lo = task * kQueryChunk, hi = std::min(count, lo + kQueryChunk);
      for (size_t i = lo; i < hi; ++i) {
        const size_t qi = list[i];
        const uint64_t evals0 = s.counters.distance_evals, bound0 = s.counters.bound_evals;
        int why = 0;
        const double bound = options.kth_bound.empty() ? kInf : options.kth_bound[qi];
        if (searcher.search(queries[qi], bound, s, why)) {
          s.topk.write(out, qi);
        } else {
          s.scan.push_back(qi);
          reason[qi] = static_cast<uint8_t>(why);
          cost[qi] += scan_cost(qi);
        }
        const uint64_t evals = s.counters.distance_evals - evals0;
        cost[qi] += kGatheredRows * row_ns * static_cast<double>(evals) +
                    kBoundEvalNs * static_cast<double>(s.counters.bound_evals - bound0) +
                    kFixedQueryNs;
        if (options.per_query_evals) options.per_query_evals[qi] = evals;
      }
    });
  };
  std::vector<size_t> scan;
  if (scan_all) {
    scan = order;  // the batch plan: every query, in the locality order
  } else if (!options.plan_batch || options.scan_after == std::numeric_limits<size_t>::max() ||
             queries.size() < 4 * kProbes) {
    run_index(order.data(), order.size());
  } else {
    // Probe: every stride-th query in the locality order goes through the index first; when
    // their counted cost is not below the scans they would need, the rest are scanned. The
    // probes are fixed by the order and their costs are counts, so the choice (and every
    // counter) is the same on any machine and thread count.
    const size_t stride = queries.size() / kProbes;
    std::vector<size_t> probes, rest;
    for (size_t i = 0; i < order.size(); ++i) (i % stride == 0 ? probes : rest).push_back(order[i]);
    run_index(probes.data(), probes.size());
    double index_total = 0.0, scan_total = 0.0;
    for (size_t qi : probes) {
      index_total += cost[qi];
      scan_total += scan_cost(qi);
    }
    if (index_total < scan_total) {
      run_index(rest.data(), rest.size());
    } else {
      scan = rest;
    }
  }
  for (Scratch& s : scratch) {
    scan.insert(scan.end(), s.scan.begin(), s.scan.end());
    total += s.counters;
  }
  for (size_t qi : scan) {
    if (reason[qi] == 1) ++pl.scan_small_pred;
    if (reason[qi] == 2) ++pl.scan_no_seed;
    if (reason[qi] == 3) ++pl.scan_cost;
    if (reason[qi] == 4) ++pl.scan_batch;
  }
  total.scans_of_predecessors += pl.scan_small_pred;
  total.scans_without_seeds += pl.scan_no_seed;
  total.scans_for_cost += pl.scan_cost + pl.scan_batch;
  pl.scan_queries = scan.size();
  pl.index_queries = queries.size() - scan.size();
  if (!scan.empty()) {
    DenseScanOptions ds;
    ds.k = options.k;
    ds.predecessor = options.predecessor;
    ds.threads = threads;
    ds.inject_slowdown = options.inject_slowdown;
    ds.cancel = options.cancel;
    ds.per_query_evals = options.per_query_evals;
    QueryCounters dc;
    dense_scan(data, queries, scan, ds, dc, out);
    total += dc;
  }
  double sink = 0.0;
  for (Scratch& s : scratch) sink += s.sink;
  [[maybe_unused]] volatile double slowdown_sink = sink;
  total.queries = queries.size();
  if (counters) *counters = total;
  if (plan) *plan = pl;
  return out;
}

}  // namespace ctb
