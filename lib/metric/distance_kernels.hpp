#pragma once
// Batch distance kernels, written once with Highway and dispatched at run time to the best
// target (AVX-512, AVX2, SSE4, portable fallback). Every entry point computes each
// (query, row) distance with the same operation order, so a distance does not depend on
// which entry point or which batch produced it: brute force and tree agree bit for bit.
//
// Speed (lib/metric/distance_kernels-inl.cpp): the block kernels are GEMM-shaped (register
// tiles of queries x rows per target, packed query panels, cache blocking along rows and m);
// `bench/kernel_bench.cpp` measures them beside OpenBLAS's DGEMM.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "metric/metric.hpp"

namespace ctb {

/// out[j] = d(q, rows[j]) for the listed rows of `data`.
void distances_to_rows(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                       double* out);

/// out[j] = d(q, begin + j) for rows [begin, end).
void distances_to_range(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                        double* out);

/// out[i * (end - begin) + j] = d(queries[i], begin + j): several queries share each loaded
/// row (GEMM-shaped), for brute force and dense work.
void distances_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                     size_t end, double* out);

/// out[i * rows.size() + j] = d(queries[i], rows[j]): the block kernel over a gathered list
/// of rows (any order, repeats allowed).
void distances_block_rows(const MetricData& data, std::span<const QueryRow> queries,
                          std::span<const int32_t> rows, double* out);

/// Receives one chunk of distances_block_scan: d[i * ld + (j - chunk_begin)] = d(queries[i], j)
/// for rows j in [chunk_begin, chunk_end). `d` is valid during the call only.
using BlockChunkFn = void (*)(void* context, size_t chunk_begin, size_t chunk_end, const double* d,
                              size_t ld);

/// Distances of several queries to rows [begin, end), delivered chunk by chunk (a few dozen
/// rows each, in row order) while they are still in cache: the queries are packed once for
/// the whole range. For consumers that reduce as they go (brute-force top-k, dense phases).
/// The callback may call the distance kernels itself.
void distances_block_scan(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                          size_t end, BlockChunkFn fn, void* context);

/// The same with any callable `f(chunk_begin, chunk_end, d, ld)`.
template <class F>
void distances_block_scan(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                          size_t end, F&& f) {
  using Fn = std::remove_reference_t<F>;
  distances_block_scan(
      data, queries, begin, end,
      [](void* ctx, size_t b, size_t e, const double* d, size_t ld) {
        (*static_cast<Fn*>(ctx))(b, e, d, ld);
      },
      const_cast<void*>(static_cast<const void*>(&f)));
}

/// The residual metric's finishing step alone, for peers that compute V.V elsewhere (the
/// OpenBLAS peer): out[j] = d(q, begin + j) from dots[j] = V_q . V_{begin + j} (kernel term,
/// normalisation, clamp, identity -> 0), lane-wise with the same code as every entry point.
/// Residual data only.
void distances_from_dots(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                         const double* dots, double* out);

/// out[i * (end - begin) + j] = V_{q_i} . V_{begin + j}: the GEMM part of distances_block
/// alone (the same tiles and reduction, so the same bits as the dots inside the distances).
/// Residual data only; for the kernel micro-benchmark and tests.
void dots_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin, size_t end,
                double* out);

/// Signed residual correlations rho (spec §1, clamped to [-1, 1]; 1 between equal ids):
/// out[j] = rho(q, rows[j]). The distance the other entry points return is exactly
/// sqrt(max(0, 1 - |rho|)) of these bits. Residual data only (the Hilbert-bound index).
void correlations_to_rows(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                          double* out);

/// out[i * (end - begin) + j] = rho(queries[i], begin + j), GEMM-shaped like distances_block.
void correlations_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                        size_t end, double* out);

/// Name of the target the dispatcher chose on this CPU ("AVX3", "AVX2", "EMU128", ...).
std::string simd_target_name();

/// Targets compiled into this binary and supported by this CPU, best first (for tests).
std::vector<int64_t> available_simd_targets();
/// Every target compiled into this binary, best first, whether or not this CPU can run it.
std::vector<int64_t> compiled_simd_targets();
/// Forces dispatch to `target` (a value from available_simd_targets).
void force_simd_target(int64_t target);
/// Restores normal dispatch.
void reset_simd_target();

/// `--simd NAME`: "best" restores normal dispatch; otherwise a Highway target name in any
/// case ("avx3", "avx2", "sse4", "ssse3", "emu128"; "scalar" = the portable fallback) is forced.
/// Throws InputError for an unknown name, or a target this CPU cannot run, listing the names
/// it can.
void select_simd_target(const std::string& name);
/// The names select_simd_target accepts on this machine ("best" first, then the runnable
/// targets best first, lower case).
std::vector<std::string> simd_target_choices();

}  // namespace ctb
