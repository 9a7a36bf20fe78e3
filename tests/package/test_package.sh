#!/usr/bin/env bash
# The package checks (issue 22, README "Install"), on an already built preset (default
# release; scripts/test.sh passes ci; pip always builds the release preset, as setup.sh does): `cmake --install` into a temp prefix, a consumer and
# examples/cpp's knn_example built against it (knn_example must answer as `covertree-bench knn
# --metric euclidean`), then `pip install .` / import from /tmp / the README's Python example /
# `pip wheel` / `pip uninstall` in a fresh venv of Debian's python3. Fails loudly.
# Usage: tests/package/test_package.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PRESET=${1:-release}
BUILD=$ROOT/build/$PRESET
fail() { echo "test_package: FAIL: $*" >&2; exit 1; }
[ -d "$BUILD" ] || fail "$BUILD is not built (cmake --preset $PRESET && cmake --build --preset $PRESET)"
WORK=$(mktemp -d /tmp/ctb-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
VERSION=$(sed -n 's/^project(covertree_bench VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$VERSION" ] || fail "no project(covertree_bench VERSION ...) in CMakeLists.txt"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

echo "test_package: cmake --install $BUILD --prefix P" >&2
cmake --build "$BUILD" --target covertree-bench covertree_bench >/dev/null
P=$WORK/prefix
cmake --install "$BUILD" --prefix "$P" >/dev/null
for f in bin/covertree-bench include/covertree_bench/covertree_bench.hpp \
  lib/cmake/covertree_bench/covertree_bench-config.cmake \
  lib/cmake/covertree_bench/covertree_bench-config-version.cmake; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
ls "$P"/lib/libcovertree_bench.so* >/dev/null || fail "not installed: lib/libcovertree_bench.so"
# The installed headers include standard headers and each other only.
if grep -h '^#include' "$P"/include/covertree_bench/*.hpp |
  grep -v -E '^#include <(covertree_bench/[a-z_]+\.hpp|[a-z_]+)>$'; then
  fail "an installed header includes a non-standard header (above)"
fi
"$P/bin/covertree-bench" --help >/dev/null || fail "installed covertree-bench does not run"

echo "test_package: consumer + examples/cpp against -DCMAKE_PREFIX_PATH=P" >&2
for project in tests/package/consumer examples/cpp; do
  cmake -S "$project" -B "$WORK/build-$(basename "$project")" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$P" >/dev/null
  cmake --build "$WORK/build-$(basename "$project")" >/dev/null
done
got=$("$WORK/build-consumer/consumer") || fail "consumer failed"
[ "$got" = "$VERSION" ] || fail "consumer printed ctb::version() '$got', CMakeLists.txt says '$VERSION'"

# Points on a grid with duplicates: ties at every distance, so tie-breaking by index matters.
/usr/bin/python3 - "$WORK" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
x = np.round(rng.uniform(0, 5, size=(3000, 3)) * 2) / 2
x[2999] = x[0]
np.save(f"{sys.argv[1]}/points.npy", x)
np.save(f"{sys.argv[1]}/line.npy", rng.uniform(0, 1, size=500))  # 1-D: n points of 1 dim
PY
for case in "points 8" "points 1" "line 5"; do
  set -- $case
  "$WORK/build-cpp/knn_example" "$WORK/$1.npy" "$2" "$WORK/example.npy" >/dev/null
  "$P/bin/covertree-bench" knn --metric euclidean --points "$WORK/$1.npy" --k "$2" \
    --out-indices "$WORK/cli.npy" >/dev/null 2>&1
  /usr/bin/python3 - "$WORK" "$2" <<'PY' || fail "knn_example differs from covertree-bench knn ($case)"
import sys
import numpy as np
a = np.load(f"{sys.argv[1]}/example.npy")
b = np.load(f"{sys.argv[1]}/cli.npy")
k = int(sys.argv[2])
assert a.dtype == np.int64 and b.dtype == np.int64, (a.dtype, b.dtype)
assert a.shape == b.shape and a.shape[1] == k, (a.shape, b.shape)
assert np.array_equal(a, b), np.argwhere(a != b)[:5]
PY
done
if "$WORK/build-cpp/knn_example" "$WORK/points.npy" 0 "$WORK/x.npy" 2>/dev/null; then
  fail "knn_example accepted K = 0"
fi

echo "test_package: pip install / import / README example / wheel / uninstall (venv)" >&2
V=$WORK/venv
/usr/bin/python3 -m venv --system-site-packages "$V"
PIP=("$V/bin/pip" -q --disable-pip-version-check)
"${PIP[@]}" install --no-build-isolation --no-index "$ROOT"
check_import() {
  (cd /tmp && "$V/bin/python" - "$VERSION" <<'PY')
import sys
import sysconfig
import covertree_bench
site = sysconfig.get_paths()["purelib"]
assert covertree_bench.__file__.startswith(site), (covertree_bench.__file__, site)
assert covertree_bench.__version__ == sys.argv[1], (covertree_bench.__version__, sys.argv[1])
PY
}
check_import || fail "import covertree_bench from /tmp: not the installed one, or wrong __version__"
awk '/^A worked Vecchia example/{f=1} f&&/^```python/{g=1;next} g&&/^```/{exit} g{print}' \
  README.md >"$WORK/readme_example.py"
[ -s "$WORK/readme_example.py" ] || fail "README's Python example not found"
(cd /tmp && "$V/bin/python" "$WORK/readme_example.py" >/dev/null) || fail "README's Python example"
"${PIP[@]}" uninstall -y covertree-bench
if (cd /tmp && "$V/bin/python" -c "import covertree_bench" 2>/dev/null); then
  fail "covertree_bench still importable after pip uninstall"
fi
"${PIP[@]}" wheel --no-build-isolation --no-index --no-deps -w "$WORK/wheels" "$ROOT"
wheel=$(ls "$WORK"/wheels/covertree_bench-"$VERSION"-*.whl) || fail "pip wheel made no wheel"
"$V/bin/python" -m zipfile -l "$wheel" | grep -q 'covertree_bench/_core' || fail "wheel lacks _core"
"${PIP[@]}" install --no-index "$wheel"
check_import || fail "import after installing the wheel"
"${PIP[@]}" uninstall -y covertree-bench
echo "test_package: OK (version $VERSION)" >&2
