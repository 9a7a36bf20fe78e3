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
  libopenmpi-dev openmpi-bin
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

# OpenMPI's per-user MCA parameter file (docs/mpi.md): one host, loopback only, so mpirun's
# out-of-band channel and the byte transfers stay on this machine (shared memory between the
# ranks, no single-copy kernel mechanism: containers often forbid CMA / ptrace). A real cluster
# changes these lines (docs/mpi.md "On a cluster").
mca_dir="${HOME}/.openmpi"
mca_file="${mca_dir}/mca-params.conf"
mkdir -p "$mca_dir"
touch "$mca_file"
sed -i '/# covertree-bench begin/,/# covertree-bench end/d' "$mca_file"
cat >>"$mca_file" <<'MCA'
# covertree-bench begin (scripts/setup.sh; docs/mpi.md)
oob_tcp_if_include = lo
btl = self,vader
btl_vader_single_copy_mechanism = none
# covertree-bench end
MCA
echo "setup: wrote OpenMPI settings to $mca_file" >&2

cmake --preset release >/dev/null
cmake --build --preset release --target covertree-bench
echo "setup: built build/release/covertree-bench" >&2
# The Python module (README "Python"): import with PYTHONPATH=build/release/python.
cmake --build --preset release --target covertree_bench_py
echo "setup: built build/release/python/covertree_bench" >&2
