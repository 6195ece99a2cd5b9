#!/usr/bin/env python3
"""Exact EMD at full resolution: imgdist's whole process, and OR-tools' min-cost flow on the same
grid graph for cityblock, side by side in one run.

Usage (from the repository root, after `cargo build --release`):

    python bench/emd_full.py [--runs 3] [--only cityblock|sqeuclidean|euclidean] [--size 299|512]
                             [--no-ortools]

Needs numpy, scikit-image and (for the peer) ortools. For cityblock it times, on the six pairs
of camera/moon/coins/text at 299² and on camera/moon at 512², `imgdist A B --metric emd --ground
cityblock` (decoding included) against OR-tools' `SimpleMinCostFlow` on the 4-neighbour grid
graph of the same pixels (unit arc costs, supplies `a − b` scaled by 10¹⁴ and rounded to
integers, as it needs; the graph is built before the clock starts, so only its solve is timed),
checks that the two values agree to 1e-8 (the rounding of the supplies moves the peer's
value by up to about that), and prints medians and ratios. For squared euclidean
and euclidean (no peer can run at this size: a dense cost matrix at 299² needs 64 GB) it times
imgdist alone on camera/coins 299² and camera/moon 512². Every imgdist run reports its peak RSS
and its certificate (max violation, gap).
"""

import argparse
import itertools
import json
import pathlib
import re
import statistics
import subprocess
import time

import numpy as np
from skimage import io

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
BIN = REPO / "target" / "release" / "imgdist"
SCALE = 10**14


def imgdist(a, b, ground):
    out = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN), str(DATA / a), str(DATA / b),
         "--metric", "emd", "--ground", ground, "--format", "json"],
        capture_output=True, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)",
                     out.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
    emd = json.loads(out.stdout)["metrics"]["emd"]
    return seconds, rss_mb, emd["value"], emd["details"]


def ortools_grid(a, b):
    """Seconds of OR-tools' solve and the cost, on the 4-neighbour grid graph."""
    from ortools.graph.python import min_cost_flow

    def mass(name):
        v = io.imread(DATA / name).astype(np.float64)
        return v / v.sum()

    pa, pb = mass(a), mass(b)
    rows, cols = pa.shape
    supply = np.rint((pa - pb).ravel() * SCALE).astype(np.int64)
    supply[np.argmax(np.abs(supply))] -= supply.sum()
    ids = np.arange(rows * cols).reshape(rows, cols)
    tails, heads = [], []
    for u, v in [(ids[:, :-1], ids[:, 1:]), (ids[:-1, :], ids[1:, :])]:
        tails += [u.ravel(), v.ravel()]
        heads += [v.ravel(), u.ravel()]
    tails, heads = np.concatenate(tails), np.concatenate(heads)
    flow = min_cost_flow.SimpleMinCostFlow()
    capacity = int(np.abs(supply).sum())
    flow.add_arcs_with_capacity_and_unit_cost(
        tails, heads, np.full(len(tails), capacity), np.ones(len(tails), dtype=np.int64))
    flow.set_nodes_supplies(np.arange(rows * cols), supply)
    t0 = time.perf_counter()
    status = flow.solve()
    elapsed = time.perf_counter() - t0
    assert status == flow.OPTIMAL, status
    return elapsed, flow.optimal_cost() / SCALE


def median_range(xs):
    return f"{statistics.median(xs):.2f} s ({min(xs):.2f}–{max(xs):.2f})"


def report_imgdist(a, b, ground, runs):
    times, rss, value, details = [], 0.0, None, None
    for _ in range(runs):
        t, r, value, details = imgdist(a, b, ground)
        times.append(t)
        rss = max(rss, r)
    c = details["certificate"]
    print(f"  imgdist {median_range(times)}, {rss:.0f} MB, value {value!r}, "
          f"{details['iterations']} pivots, violation {c['max_violation']:.1e}, gap {c['gap']:.1e}")
    return times, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["cityblock", "sqeuclidean", "euclidean"])
    parser.add_argument("--no-ortools", action="store_true")
    parser.add_argument("--size", type=int, choices=[299, 512], help="only this size")
    args = parser.parse_args()

    if args.only in (None, "cityblock"):
        names = ["camera", "moon", "coins", "text"]
        pairs = [(f"{x}_299.png", f"{y}_299.png") for x, y in itertools.combinations(names, 2)]
        pairs.append(("camera_512.png", "moon_512.png"))
        for a, b in pairs:
            if args.size and str(args.size) not in a:
                continue
            print(f"cityblock {a} {b}")
            times, value = report_imgdist(a, b, "cityblock", args.runs)
            if args.no_ortools:
                continue
            peer = [ortools_grid(a, b) for _ in range(max(1, args.runs // 2))]
            peer_times = [t for t, _ in peer]
            peer_value = peer[0][1]
            agree = abs(peer_value - value) / value
            assert agree < 1e-8, (peer_value, value)
            ratio = statistics.median(peer_times) / statistics.median(times)
            print(f"  OR-tools solve {median_range(peer_times)}, value {peer_value!r} "
                  f"(agree {agree:.1e}); imgdist is {ratio:.0f}× faster")
    for ground in ["sqeuclidean", "euclidean"]:
        if args.only not in (None, ground):
            continue
        for a, b in [("camera_299.png", "coins_299.png"), ("camera_512.png", "moon_512.png")]:
            if args.size and str(args.size) not in a:
                continue
            print(f"{ground} {a} {b}")
            report_imgdist(a, b, ground, args.runs)


if __name__ == "__main__":
    main()
