#pragma once
// Batch distance kernels, written once with Highway and dispatched at run time to the best
// target (AVX-512, AVX2, SSE4, portable fallback). Every entry point computes each
// (query, row) distance with the same operation order, so a distance does not depend on
// which entry point or which batch produced it: brute force and tree agree bit for bit.
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

/// Name of the target the dispatcher chose on this CPU ("AVX3", "AVX2", "EMU128", ...).
std::string simd_target_name();

/// Targets compiled into this binary and supported by this CPU (for tests).
std::vector<int64_t> available_simd_targets();
/// Forces dispatch to `target` (a value from available_simd_targets); tests only.
void force_simd_target(int64_t target);
/// Restores normal dispatch.
void reset_simd_target();

}  // namespace ctb
