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

#include <algorithm>
#include <cctype>

#include "core/error.hpp"

namespace ctb {

HWY_EXPORT(DistancesToRowsImpl);
HWY_EXPORT(DistancesToRangeImpl);
HWY_EXPORT(DistancesBlockImpl);
HWY_EXPORT(DistancesBlockRowsImpl);
HWY_EXPORT(DistancesBlockScanImpl);
HWY_EXPORT(DistancesFromDotsImpl);
HWY_EXPORT(DotsBlockImpl);
HWY_EXPORT(CorrelationsToRowsImpl);
HWY_EXPORT(CorrelationsBlockImpl);
HWY_EXPORT(ChosenTargetImpl);

namespace {

void check_query(const MetricData& data, const QueryRow& q) {
  if (q.coords == nullptr) throw InputError("distance kernels: query without coordinates");
  if (data.kind == MetricKind::residual && q.v == nullptr) {
    throw InputError("distance kernels: residual query without a V row");
  }
}

void check_range(const MetricData& data, size_t begin, size_t end) {
  if (begin > end || end > data.n) {
    throw InputError(
        fmt::format("distance kernels: row range [{}, {}) outside 0..{}", begin, end, data.n));
  }
}

void check_residual(const MetricData& data, const char* what) {
  if (data.kind != MetricKind::residual) {
    throw InputError(fmt::format("{}: residual metric data only", what));
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Highway's name for a target, lower case; the portable fallback is also "scalar".
std::string choice_name(int64_t target) { return lower(hwy::TargetName(target)); }

bool is_fallback(int64_t target) { return target == HWY_EMU128 || target == HWY_SCALAR; }

std::vector<int64_t> targets_of(int64_t mask) {
  std::vector<int64_t> out;
  for (int64_t t = mask; t != 0; t &= t - 1) out.push_back(t & ~(t - 1));
  return out;  // lowest bit first = best first
}

}  // namespace

// Every wrapper calls through HWY_DYNAMIC_DISPATCH: a function pointer copied before the first
// call would be Highway's self-initialising stub, which re-detects the CPU on every call.
void distances_to_rows(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                       double* out) {
  check_query(data, q);
  HWY_DYNAMIC_DISPATCH(DistancesToRowsImpl)(data, q, rows.data(), rows.size(), out);
}

void correlations_to_rows(const MetricData& data, const QueryRow& q, std::span<const int32_t> rows,
                          double* out) {
  check_residual(data, "correlations_to_rows");
  check_query(data, q);
  HWY_DYNAMIC_DISPATCH(CorrelationsToRowsImpl)(data, q, rows.data(), rows.size(), out);
}

void correlations_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                        size_t end, double* out) {
  check_residual(data, "correlations_block");
  check_range(data, begin, end);
  for (const QueryRow& q : queries) check_query(data, q);
  HWY_DYNAMIC_DISPATCH(CorrelationsBlockImpl)
  (data, queries.data(), queries.size(), begin, end, out);
}

void distances_to_range(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                        double* out) {
  check_query(data, q);
  check_range(data, begin, end);
  HWY_DYNAMIC_DISPATCH(DistancesToRangeImpl)(data, q, begin, end, out);
}

void distances_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                     size_t end, double* out) {
  for (const QueryRow& q : queries) check_query(data, q);
  check_range(data, begin, end);
  HWY_DYNAMIC_DISPATCH(DistancesBlockImpl)(data, queries.data(), queries.size(), begin, end, out);
}

void distances_block_rows(const MetricData& data, std::span<const QueryRow> queries,
                          std::span<const int32_t> rows, double* out) {
  for (const QueryRow& q : queries) check_query(data, q);
  HWY_DYNAMIC_DISPATCH(DistancesBlockRowsImpl)
  (data, queries.data(), queries.size(), rows.data(), rows.size(), out);
}

void distances_block_scan(const MetricData& data, std::span<const QueryRow> queries, size_t begin,
                          size_t end, BlockChunkFn fn, void* context) {
  for (const QueryRow& q : queries) check_query(data, q);
  check_range(data, begin, end);
  HWY_DYNAMIC_DISPATCH(DistancesBlockScanImpl)
  (data, queries.data(), queries.size(), begin, end, fn, context);
}

void distances_from_dots(const MetricData& data, const QueryRow& q, size_t begin, size_t end,
                         const double* dots, double* out) {
  check_residual(data, "distances_from_dots");
  check_query(data, q);
  check_range(data, begin, end);
  HWY_DYNAMIC_DISPATCH(DistancesFromDotsImpl)(data, q, begin, end, dots, out);
}

void dots_block(const MetricData& data, std::span<const QueryRow> queries, size_t begin, size_t end,
                double* out) {
  check_residual(data, "dots_block");
  for (const QueryRow& q : queries) check_query(data, q);
  check_range(data, begin, end);
  HWY_DYNAMIC_DISPATCH(DotsBlockImpl)(data, queries.data(), queries.size(), begin, end, out);
}

std::string simd_target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(ChosenTargetImpl)()); }

std::vector<int64_t> available_simd_targets() { return hwy::SupportedAndGeneratedTargets(); }

std::vector<int64_t> compiled_simd_targets() { return targets_of(HWY_TARGETS); }

void force_simd_target(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

void reset_simd_target() {
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

std::vector<std::string> simd_target_choices() {
  reset_simd_target();
  std::vector<std::string> out{"best"};
  for (int64_t t : available_simd_targets()) {
    out.push_back(choice_name(t));
    if (is_fallback(t) && choice_name(t) != "scalar") out.push_back("scalar");
  }
  return out;
}

void select_simd_target(const std::string& name_in) {
  const std::string name = lower(name_in);
  reset_simd_target();
  if (name == "best") return;
  const std::vector<int64_t> runnable = available_simd_targets();
  const auto matches = [&](int64_t t) {
    return choice_name(t) == name || (name == "scalar" && is_fallback(t));
  };
  std::string choices;
  for (const std::string& c : simd_target_choices()) choices += (choices.empty() ? "" : ", ") + c;
  const std::vector<int64_t> compiled = compiled_simd_targets();
  const auto it = std::find_if(compiled.begin(), compiled.end(), matches);
  if (it == compiled.end()) {
    throw InputError(
        fmt::format("--simd {}: unknown target (this CPU can run: {})", name_in, choices));
  }
  if (std::find(runnable.begin(), runnable.end(), *it) == runnable.end()) {
    throw InputError(fmt::format("--simd {}: this CPU cannot run {} (it can: {})", name_in,
                                 hwy::TargetName(*it), choices));
  }
  force_simd_target(*it);
}

}  // namespace ctb

#endif  // HWY_ONCE
