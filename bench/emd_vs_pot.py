#!/usr/bin/env python3
"""Exact EMD: imgdist's whole process vs POT's dense ot.emd2, same run.

Usage (from the repository root, after `cargo build --release`):

    python bench/emd_vs_pot.py [--runs 3] [--big] [--big-runs 3]

Needs numpy, pot and scikit-image. For real 64x64 image pairs and each ground cost it times
POT's `ot.emd2(a, b, ot.dist(X, X, metric), numItermax=1e10)` (cost-matrix construction
included, as a user pays it) against `imgdist A B --metric emd --ground G` (decoding included),
checks the two values agree to 1e-9, and prints medians and ratios. With --big it also times
imgdist on two 299x299 images, where POT's dense solver cannot run (the cost matrix alone would
need 64 GB): the grid-graph cityblock solver (medians of --runs) and column generation for
euclidean and squared euclidean cost (medians of --big-runs, with the range: each takes about a
minute and this machine's speed wanders by tens of percent), with peak RSS and the certificate.
"""

import argparse
import json
import pathlib
import re
import statistics
import subprocess
import time

import numpy as np
import ot
from skimage import io

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BIN = REPO / "target" / "release" / "imgdist"
PAIRS = [("camera_64.png", "moon_64.png"), ("coins_64.png", "text_64.png")]


def mass(path):
    v = io.imread(path).astype(np.float64)
    return v / v.sum()


def pot(a_name, b_name, ground):
    a, b = mass(DATA / a_name), mass(DATA / b_name)
    rows, cols = a.shape
    ii, jj = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    x = np.stack([ii.ravel(), jj.ravel()], axis=1)
    t0 = time.perf_counter()
    cost = ot.emd2(a.ravel(), b.ravel(), ot.dist(x, x, metric=ground), numItermax=int(1e10))
    elapsed = time.perf_counter() - t0
    return elapsed, float(np.sqrt(cost) if ground == "sqeuclidean" else cost)


def imgdist(a_name, b_name, ground, details=False):
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN), str(DATA / a_name), str(DATA / b_name),
         "--metric", "emd", "--ground", ground, "--format", "json"],
        capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
    report = json.loads(out.stdout)["metrics"]["emd"]
    if details:
        return elapsed, report["value"], rss_mb, report["details"]
    return elapsed, report["value"], rss_mb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--big-runs", type=int, default=3)
    opts = ap.parse_args()
    print(f"POT {ot.__version__}; medians of {opts.runs} runs, both sides timed in this run")
    print("| pair (64²) | ground | POT s | imgdist s | ratio | agree |")
    print("|---|---|---|---|---|---|")
    for a, b in PAIRS:
        for ground in ("cityblock", "euclidean", "sqeuclidean"):
            pot_runs = [pot(a, b, ground) for _ in range(opts.runs)]
            our_runs = [imgdist(a, b, ground) for _ in range(opts.runs)]
            pot_s = statistics.median(r[0] for r in pot_runs)
            our_s = statistics.median(r[0] for r in our_runs)
            rel = abs(pot_runs[0][1] - our_runs[0][1]) / pot_runs[0][1]
            print(f"| {a[:-7]} / {b[:-7]} | {ground} | {pot_s:.2f} | {our_s:.3f} | "
                  f"{pot_s / our_s:.1f}x | {rel:.1e} |", flush=True)
    if opts.big:
        print()
        print("| pair (299²) | ground | imgdist s | peak RSS MB | value |")
        print("|---|---|---|---|---|")
        for a, b in [("camera_299.png", "coins_299.png")]:
            runs = [imgdist(a, b, "cityblock") for _ in range(opts.runs)]
            print(f"| {a[:-8]} / {b[:-8]} | cityblock | {statistics.median(r[0] for r in runs):.1f} | "
                  f"{max(r[2] for r in runs):.0f} | {runs[0][1]:.12g} |", flush=True)
        print()
        print("| pair (299²) | ground | imgdist s, median (range) | peak RSS MB | value | rounds | "
              "pivots | max violation | gap |")
        print("|---|---|---|---|---|---|---|---|---|")
        for a, b in [("camera_299.png", "coins_299.png")]:
            for ground in ("sqeuclidean", "euclidean"):
                runs = [imgdist(a, b, ground, details=True) for _ in range(opts.big_runs)]
                times = [r[0] for r in runs]
                _, value, _, d = runs[0]
                rss = max(r[2] for r in runs)
                c = d["certificate"]
                print(f"| {a[:-8]} / {b[:-8]} | {ground} | {statistics.median(times):.0f} "
                      f"({min(times):.0f}–{max(times):.0f}) | {rss:.0f} | {value:.12g} | "
                      f"{c['rounds']} | {d['iterations']} | {c['max_violation']:.1e} | "
                      f"{c['gap']:.1e} |", flush=True)


if __name__ == "__main__":
    main()
