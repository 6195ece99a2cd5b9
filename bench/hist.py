#!/usr/bin/env python3
"""Grey-level histogram EMD: imgdist's whole process vs SciPy, same run.

Usage (from the repository root, after `cargo build --release`):

    python bench/hist.py [--runs 7]

Needs numpy, scipy and pillow. For two 299x299 and two 512x512 images it times, whole process
(decoding included): `imgdist A B -m hist`, `imgdist A B -m tv` (decoding plus an O(N) metric:
the floor a metric on these inputs cannot go below), and in Python Pillow decoding plus
`scipy.stats.wasserstein_distance(A.ravel() / 255, B.ravel() / 255)` (interpreter start-up
excluded). Prints medians, the ratio hist / tv, and checks the values agree to 1e-12.
"""

import argparse
import pathlib
import statistics
import subprocess
import time

import numpy as np
from PIL import Image
from scipy.stats import wasserstein_distance

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BIN = REPO / "target" / "release" / "imgdist"
PAIRS = [("camera_299.png", "coins_299.png"), ("camera_512.png", "moon_512.png")]


def timed(f, runs):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def imgdist(a, b, metric):
    out = subprocess.run(
        [BIN, DATA / a, DATA / b, "-m", metric], check=True, capture_output=True, text=True
    )
    return float(out.stdout.split()[1])


def scipy_hist(a, b):
    va = np.asarray(Image.open(DATA / a), dtype=np.float64) / 255.0
    vb = np.asarray(Image.open(DATA / b), dtype=np.float64) / 255.0
    return wasserstein_distance(va.ravel(), vb.ravel())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    print(f"{'pair':32} {'hist s':>9} {'tv s':>9} {'hist/tv':>8} {'scipy s':>9} {'scipy/hist':>10}")
    for a, b in PAIRS:
        t_hist, v = timed(lambda: imgdist(a, b, "hist"), args.runs)
        t_tv, _ = timed(lambda: imgdist(a, b, "tv"), args.runs)
        t_scipy, want = timed(lambda: scipy_hist(a, b), args.runs)
        assert abs(v - want) <= 1e-12 * max(abs(want), 1e-300), (v, want)
        print(
            f"{a + ' / ' + b:32} {t_hist:9.4f} {t_tv:9.4f} {t_hist / t_tv:8.2f} "
            f"{t_scipy:9.4f} {t_scipy / t_hist:10.1f}"
        )


if __name__ == "__main__":
    main()
