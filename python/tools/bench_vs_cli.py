"""The module's knn against the CLI's `knn` query time on the same inputs, back to back.

Usage (from the repository root, after scripts/setup.sh):
  PYTHONPATH=build/release/python /usr/bin/python3 python/tools/bench_vs_cli.py \
      --points points.npy --queries queries.npy --threads 2 --rounds 5

Each round runs the CLI once (its printed query time) and builds the module's tree and times
one tree.knn on the same queries (wall time of the Python call, conversions included), in
alternating order, so both sides see the same machine load; the medians and ratios are
printed. The answers must agree.
"""

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import covertree_bench as ctb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default="build/release/covertree-bench")
    ap.add_argument("--points", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--inducing", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()

    coords = np.load(a.points)
    queries = np.load(a.queries)
    cli_s, mod_s, mod_inner_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "I.npy"
        def run_cli():
            run = subprocess.run(
                [a.cli, "knn", "--points", a.points, "--queries", a.queries, "--k", str(a.k),
                 "--inducing", str(a.inducing), "--threads", str(a.threads),
                 "--out-indices", str(out)], check=True, capture_output=True, text=True)
            cli_s.append(float(re.search(r"query ([0-9.]+) s", run.stdout).group(1)))

        def run_module():
            # A fresh tree each round, queried right after its build as the CLI does, so both
            # query passes start from the same cache state.
            tree = ctb.cover_tree(coords, kernel=ctb.kernels.RBF(lengthscale=1.0, variance=1.0),
                                  inducing_count=a.inducing, seed=0, threads=a.threads)
            t0 = time.perf_counter()
            got = tree.knn(a.k, queries=queries)
            mod_s.append(time.perf_counter() - t0)
            mod_inner_s.append(tree.stats["query_seconds"])
            return got

        for r in range(a.rounds):
            # Alternate which side goes first, so neither always follows the other.
            if r % 2 == 0:
                run_cli()
                got = run_module()
            else:
                got = run_module()
                run_cli()
            if not np.array_equal(got, np.load(out)):
                raise SystemExit("bench_vs_cli: the module's answer differs from the CLI's")
    cli, mod = statistics.median(cli_s), statistics.median(mod_s)
    print(f"CLI query (median of {a.rounds}): {cli * 1e3:.2f} ms  {[round(x * 1e3, 2) for x in cli_s]}")
    print(f"module knn call (median):        {mod * 1e3:.2f} ms  {[round(x * 1e3, 2) for x in mod_s]}")
    print(f"module library time (median):    {statistics.median(mod_inner_s) * 1e3:.2f} ms")
    ratios = [m / c for m, c in zip(mod_s, cli_s)]
    overhead = statistics.median([m - i for m, i in zip(mod_s, mod_inner_s)])
    print(f"module call minus its library time (median): {overhead * 1e3:.3f} ms")
    print(f"ratio module / CLI: medians {mod / cli:.3f}, per-round median "
          f"{statistics.median(ratios):.3f} {[round(x, 2) for x in ratios]}")


if __name__ == "__main__":
    main()
