#!/usr/bin/env python3
"""Sliced Wasserstein: imgdist's whole process vs POT's ot.sliced_wasserstein_distance, same run.

Usage (from the repository root, after `cargo build --release`):

    python bench/sliced_vs_pot.py [A.png B.png] [--proj 200] [--pot-runs 3] [--runs 7]

Needs numpy, pot and scikit-image (e.g. `python3 -m venv .venv && .venv/bin/pip install pot
scikit-image`). For each p in (1, 2) it times POT on the same cell coordinates, masses and
directions (imgdist's equispaced angles are not reproduced; POT gets the same number of random
directions, which costs it the same), times `imgdist A B --metric sliced --proj N --p p` as a
whole process (decode included), and prints medians, the ratio and imgdist's peak RSS.
"""

import argparse
import pathlib
import re
import statistics
import subprocess
import time

import numpy as np
import ot
from skimage import io

REPO = pathlib.Path(__file__).resolve().parent.parent
BIN = REPO / "target" / "release" / "imgdist"


def mass(path):
    v = io.imread(path).astype(np.float64)
    return v / v.sum()


def pot_seconds(a, b, proj, p, seed):
    rows, cols = a.shape
    ii, jj = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    x = np.stack([ii.ravel(), jj.ravel()], axis=1)
    theta = np.pi * np.random.default_rng(seed).random(proj)
    projections = np.stack([np.cos(theta), np.sin(theta)])
    t0 = time.perf_counter()
    value = ot.sliced_wasserstein_distance(x, x, a.ravel(), b.ravel(), projections=projections, p=p)
    return time.perf_counter() - t0, float(value)


def imgdist_run(args):
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", str(BIN), *args], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return elapsed, rss_kb, out.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a", nargs="?", default=str(REPO / "tests/data/camera_299.png"))
    ap.add_argument("b", nargs="?", default=str(REPO / "tests/data/coins_299.png"))
    ap.add_argument("--proj", type=int, default=200)
    ap.add_argument("--pot-runs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    a, b = mass(opts.a), mass(opts.b)
    print(f"{pathlib.Path(opts.a).name} vs {pathlib.Path(opts.b).name}, {a.shape[0]}x{a.shape[1]}, "
          f"{opts.proj} directions; POT {ot.__version__}")
    print("| p | POT median s | imgdist median s (whole process) | ratio | imgdist peak RSS MB |")
    print("|---|---|---|---|---|")
    for p in (1, 2):
        pot = [pot_seconds(a, b, opts.proj, p, seed)[0] for seed in range(opts.pot_runs)]
        runs = [imgdist_run([opts.a, opts.b, "--metric", "sliced", "--proj", str(opts.proj), "--p", str(p)])
                for _ in range(opts.runs)]
        ours = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs) / 1024
        pot_med = statistics.median(pot)
        print(f"| {p} | {pot_med:.2f} | {ours:.3f} | {pot_med / ours:.0f}x | {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
