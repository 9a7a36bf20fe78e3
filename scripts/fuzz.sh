#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/, clang-14 from Debian) and runs each for a
# bounded time: the scenario parser, the NPY reader and the telemetry line reader.
#   scripts/fuzz.sh [--seed S --runs R] [SECONDS] [TARGET...]
#     (default 60 s each; targets: scenario npy telemetry)
# Each fuzzer starts from the seed corpus in tests/fuzz/corpus/<target> (never modified) and
# works in build/fuzz/corpus/<target>. Exit status is non-zero when any fuzzer found a crash,
# a leak, a sanitizer report, a timeout (> 10 s on one input) or excess memory; the input that
# triggered it is saved as build/fuzz/artifacts/<target>-crash-... with the command to replay.
set -euo pipefail
cd "$(dirname "$0")/.."

# --seed S --runs R: a reproducible run (libFuzzer's -seed and -runs), as the test command uses,
# so a submission's fuzz step gives the same verdict on every machine.
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) extra+=("-seed=${2:?--seed needs a value}"); shift 2 ;;
    --runs) extra+=("-runs=${2:?--runs needs a value}"); shift 2 ;;
    *) break ;;
  esac
done
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(scenario npy telemetry); fi
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number (got '$seconds')" >&2; exit 2 ;;
esac

cxx=${CTB_FUZZ_CXX:-clang++-14}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
build=build/fuzz
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" -j "$(nproc)"

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "fuzz.sh: unknown target '$t'" >&2; exit 2; fi
  work="$build/corpus/$t"
  mkdir -p "$work"
  printf '\n==> fuzz_%s for %s s\n' "$t" "$seconds" >&2
  # -max_len 64 KiB: scenarios are < 1 KiB; NPY headers and telemetry rows are tested for
  # their structure, not their bulk. -timeout: one input taking 10 s is a hang.
  # The outer timeout catches a fuzzer that wedges itself (libFuzzer's own -timeout handler can
  # deadlock when the hang is inside malloc, as yaml-cpp's LoadAll loop was).
  if ! timeout --kill-after=10 $((seconds + 120)) "$bin" "$work" "tests/fuzz/corpus/$t" \
      -max_total_time="$seconds" ${extra[@]+"${extra[@]}"} -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
      >"$build/fuzz_$t.log" 2>&1; then
    status=1
    echo "fuzz.sh: fuzz_$t FOUND A PROBLEM; log: $build/fuzz_$t.log" >&2
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$build/fuzz_$t.log" | head -20 >&2 || true
    echo "replay: $bin $build/artifacts/$t-<file>" >&2
  else
    grep -E "stat::number_of_executed_runs|stat::peak_rss_mb|cov: " "$build/fuzz_$t.log" \
      | tail -3 >&2 || true
    echo "fuzz_$t: no finding" >&2
  fi
done
exit "$status"
