#!/usr/bin/env bash
# The test command: builds and runs the unit tests under the `ci` preset (release flags,
# warnings as errors) and the `debug` preset (AddressSanitizer + UndefinedBehaviorSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "clang-format check"
scripts/format.sh --check

for preset in ci debug; do
  step "configure + build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  step "ctest: $preset"
  ctest --preset "$preset" -j 2
done

# The Python module's tests, on the ci build (the debug preset leaves the module out: an ASan
# extension needs the ASan runtime preloaded into python3). Debian's python3 has numpy.
step "pytest: Python module (ci build)"
PYTHONPATH=build/ci/python /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

# The packages (README "Install"), on the ci build just made: cmake --install into a temp
# prefix, a consumer and examples/cpp built against it (knn_example = `knn --metric euclidean`),
# and pip install / import / uninstall / wheel in a fresh venv (tests/package/test_package.sh).
step "packages: cmake --install + find_package consumers, pip install . (ci build)"
tests/package/test_package.sh ci

# Counters and exactness gate here; time checks are advisory because this machine is shared
# (docs/gate.md). The gate itself is release-only: the debug build's times mean nothing.
step "performance gate: CI scenarios (time checks advisory)"
build/ci/covertree-bench gate --baseline configs/baselines/ci.json --time-advisory --quiet

# Short fuzz runs (libFuzzer + ASan/UBSan, clang-14): the scenario parser, the NPY reader and
# the telemetry reader, a fixed seed and run count each (reproducible: the same verdict on
# every machine; at most 60 s each). `scripts/fuzz.sh 60` is the longer, open-ended run.
step "fuzz: 100000 runs per harness, seed 1"
rm -rf build/fuzz/corpus
scripts/fuzz.sh --seed 1 --runs 100000 60
