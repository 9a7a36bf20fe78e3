#!/usr/bin/env bash
# Sharded runs under mpirun (docs/mpi.md): answers equal to one process, and the fault cases
# end every rank non-zero within 10 s. Usage: tests/mpi/test_mpi.sh BINARY [MPIRUN]
# (registered in ctest when the tool links MPI).
set -euo pipefail
bin=$(realpath "${1:?usage: test_mpi.sh BINARY [MPIRUN]}")
mpirun=${2:-mpirun}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# The settings scripts/setup.sh writes into the MCA file, passed here too.
mpi=("$mpirun" --allow-run-as-root --oversubscribe
  --mca oob_tcp_if_include lo --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# Same neighbour sets row by row, the same indices in the same order, distances within 1e-12.
same() {  # same A_indices A_distances B_indices B_distances label
  if /usr/bin/python3 - "$@" <<'PY'; then ok "$5"; else bad "$5"; fi
import sys
import numpy as np
ia, da, ib, db = (np.load(p) for p in sys.argv[1:5])
assert ia.shape == ib.shape, (ia.shape, ib.shape)
sets = all(set(a) == set(b) for a, b in zip(ia.tolist(), ib.tolist()))
order = np.array_equal(ia, ib)
fin = np.isfinite(da) & np.isfinite(db)
dist = np.array_equal(np.isfinite(da), np.isfinite(db)) and (
    not fin.any() or float(np.max(np.abs(da[fin] - db[fin]))) <= 1e-12)
if not (sets and order and dist):
    print(f"sets {sets} order {order} distances {dist}", file=sys.stderr)
    sys.exit(1)
PY
}

# 1. run: 3 ranks on fixture4096 (and 2 ranks with --compare-brute) equal one process.
timeout 120 "$bin" run --scenario fixture4096 --threads 2 --repeat 1 --warmup 0 -q \
  --out-indices i1.npy --out-distances d1.npy
timeout 120 "${mpi[@]}" -np 3 "$bin" run --scenario fixture4096 --threads 1 --repeat 1 --warmup 0 \
  -q --out-indices i3.npy --out-distances d3.npy --summary-json s3.json
same i1.npy d1.npy i3.npy d3.npy "run fixture4096: 3 ranks = 1 process"
timeout 120 "${mpi[@]}" -np 2 "$bin" run --scenario fixture4096 --threads 1 --repeat 1 --warmup 0 \
  -q --compare-brute --out-indices i2.npy --out-distances d2.npy --summary-json s2.json
same i1.npy d1.npy i2.npy d2.npy "run fixture4096: 2 ranks = 1 process"
if /usr/bin/python3 - s2.json s3.json <<'PY'; then ok "summaries: world_size, ranks, recall_vs_brute 1"; else bad "summaries"; fi
import json, sys
s2, s3 = (json.load(open(p)) for p in sys.argv[1:3])
assert s2["world_size"] == 2 and s3["world_size"] == 3, (s2["world_size"], s3["world_size"])
assert s2["recall_vs_brute"] == 1.0, s2["recall_vs_brute"]
for s, n in ((s2, 2), (s3, 3)):
    ranks = s["ranks"]
    assert [r["rank"] for r in ranks] == list(range(n)), ranks
    assert sum(r["rows"] for r in ranks) == s["n_points"], ranks
    for r in ranks:
        for f in ("build_seconds", "distance_evals", "bytes_sent", "peak_rss_bytes"):
            assert f in r, (f, r)
        assert r["peak_rss_bytes"] > 0 and r["bytes_sent"] > 0, r
PY

# 2. The brute engine and a Euclidean scenario with fresh query points, 3 ranks.
timeout 120 "$bin" run --scenario tiny-euclid --threads 1 --repeat 1 --warmup 0 -q \
  --out-indices e1.npy --out-distances f1.npy
timeout 120 "${mpi[@]}" -np 3 "$bin" run --scenario tiny-euclid --threads 1 --repeat 1 \
  --warmup 0 -q --out-indices e3.npy --out-distances f3.npy
same e1.npy f1.npy e3.npy f3.npy "run tiny-euclid (box index): 3 ranks = 1 process"
timeout 120 "${mpi[@]}" -np 2 "$bin" run --scenario tiny-residual --engine brute --threads 1 \
  --repeat 1 --warmup 0 -q --out-indices b2.npy --out-distances c2.npy
timeout 120 "$bin" run --scenario tiny-residual --engine brute --threads 1 --repeat 1 --warmup 0 \
  -q --out-indices b1.npy --out-distances c1.npy
same b1.npy c1.npy b2.npy c2.npy "run tiny-residual --engine brute: 2 ranks = 1 process"

# 3. knn: all predecessors (Vecchia) and all points, residual, 2 and 3 ranks.
/usr/bin/python3 -c "
import numpy as np
np.save('pts.npy', np.random.default_rng(7).normal(size=(3000, 3)))"
knn=(knn --points pts.npy --k 20 --kernel rbf --inducing 64 --inducing-seed 0 -q)
timeout 120 "$bin" "${knn[@]}" --all-predecessors --threads 2 --out-indices p1.npy --out-distances q1.npy
for np_ in 2 3; do
  timeout 120 "${mpi[@]}" -np "$np_" "$bin" "${knn[@]}" --all-predecessors --threads 1 \
    --out-indices p$np_.npy --out-distances q$np_.npy
  same p1.npy q1.npy p$np_.npy q$np_.npy "knn --all-predecessors: $np_ ranks = 1 process"
done
timeout 120 "$bin" "${knn[@]}" --threads 2 --out-indices a1.npy --out-distances z1.npy
timeout 120 "${mpi[@]}" -np 3 "$bin" "${knn[@]}" --threads 1 --out-indices a3.npy --out-distances z3.npy
same a1.npy z1.npy a3.npy z3.npy "knn all points: 3 ranks = 1 process"

# 4. Faults: every rank ends, non-zero, within 10 s.
fault() {  # label command...
  local label=$1
  shift
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  timeout 30 "$@" >fault.out 2>&1 || rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(/usr/bin/python3 -c "print(f'{$t1 - $t0:.1f}')")
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && /usr/bin/python3 -c "import sys; sys.exit(not $t1 - $t0 < 10)"; then
    ok "$label: exit $rc after $secs s"
  else
    bad "$label: exit $rc after $secs s"
    cat fault.out >&2
  fi
}
fault "run --fail-rank 1 (2 ranks)" "${mpi[@]}" -np 2 "$bin" run --scenario fixture4096 \
  --threads 1 --repeat 1 --fail-rank 1 -q
grep -q "rank 1 of 2: error: --fail-rank 1" fault.out && ok "the failing rank's message is shown" ||
  bad "no --fail-rank message"
fault "knn --fail-rank 0 (3 ranks)" "${mpi[@]}" -np 3 "$bin" "${knn[@]}" --threads 1 \
  --out-indices x.npy --fail-rank 0
# Bad input seen by one rank only: rank 0 cannot write its output directory.
fault "run, an output only rank 0 checks fails" "${mpi[@]}" -np 2 "$bin" run \
  --scenario fixture4096 --threads 1 --repeat 1 -q --summary-json /nonexistent/dir/s.json

# A killed rank: SIGKILL rank 1 during its timed passes.
"${mpi[@]}" -np 2 "$bin" run --scenario fixture4096 --threads 1 --repeat 100000 -q \
  >kill.out 2>&1 &
launcher=$!
victim=""
for _ in $(seq 100); do
  for pid in $(pgrep -P "$launcher" || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
      victim=$pid
    fi
  done
  [ -n "$victim" ] && break
  sleep 0.1
done
sleep 2
t0=$(date +%s.%N)
rc=0
if [ -n "$victim" ]; then
  kill -9 "$victim"
  for _ in $(seq 200); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$launcher" 2>/dev/null; then
    kill -9 "$launcher" || true
    rc=124
  fi
fi
wait "$launcher" || rc=$?
t1=$(date +%s.%N)
secs=$(/usr/bin/python3 -c "print(f'{$t1 - $t0:.1f}')")
if [ -n "$victim" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
  ok "a killed rank ends the job: exit $rc after $secs s"
else
  bad "killed rank (victim '${victim}'): exit $rc after $secs s"
  cat kill.out >&2
fi
if pgrep -f "$bin run --scenario fixture4096 --threads 1 --repeat 100000" >/dev/null; then
  bad "a rank outlived the job"
fi

if [ "$fails" -ne 0 ]; then
  echo "test_mpi.sh: $fails failed" >&2
  exit 1
fi
echo "test_mpi.sh: all passed"
