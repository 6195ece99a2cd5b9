#!/usr/bin/env python3
"""Batch mode: thread scaling and per-pair overhead on 200 small images (19,900 pairs).

Usage (from the repository root, after `cargo build --release`; the binary is taken from
`$CARGO_TARGET_DIR` when it is set, else from `target/`, and the two measuring tools are built
with `cargo bench --no-run`):

    python bench/batch.py [--images 200] [--runs 5] [--sliced-runs 3] [--metrics tv,sliced]

Needs numpy and Pillow. Writes 200 deterministic 28×28 grayscale PNGs (a few Gaussian blobs
each, seeded) into a temporary folder, then for `--metric tv` and `--metric sliced` times the
whole process `imgdist batch --all-pairs DIR --metric M --jobs J --quiet > /dev/null` for
J = 1 and 2 (medians of the runs) and prints the ratio. The per-pair overhead is the batch
wall time per pair on one thread minus the metric's own cost per pair, which
`benches/batch_metric_cost.rs` measures in process on one thread (median of five timings of the
computations alone, the metrics built beforehand with their per-pair seeds; run once per run,
median taken). The three measurements take turns, so that load from other processes weighs on
them alike. It also prints the CPU time of `--jobs 2` over `--jobs 1` (about 1 when the second
thread adds no work) and the load average before and after each metric's runs, since a
speed-up needs a second core that nothing else is using.

Because a shared machine seldom has a second core free for long, each turn also runs
`benches/batch_ceiling.rs`: the same metric computations on one and on two threads in
process, with nothing shared but a counter of pairs (no decoding, records or output; all pairs
for tv, the first 200 for sliced). The ratio of its medians is the speed-up that the machine
allowed during the runs, the ceiling for batch mode's; the last column sets one against the
other.
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import tempfile
import time

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
BIN = TARGET / "release" / "imgdist"
TOOLS = ("batch_metric_cost", "batch_ceiling")


def build_tools():
    """Builds the measuring tools (bench targets run with arguments); returns their executables."""
    args = ["cargo", "bench", "--locked", "--no-run", "--message-format=json"]
    for name in TOOLS:
        args += ["--bench", name]
    out = subprocess.run(args, cwd=REPO, check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        msg = json.loads(line)
        name = msg.get("target", {}).get("name")
        if msg.get("reason") == "compiler-artifact" and name in TOOLS and msg.get("executable"):
            found[name] = msg["executable"]
    missing = [name for name in TOOLS if name not in found]
    if missing:
        raise SystemExit(f"cargo bench --no-run built no executable for {', '.join(missing)}")
    return found["batch_metric_cost"], found["batch_ceiling"]


def make_images(folder, count, size=28, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    for k in range(count):
        img = np.zeros((size, size))
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, size - 4, 2)
            s = rng.uniform(1.5, 4.0)
            img += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        img = np.round(255 * img / img.max()).astype(np.uint8)
        Image.fromarray(img, mode="L").save(folder / f"img_{k:03d}.png")


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args):
    """Wall and CPU seconds of one run of the command."""
    cpu = cpu_seconds()
    started = time.perf_counter()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))}: exit {done.returncode}: {done.stderr.decode()}")
    return elapsed, cpu_seconds() - cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sliced-runs", type=int, default=3)
    ap.add_argument("--metrics", default="tv,sliced", help="comma-separated subset of tv,sliced")
    opts = ap.parse_args()
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: run `cargo build --release` first")
    cost_exe, ceiling_exe = build_tools()
    pairs = opts.images * (opts.images - 1) // 2
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        make_images(folder, opts.images)
        chosen = opts.metrics.split(",")
        for metric, runs in (("tv", opts.runs), ("sliced", opts.sliced_runs)):
            if metric not in chosen:
                continue
            # One thread, two threads and the metric alone in turn, so that a change in the
            # machine's load during the runs weighs on all three alike.
            times, costs, ceilings = {1: [], 2: []}, [], []
            ceiling_pairs = str(pairs if metric == "tv" else 200)
            load_before = os.getloadavg()[0]
            for _ in range(runs):
                for jobs in (1, 2):
                    times[jobs].append(timed([BIN, "batch", "--all-pairs", folder, "--metric",
                                              metric, "--jobs", str(jobs), "--quiet"]))
                out = subprocess.run([cost_exe, folder, metric, "2000"], capture_output=True,
                                     check=True)
                costs.append(tuple(map(float, out.stdout.split())))
                out = subprocess.run([ceiling_exe, folder, metric, ceiling_pairs, "5"],
                                     capture_output=True, check=True)
                one, two = map(float, out.stdout.split())
                ceilings.append(one / two)
            med = {j: statistics.median(t[0] for t in times[j]) for j in times}
            cpu = {j: statistics.median(t[1] for t in times[j]) for j in times}
            metric_s = statistics.median(c[0] for c in costs)
            decode_s = statistics.median(c[1] for c in costs)
            per_pair = med[1] / pairs
            ceiling = statistics.median(ceilings)
            rows.append((metric, med[1], med[2], med[1] / med[2], cpu[2] / cpu[1], per_pair,
                         metric_s, per_pair - metric_s, decode_s,
                         f"{load_before:.1f} → {os.getloadavg()[0]:.1f}", ceiling))
    print(f"{opts.images} images of 28×28, {pairs} pairs (all pairs), medians of "
          f"{opts.runs} (tv) / {opts.sliced_runs} (sliced) whole-process runs")
    print(f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print("| metric | --jobs 1 | --jobs 2 | speed-up | CPU time 2 vs 1 | batch per pair (1 thread) "
          "| metric alone per pair | overhead per pair | decode per input | load average "
          "| ceiling speed-up | speed-up / ceiling |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m, t1, t2, ratio, cpu_ratio, pp, ms, over, dec, load_range, ceiling in rows:
        print(f"| {m} | {t1:.3f} s | {t2:.3f} s | {ratio:.2f}× | {cpu_ratio:.2f} "
              f"| {pp * 1e6:.1f} µs | {ms * 1e6:.1f} µs | {over * 1e6:.1f} µs | {dec * 1e6:.0f} µs "
              f"| {load_range} | {ceiling:.2f}× | {ratio / ceiling:.2f} |")


if __name__ == "__main__":
    main()
