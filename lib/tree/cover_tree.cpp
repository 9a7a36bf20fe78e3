// Cover tree build: level-synchronous nested nets, then an exact radii pass.
//
// Nets. Every point that is not yet a centre has an owner centre and its distance to it. At
// level l (t = base^l, build.base; 2 by default), each owner group independently picks, in batch
// order, a greedy maximal set of new centres among its members farther than t from the owner (a
// candidate is rejected when an already-picked centre of the group lies within t), then every
// member moves to its nearest centre among {owner} and the new ones when that is strictly closer.
// Because members only move to children of their owner, the owner chains stay nested (a tree);
// because every rejected candidate has a picked centre within t, after level l every member is
// within t of its owner. Groups are independent and candidates are scanned in a fixed order, so the
// tree does not depend on threads or chunking.
//
// Radii. The build metric may differ from the query metric (hybrid strategy), and even in the
// same metric computed distances only nearly satisfy the triangle inequality, so the search
// never trusts base^level: radius(u) and the parent bounds of each child subtree are the true
// extrema over evaluated distances, computed here with the search's own kernel.
#include "tree/cover_tree.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "metric/distance_kernels.hpp"
#include "tree/euclid_knn.hpp"

namespace ctb {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

constexpr int32_t kNoLevel = std::numeric_limits<int32_t>::min();

/// The radii of the levels, base^l, and the level a distance needs. Base 2 goes through
/// frexp/ldexp (exact powers of two: the classic tree, bit for bit); other bases through pow
/// with the level corrected against the same pow, so ceil_level and radius always agree.
struct LevelScale {
  double base = kDefaultExpansionBase;

  double radius(int32_t l) const { return base == 2.0 ? std::ldexp(1.0, l) : std::pow(base, l); }

  /// Smallest integer L with base^L >= d, for d > 0.
  int32_t ceil_level(double d) const {
    if (base == 2.0) {
      int e = 0;
      const double m = std::frexp(d, &e);  // d = m * 2^e, m in [0.5, 1)
      return m == 0.5 ? e - 1 : e;
    }
    auto l = static_cast<int32_t>(std::ceil(std::log(d) / std::log(base)));
    while (radius(l) < d) ++l;
    while (radius(l - 1) >= d) --l;
    return l;
  }

  /// How many levels of this base span `octaves` powers of two (rounded up).
  int32_t levels_for_octaves(int32_t octaves) const {
    return static_cast<int32_t>(std::ceil(octaves * std::log(2.0) / std::log(base)));
  }
};

/// The nested nets: per batch position, the owner (parent) and the level of centres.
struct Nets {
  std::vector<int32_t> owner;  // batch position of the parent (root: itself)
  std::vector<int32_t> level;  // centre level, or kNoLevel for leaves until finalised
  std::vector<BuildLevelStats> stats;
};

Nets build_nets(const MetricData& build, std::span<const int32_t> order,
                const BuildOptions& options) {
  const size_t n = order.size();
  Nets nets;
  nets.owner.assign(n, 0);
  nets.level.assign(n, kNoLevel);
  std::vector<double> odist(n, 0.0);
  if (n == 0) return nets;

  const auto row_query = [&](int32_t b) { return query_row(build, static_cast<size_t>(order[b])); };
  const LevelScale scale{options.base};
  const int threads = std::max(1, options.threads);
  const size_t chunk = std::max<size_t>(1, options.batch_size);

  // Distances from the root (the first point in batch order) to everything.
  std::vector<int32_t> rest_rows(order.begin() + 1, order.end());
  {
    const size_t n_chunks = (rest_rows.size() + chunk - 1) / chunk;
    parallel_for(n_chunks, threads, options.cancel, [&](size_t c, int) {
      const size_t lo = c * chunk, hi = std::min(rest_rows.size(), lo + chunk);
      distances_to_rows(build, row_query(0),
                        std::span<const int32_t>(rest_rows.data() + lo, hi - lo),
                        odist.data() + 1 + lo);
    });
  }
  double max_d = 0.0;
  for (size_t b = 1; b < n; ++b) max_d = std::max(max_d, odist[b]);
  const int32_t top = max_d > 0.0 ? scale.ceil_level(max_d) : 0;
  nets.level[0] = top;
  // Below this level the remaining points are (numerically) duplicates: they become leaves.
  // Residual distances between distinct points are >= ~1e-8 (sqrt of the rounding of rho):
  // the floor is 2^-40 in any base; Euclidean ones are relative to the data's extent (60
  // octaves below the top).
  const int32_t floor_level = build.kind == MetricKind::residual
                                  ? -scale.levels_for_octaves(40)
                                  : top - scale.levels_for_octaves(60);

  // Owner groups in CSR form over the active members (batch positions, ascending per group).
  std::vector<int32_t> grp_owner{0};
  std::vector<size_t> grp_begin{0};
  std::vector<int32_t> mem;
  for (size_t b = 1; b < n; ++b)
    if (odist[b] > 0.0) mem.push_back(static_cast<int32_t>(b));
  grp_begin.push_back(mem.size());
  if (mem.empty()) {
    grp_owner.clear();
    grp_begin.assign(1, 0);
  }

  std::vector<int32_t> mem_grp(mem.size(), 0);
  std::vector<int32_t> picked(mem.size()), picked_rows(mem.size());
  std::vector<int32_t> centre_slot(n, -1);
  std::vector<uint64_t> grp_picked, grp_cand, grp_evals, chunk_evals;
  std::vector<std::vector<double>> scratch(static_cast<size_t>(threads));
  std::vector<int32_t> new_mem, new_mem_grp, new_owner, prev_owner;
  std::vector<size_t> counts, base;

  double max_odist = 0.0;
  for (int32_t b : mem) max_odist = std::max(max_odist, odist[b]);
  while (!mem.empty()) {
    const int32_t l = scale.ceil_level(max_odist) - 1;  // highest level with a candidate
    if (l < floor_level) break;
    const auto t0 = Clock::now();
    const double t = scale.radius(l);
    const size_t groups = grp_owner.size();
    grp_picked.assign(groups, 0);
    grp_cand.assign(groups, 0);
    grp_evals.assign(groups, 0);

    // A: greedy independent set per group, in batch order.
    parallel_for(groups, threads, options.cancel, [&](size_t g, int worker) {
      auto& buf = scratch[static_cast<size_t>(worker)];
      constexpr size_t kTile = 64;  // early exit granularity against picked centres
      if (buf.size() < kTile) buf.resize(kTile);
      const size_t begin = grp_begin[g];
      size_t np = 0;
      uint64_t cand = 0, evals = 0;
      for (size_t i = begin; i < grp_begin[g + 1]; ++i) {
        const int32_t b = mem[i];
        if (!(odist[b] > t)) continue;
        ++cand;
        bool dominated = false;
        const QueryRow q = row_query(b);
        for (size_t j = 0; j < np && !dominated; j += kTile) {
          const size_t len = std::min(kTile, np - j);
          distances_to_rows(build, q, std::span<const int32_t>(&picked_rows[begin + j], len),
                            buf.data());
          evals += len;
          for (size_t s = 0; s < len; ++s) dominated = dominated || buf[s] <= t;
        }
        if (dominated) continue;
        picked[begin + np] = b;
        picked_rows[begin + np] = order[b];
        centre_slot[b] = static_cast<int32_t>(np);
        nets.level[b] = l;  // owner[b] stays: it is the new centre's parent
        ++np;
      }
      grp_picked[g] = np;
      grp_cand[g] = cand;
      grp_evals[g] = evals;
    });

    // B: every remaining member moves to its nearest new centre when strictly closer.
    const size_t n_chunks = (mem.size() + chunk - 1) / chunk;
    chunk_evals.assign(n_chunks, 0);
    parallel_for(n_chunks, threads, options.cancel, [&](size_t c, int worker) {
      auto& buf = scratch[static_cast<size_t>(worker)];
      const size_t lo = c * chunk, hi = std::min(mem.size(), lo + chunk);
      uint64_t evals = 0;
      for (size_t i = lo; i < hi; ++i) {
        const int32_t b = mem[i];
        const auto g = static_cast<size_t>(mem_grp[i]);
        const size_t np = grp_picked[g];
        if (np == 0 || nets.level[b] != kNoLevel) continue;
        if (buf.size() < np) buf.resize(np);
        const size_t begin = grp_begin[g];
        distances_to_rows(build, row_query(b), std::span<const int32_t>(&picked_rows[begin], np),
                          buf.data());
        evals += np;
        size_t best = 0;
        for (size_t s = 1; s < np; ++s)
          if (buf[s] < buf[best]) best = s;
        if (buf[best] < odist[b]) {
          nets.owner[b] = picked[begin + best];
          odist[b] = buf[best];
        }
      }
      chunk_evals[c] = evals;
    });

    // C: regroup (stable, so each new group stays in batch order); drop centres and points at
    // distance 0 from their owner (duplicates: they stay leaves of that owner).
    BuildLevelStats st;
    st.level = l;
    st.active = mem.size();
    st.groups = groups;
    base.assign(groups + 1, 0);
    for (size_t g = 0; g < groups; ++g) {
      base[g + 1] = base[g] + 1 + grp_picked[g];
      st.candidates += grp_cand[g];
      st.selected += grp_picked[g];
      st.distance_evals += grp_evals[g];
    }
    for (uint64_t e : chunk_evals) st.distance_evals += e;
    st.dominated = st.candidates - st.selected;
    counts.assign(base[groups] + 1, 0);
    new_owner.assign(base[groups], -1);
    for (size_t g = 0; g < groups; ++g) {
      new_owner[base[g]] = grp_owner[g];
      for (size_t j = 0; j < grp_picked[g]; ++j)
        new_owner[base[g] + 1 + j] = picked[grp_begin[g] + j];
    }
    prev_owner.swap(grp_owner);  // grp_owner is rebuilt below; members still refer to these
    const auto new_group_of = [&](size_t i) -> int64_t {
      const int32_t b = mem[i];
      if (nets.level[b] != kNoLevel || !(odist[b] > 0.0)) return -1;
      const auto g = static_cast<size_t>(mem_grp[i]);
      const int32_t o = nets.owner[b];
      return static_cast<int64_t>(base[g]) + (o == prev_owner[g] ? 0 : 1 + centre_slot[o]);
    };
    max_odist = 0.0;
    for (size_t i = 0; i < mem.size(); ++i) {
      const int64_t ng = new_group_of(i);
      if (ng < 0) continue;
      ++counts[static_cast<size_t>(ng) + 1];
      max_odist = std::max(max_odist, odist[mem[i]]);
    }
    // Compact away empty groups while forming the new CSR.
    std::vector<int32_t> compact(base[groups], -1);
    grp_owner.clear();
    grp_begin.assign(1, 0);
    for (size_t ng = 0; ng < base[groups]; ++ng) {
      if (counts[ng + 1] == 0) continue;
      compact[ng] = static_cast<int32_t>(grp_owner.size());
      grp_owner.push_back(new_owner[ng]);
      grp_begin.push_back(grp_begin.back() + counts[ng + 1]);
    }
    new_mem.assign(grp_begin.back(), 0);
    new_mem_grp.assign(grp_begin.back(), 0);
    std::vector<size_t> fill(grp_begin.begin(), grp_begin.end() - 1);
    for (size_t i = 0; i < mem.size(); ++i) {
      const int64_t ng = new_group_of(i);
      if (ng < 0) continue;
      const int32_t cg = compact[static_cast<size_t>(ng)];
      const size_t pos = fill[static_cast<size_t>(cg)]++;
      new_mem[pos] = mem[i];
      new_mem_grp[pos] = cg;
    }
    mem.swap(new_mem);
    mem_grp.swap(new_mem_grp);
    st.ms = ms_since(t0);
    nets.stats.push_back(st);
  }
  // Leaves (duplicates, or points below the floor) sit one level below their owner.
  for (size_t b = 1; b < n; ++b)
    if (nets.level[b] == kNoLevel) nets.level[b] = nets.level[nets.owner[b]] - 1;
  return nets;
}

/// max/min with the first element seeding (spans are non-empty).
void segment_extrema(const double* d, size_t len, double& lo, double& hi) {
  lo = d[0];
  hi = d[0];
  for (size_t i = 1; i < len; ++i) {
    lo = std::min(lo, d[i]);
    hi = std::max(hi, d[i]);
  }
}

/// Radii and parent bounds from true distances (see the file comment). For every internal node
/// u, all descendants are gathered child subtree by child subtree and evaluated in one call.
void compute_radii(CoverTree& tree, int threads, const CancelToken* cancel) {
  const size_t n = tree.size();
  tree.radius.assign(n, 0.0);
  tree.parent_dist.assign(n, 0.0);
  tree.parent_min.assign(n, 0.0);
  tree.parent_max.assign(n, 0.0);
  std::vector<int32_t> internal;
  for (size_t u = 0; u < n; ++u)
    if (tree.child_end[u] > tree.child_begin[u]) internal.push_back(static_cast<int32_t>(u));
  struct Scratch {
    std::vector<int32_t> desc, stack;
    std::vector<size_t> seg;  // seg[i]: where child i's subtree starts in desc
    std::vector<double> dist;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(std::max(1, threads)));
  parallel_for(internal.size(), threads, cancel, [&](size_t task, int worker) {
    Scratch& s = scratch[static_cast<size_t>(worker)];
    if (s.desc.size() < n) {
      s.desc.resize(n);
      s.dist.resize(n);
    }
    const int32_t u = internal[task];
    size_t count = 0;
    s.seg.clear();
    for (int32_t c = tree.child_begin[u]; c < tree.child_end[u]; ++c) {
      s.seg.push_back(count);
      s.stack.assign(1, c);
      while (!s.stack.empty()) {
        const int32_t x = s.stack.back();
        s.stack.pop_back();
        s.desc[count++] = x;
        for (int32_t y = tree.child_begin[x]; y < tree.child_end[x]; ++y) s.stack.push_back(y);
      }
    }
    distances_to_rows(tree.rows, query_row(tree.rows, static_cast<size_t>(u)),
                      std::span<const int32_t>(s.desc.data(), count), s.dist.data());
    s.seg.push_back(count);
    double radius = 0.0;
    for (int32_t c = tree.child_begin[u]; c < tree.child_end[u]; ++c) {
      // The subtree of c starts with c itself (it was popped first).
      const size_t i = static_cast<size_t>(c - tree.child_begin[u]);
      const size_t pos = s.seg[i], len = s.seg[i + 1] - pos;
      double lo = 0.0, hi = 0.0;
      segment_extrema(s.dist.data() + pos, len, lo, hi);
      tree.parent_dist[c] = s.dist[pos];
      tree.parent_min[c] = lo;
      tree.parent_max[c] = hi;
      radius = std::max(radius, hi);
    }
    tree.radius[u] = radius;
  });
}

}  // namespace

int32_t CoverTree::depth() const {
  if (level.empty()) return 0;
  std::vector<int32_t> d(size(), 1);
  int32_t best = 1;
  for (size_t u = 1; u < size(); ++u) {  // BFS order: parents precede children
    d[u] = d[static_cast<size_t>(parent[u])] + 1;
    best = std::max(best, d[u]);
  }
  return best;
}

uint64_t hilbert_key(uint32_t* x, int dims, int bits) {
  // Skilling's transform ("Programming the Hilbert curve", 2004): axes -> transposed index.
  const uint32_t top = uint32_t{1} << (bits - 1);
  for (uint32_t q = top; q > 1; q >>= 1) {
    const uint32_t p = q - 1;
    for (int i = 0; i < dims; ++i) {
      if (x[i] & q) {
        x[0] ^= p;
      } else {
        const uint32_t t = (x[0] ^ x[i]) & p;
        x[0] ^= t;
        x[i] ^= t;
      }
    }
  }
  for (int i = 1; i < dims; ++i) x[i] ^= x[i - 1];
  uint32_t t = 0;
  for (uint32_t q = top; q > 1; q >>= 1)
    if (x[dims - 1] & q) t ^= q - 1;
  for (int i = 0; i < dims; ++i) x[i] ^= t;
  // Interleave: the most significant bit of every axis first.
  uint64_t key = 0;
  for (int bit = bits - 1; bit >= 0; --bit)
    for (int i = 0; i < dims; ++i) key = (key << 1) | ((x[i] >> bit) & 1u);
  return key;
}

std::vector<int32_t> batch_order_permutation(const MetricData& data, BatchOrder order) {
  std::vector<int32_t> perm(data.n);
  std::iota(perm.begin(), perm.end(), 0);
  if (order == BatchOrder::natural || data.n < 2 || data.dim == 0) return perm;
  // Only the first 64 dimensions take part (a key has 64 bits); ties keep dataset order.
  const int dims = static_cast<int>(std::min<size_t>(data.dim, 64));
  const int bits = std::min(31, 64 / dims);
  std::vector<double> lo(static_cast<size_t>(dims), std::numeric_limits<double>::infinity());
  std::vector<double> hi(static_cast<size_t>(dims), -std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < data.n; ++i)
    for (int a = 0; a < dims; ++a) {
      lo[a] = std::min(lo[a], data.coord_row(i)[a]);
      hi[a] = std::max(hi[a], data.coord_row(i)[a]);
    }
  const double cells = std::ldexp(1.0, bits);
  std::vector<uint64_t> keys(data.n);
  std::vector<uint32_t> axes(static_cast<size_t>(dims));
  for (size_t i = 0; i < data.n; ++i) {
    for (int a = 0; a < dims; ++a) {
      const double span = hi[a] - lo[a];
      const double f = span > 0.0 ? (data.coord_row(i)[a] - lo[a]) / span : 0.0;
      axes[a] = static_cast<uint32_t>(std::min(cells - 1.0, std::floor(f * cells)));
    }
    keys[i] = hilbert_key(axes.data(), dims, bits);
  }
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int32_t a, int32_t b) { return keys[a] < keys[b]; });
  return perm;
}

CoverTree build_cover_tree(const MetricData& query_metric, const MetricData& build_metric,
                           const BuildOptions& options) {
  const size_t n = query_metric.n;
  if (build_metric.n != n)
    throw InputError("build_cover_tree: build metric has " + std::to_string(build_metric.n) +
                     " rows, query metric " + std::to_string(n));
  if (n >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw InputError("build_cover_tree: too many points for 32-bit node ids");
  for (size_t r = 0; r < n; ++r)
    if (query_metric.ids[r] != static_cast<int64_t>(r))
      throw InputError("build_cover_tree: rows must be in dataset order (ids 0..n-1)");

  if (!(options.base > 1.0) || !std::isfinite(options.base))
    throw InputError("build_cover_tree: the expansion base must be a finite number > 1 (got " +
                     std::to_string(options.base) + ")");

  CoverTree tree;
  tree.base = options.base;
  const auto t0 = Clock::now();
  const std::vector<int32_t> order = batch_order_permutation(build_metric, options.batch_order);
  Nets nets = build_nets(build_metric, order, options);
  tree.build_levels = std::move(nets.stats);

  // Children of each batch position, ordered by level (desc) then batch order, then BFS.
  std::vector<int32_t> child_count(n + 1, 0), child_list(n > 0 ? n - 1 : 0);
  for (size_t b = 1; b < n; ++b) ++child_count[static_cast<size_t>(nets.owner[b]) + 1];
  for (size_t b = 0; b < n; ++b) child_count[b + 1] += child_count[b];
  {
    std::vector<int32_t> fill(child_count.begin(), child_count.end() - 1);
    for (size_t b = 1; b < n; ++b)
      child_list[static_cast<size_t>(fill[static_cast<size_t>(nets.owner[b])]++)] =
          static_cast<int32_t>(b);
  }
  for (size_t b = 0; b < n; ++b)
    std::stable_sort(child_list.begin() + child_count[b], child_list.begin() + child_count[b + 1],
                     [&](int32_t x, int32_t y) { return nets.level[x] > nets.level[y]; });
  std::vector<int32_t> bfs;  // node -> batch position
  bfs.reserve(n);
  std::vector<int32_t> node_of_pos(n, -1);
  tree.level.resize(n);
  tree.parent.resize(n);
  tree.child_begin.resize(n);
  tree.child_end.resize(n);
  if (n > 0) {
    bfs.push_back(0);
    node_of_pos[0] = 0;
  }
  for (size_t u = 0; u < bfs.size(); ++u) {
    const auto b = static_cast<size_t>(bfs[u]);
    tree.level[u] = nets.level[b];
    tree.parent[u] = u == 0 ? -1 : node_of_pos[static_cast<size_t>(nets.owner[b])];
    tree.child_begin[u] = static_cast<int32_t>(bfs.size());
    for (int32_t i = child_count[b]; i < child_count[b + 1]; ++i) {
      node_of_pos[static_cast<size_t>(child_list[static_cast<size_t>(i)])] =
          static_cast<int32_t>(bfs.size());
      bfs.push_back(child_list[static_cast<size_t>(i)]);
    }
    tree.child_end[u] = static_cast<int32_t>(bfs.size());
  }
  std::vector<int32_t> node_rows(n);
  for (size_t u = 0; u < n; ++u) node_rows[u] = order[static_cast<size_t>(bfs[u])];
  tree.rows = permute_rows(query_metric, node_rows);
  tree.node_of_id.assign(n, -1);
  for (size_t u = 0; u < n; ++u)
    tree.node_of_id[static_cast<size_t>(node_rows[u])] = static_cast<int32_t>(u);
  tree.subtree_min_id.resize(n);
  for (size_t u = n; u-- > 0;) {
    int64_t m = tree.rows.ids[u];
    for (int32_t c = tree.child_begin[u]; c < tree.child_end[u]; ++c)
      m = std::min(m, tree.subtree_min_id[static_cast<size_t>(c)]);
    tree.subtree_min_id[u] = m;
  }
  tree.preorder_rank.assign(n, 0);
  {
    std::vector<int32_t> stack;
    if (n > 0) stack.push_back(0);
    int32_t rank = 0;
    while (!stack.empty()) {
      const auto u = static_cast<size_t>(stack.back());
      stack.pop_back();
      tree.preorder_rank[u] = rank++;
      for (int32_t c = tree.child_end[u]; c-- > tree.child_begin[u];) stack.push_back(c);
    }
  }
  tree.build_nets_ms = ms_since(t0);

  const auto t1 = Clock::now();
  compute_radii(tree, options.threads, options.cancel);
  tree.build_radii_ms = ms_since(t1);
  // Euclidean queries are answered by the box tree (tree/euclid_knn.cpp).
  if (query_metric.kind == MetricKind::euclidean)
    tree.euclid =
        std::make_shared<const EuclidIndex>(build_euclid_index(query_metric, options.threads));
  return tree;
}

CoverTree build_cover_tree(const MetricData& data, const BuildOptions& options) {
  if (data.kind == MetricKind::residual && options.strategy == BuildStrategy::euclidean_hybrid)
    return build_cover_tree(data, make_euclidean(data.coords, data.dim), options);
  return build_cover_tree(data, data, options);
}

}  // namespace ctb
