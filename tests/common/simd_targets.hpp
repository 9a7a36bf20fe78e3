#pragma once
// Runs a test body once under every SIMD target compiled into the binary that this CPU can
// run (best first), with dispatch forced to it (Highway's SetSupportedTargetsForTest), inside
// a SCOPED_TRACE naming the target. Dispatch is restored afterwards, also when the body
// returns early or throws. Targets the CPU cannot run (AVX-512 on an AVX2 machine) are not
// run; `unrunnable_simd_targets()` names them, for a test to report as skipped.
//
//   TEST(Thing, MatchesOnEveryTarget) {
//     ctb::test_support::for_each_simd_target([&](const std::string& target) {
//       EXPECT_EQ(fast(), reference()) << target;
//     });
//   }
#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "metric/distance_kernels.hpp"

namespace ctb::test_support {

/// Restores normal dispatch when it goes out of scope.
struct ForcedSimdTarget {
  explicit ForcedSimdTarget(int64_t target) { force_simd_target(target); }
  ~ForcedSimdTarget() { reset_simd_target(); }
  ForcedSimdTarget(const ForcedSimdTarget&) = delete;
  ForcedSimdTarget& operator=(const ForcedSimdTarget&) = delete;
};

/// fn(target_name) once per runnable target; returns how many ran.
template <class Fn>
size_t for_each_simd_target(Fn&& fn) {
  reset_simd_target();
  const std::vector<int64_t> targets = available_simd_targets();
  for (const int64_t target : targets) {
    const std::string name = hwy::TargetName(target);
    SCOPED_TRACE("SIMD target " + name);
    const ForcedSimdTarget forced(target);
    fn(name);
  }
  return targets.size();
}

/// Compiled targets this CPU cannot run (their names).
inline std::vector<std::string> unrunnable_simd_targets() {
  reset_simd_target();
  const std::vector<int64_t> runnable = available_simd_targets();
  std::vector<std::string> out;
  for (const int64_t t : compiled_simd_targets()) {
    if (std::find(runnable.begin(), runnable.end(), t) == runnable.end()) {
      out.push_back(hwy::TargetName(t));
    }
  }
  return out;
}

}  // namespace ctb::test_support
