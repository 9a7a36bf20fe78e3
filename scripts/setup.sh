#!/usr/bin/env bash
# Installs every build dependency from Debian 12's repositories and builds the release preset.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build git python3
  libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libhwy-dev libyaml-cpp-dev
  libgtest-dev libeigen3-dev libnanoflann-dev
  libopenblas-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev clang-format
  pybind11-dev python3-dev python3-numpy python3-pytest python3-scipy
  python3-venv python3-pip python3-setuptools python3-wheel
  libjs-chart.js chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

cmake --preset release >/dev/null
cmake --build --preset release --target covertree-bench
echo "setup: built build/release/covertree-bench" >&2
# The Python module (README "Python"): import with PYTHONPATH=build/release/python.
cmake --build --preset release --target covertree_bench_py
echo "setup: built build/release/python/covertree_bench" >&2
