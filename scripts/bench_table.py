#!/usr/bin/env python3
"""Runs scenarios with `covertree-bench run --compare-brute` and prints a Markdown table.

Usage: scripts/bench_table.py [--binary B] [--threads T] [--strategies S,...] SCENARIO...
Each scenario runs once per build strategy (residual scenarios; Euclidean ones use the
default), with the scenario's warm-up and repetitions; Euclidean scenarios also compare with
nanoflann. The summary JSON of every run is kept under build/bench/.
"""
import argparse
import json
import os
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--binary", default="build/release/covertree-bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strategies", default="euclidean-hybrid,pure-residual")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("scenarios", nargs="+")
    args = ap.parse_args()
    os.makedirs("build/bench", exist_ok=True)
    rows = []
    for name in args.scenarios:
        euclid = name.startswith("euclid")
        for strategy in (["euclidean-hybrid"] if euclid else args.strategies.split(",")):
            out = f"build/bench/{name}-{strategy}.json"
            cmd = [args.binary, "run", "--scenario", name, "--threads", str(args.threads),
                   "--build-strategy", strategy, "--compare-brute", "--summary-json", out, "-q"]
            if euclid:
                cmd.append("--compare-nanoflann")
            if args.repeat:
                cmd += ["--repeat", str(args.repeat)]
            print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
            if subprocess.call(cmd) != 0:
                print(f"failed: {name} {strategy}", file=sys.stderr)
                return 1
            with open(out) as f:
                rows.append(json.load(f))
    print("| scenario | strategy | build s | q/s best | q/s median | evals/query | dense fallbacks"
          " | brute q/s | speed-up vs brute | recall | nanoflann q/s | speed-up vs nanoflann |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        nf = r.get("nanoflann_qps")
        nf_qps = "" if nf is None else f"{nf:.0f}"
        nf_speedup = "" if nf is None else f"{r['speedup_vs_nanoflann']:.2f}"
        print(f"| {r['scenario']} | {r['build_strategy']} | {r['build_seconds']:.3f} "
              f"| {r['qps_best']:.0f} | {r['qps_median']:.0f} "
              f"| {r.get('distance_evals_per_query', float('nan')):.0f} "
              f"| {r.get('dense_fallbacks', 0)} | {r['brute_qps']:.0f} "
              f"| {r['speedup_vs_brute']:.2f} | {r['recall_vs_brute']:.6f} "
              f"| {nf_qps} | {nf_speedup} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
