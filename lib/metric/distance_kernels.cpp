// Dispatch of the distance kernels: the per-target bodies live in distance_kernels-inl.cpp.
#include "metric/distance_kernels.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "metric/distance_kernels-inl.cpp"
// foreach_target.h re-includes HWY_TARGET_INCLUDE once per target; it must come first.
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "metric/distance_kernels-inl.cpp"

#if HWY_ONCE

#include <fmt/format.h>

#include "core/error.hpp"

namespace ctb {

HWY_EXPORT(DistancesToRowsImpl);
HWY_EXPORT(DistancesToRangeImpl);
HWY_EXPORT(DistancesBlockImpl);
HWY_EXPORT(ChosenTargetImpl);

namespace {

void check_query(const MetricData& data, const QueryRow& q) {
  if (q.coords == nullptr) throw InputError("distance kernels: query without coordinates");
  if (data.kind == MetricKind::residual && q.v == nullptr) {
    throw InputError("distance kernels: residual query without a V row");
  }
}

}  // namespace

// Every wrapper calls through HWY_DYNAMIC_DISPATCH: a function pointer copied before the first
// call would be Highway's self-initialising stub, which re-detects the CPU on every call.
void distances_to_rows(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                       double* out) {
  check_query(data, q);
  HWY_DYNAMIC_DISPATCH(DistancesToRowsImpl)(data, q, rows.data(), rows.size(), out);
}

void distances_to_range(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                        double* out) {
  check_query(data, q);
  if (begin > end || end > data.n) {
    throw InputError(
        fmt::format("distance kernels: row range [{}, {}) outside 0..{}", begin, end, data.n));
  }
  HWY_DYNAMIC_DISPATCH(DistancesToRangeImpl)(data, q, begin, end, out);
}

void distances_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                     size_t end, double* out) {
  for (const QueryRow& q : queries) check_query(data, q);
  if (begin > end || end > data.n) {
    throw InputError(
        fmt::format("distance kernels: row range [{}, {}) outside 0..{}", begin, end, data.n));
  }
  HWY_DYNAMIC_DISPATCH(DistancesBlockImpl)(data, queries.data(), queries.size(), begin, end, out);
}

std::string simd_target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(ChosenTargetImpl)()); }

std::vector<int64_t> available_simd_targets() { return hwy::SupportedAndGeneratedTargets(); }

void force_simd_target(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

void reset_simd_target() {
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

}  // namespace ctb

#endif  // HWY_ONCE
