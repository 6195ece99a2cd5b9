#!/usr/bin/env python3
"""The Sinkhorn divergence: imgdist against POT and GeomLoss at 64², and imgdist alone at 299².

Usage (from the repository root, after `cargo build --release`):

    python bench/sinkhorn.py [--parts peers,large] [--rounds 3] [--blurs-64 4,8]
        [--blurs-299 1,2,4] [--exe target/release/imgdist]

Needs numpy, pot and Pillow; GeomLoss (with PyTorch, CPU) is used if it imports.

- peers: the 64² pair (tests/data/camera_64.png vs coins_64.png), for each blur B of
  `--blurs-64`: the whole `imgdist A B -m sinkhorn --blur B` process (three entropic problems,
  debiased, tolerance 1e-9 on the L1 marginal error); POT's log-domain Sinkhorn
  (`ot.solve(M, p, q, reg=B², reg_type="KL", method="sinkhorn_log", tol=1e-9)`, the solver
  behind `ot.sinkhorn2(..., method="sinkhorn_log")`, whose return value is the plan's linear
  cost rather than OT_ε) for OT(a, b), OT(a, a) and OT(b, b), each the dual value of its
  potentials, with M the squared euclidean cost matrix (built inside the timing; POT's
  stopping test is the L2 error of one marginal, every 10 iterations); and GeomLoss
  `SamplesLoss("sinkhorn", p=2, blur=B/√2, debias=True, scaling=0.9, backend="tensorized")` on
  the full grid of cell coordinates in float64 on the CPU. GeomLoss's cost is |x − y|²/2 and its
  ε is blur², and OT_ε with cost C/2 is half of OT_2ε with cost C, so GeomLoss at blur B/√2 is
  S_ε/2 with imgdist's ε = B²: its value is doubled before the square root. GeomLoss runs a
  fixed ε-scaling schedule, not to a tolerance. Sides are timed in turns within each round;
  the script prints medians, values and the ratios of the medians. POT's plain iterations are
  slow at small blurs (at 32², blur 1 took 943 s for OT(a, b) alone at tolerance 1e-14), hence
  the default blurs.
- large: the 299² pair (camera_299.png vs coins_299.png), for each blur of `--blurs-299`:
  whole-process time of imgdist (median of `--rounds` runs) and peak RSS (`/usr/bin/time -v`),
  and |√S_ε − W₂| against the exact W₂ of `imgdist A B -m emd --ground sqeuclidean` (run once).
"""

import argparse
import json
import math
import re
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import ot
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


def load(name):
    """8-bit gray divided by 255, normalised to sum 1 (as imgdist loads it)."""
    image = Image.open(DATA / name)
    if image.mode != "L":
        raise ValueError(f"{name}: expected an 8-bit gray image, got {image.mode}")
    v = np.asarray(image, dtype=np.float64) / 255.0
    return v / v.sum()


def coordinates(shape):
    rows, cols = np.indices(shape, dtype=np.float64)
    return np.column_stack([rows.ravel(), cols.ravel()])


def run_imgdist(exe, args):
    """Runs imgdist under /usr/bin/time -v; returns (seconds, peak RSS in MB, JSON report)."""
    cmd = ["/usr/bin/time", "-v", str(exe), *args, "--format", "json"]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=DATA, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    return seconds, int(rss.group(1)) / 1024 if rss else math.nan, json.loads(out.stdout)


def pot_divergence(x, a, b, eps):
    """S_ε from three POT log-domain solves; each OT_ε is the dual value of POT's potentials
    (POT's `ot.sinkhorn2` would return the plan's linear cost <π, M>, not OT_ε)."""
    M = ot.dist(x, x, metric="sqeuclidean")

    def ot_eps(p, q):
        res = ot.solve(
            M, p, q, reg=eps, reg_type="KL", method="sinkhorn_log", max_iter=10**6, tol=1e-9
        )
        log_u, log_v = res.potentials
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(p > 0, eps * (log_u - np.log(p)), 0.0)
            g = np.where(q > 0, eps * (log_v - np.log(q)), 0.0)
        return float(p @ f + q @ g)

    s = ot_eps(a, b) - 0.5 * ot_eps(a, a) - 0.5 * ot_eps(b, b)
    return math.sqrt(max(s, 0.0))


def geomloss_divergence(x, a, b, blur):
    import torch
    from geomloss import SamplesLoss

    loss = SamplesLoss(
        "sinkhorn", p=2, blur=blur / math.sqrt(2.0), debias=True, scaling=0.9, backend="tensorized"
    )
    pts = torch.tensor(x, dtype=torch.float64)
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    s_half = float(loss(ta, pts, tb, pts))
    return math.sqrt(max(2.0 * s_half, 0.0))


def peers(args):
    a2, b2 = load("camera_64.png"), load("coins_64.png")
    x, a, b = coordinates(a2.shape), a2.ravel(), b2.ravel()
    try:
        import geomloss  # noqa: F401
        import torch  # noqa: F401

        have_geomloss = True
    except ImportError as e:
        print(f"GeomLoss not available ({e}); comparing with POT only")
        have_geomloss = False
    for blur in args.blurs_64:
        sides = {
            "imgdist": lambda: run_imgdist(
                args.exe, ["camera_64.png", "coins_64.png", "-m", "sinkhorn", "--blur", str(blur)]
            )[2]["metrics"]["sinkhorn"]["value"],
            "POT": lambda: pot_divergence(x, a, b, blur * blur),
        }
        if have_geomloss:
            sides["GeomLoss"] = lambda: geomloss_divergence(x, a, b, blur)
        times = {k: [] for k in sides}
        values = {}
        for r in range(args.rounds):
            names = list(sides)
            names = names[r % len(names):] + names[: r % len(names)]
            for name in names:
                start = time.perf_counter()
                values[name] = sides[name]()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["imgdist"])
        print(f"64² camera vs coins, blur {blur}:")
        for name in sides:
            m = statistics.median(times[name])
            print(
                f"  {name:9s} median {m:8.3f} s  value {values[name]:.12f}  "
                f"ratio to imgdist {m / base:7.2f}  |Δ value| {abs(values[name] - values['imgdist']):.2e}"
            )


def large(args):
    pair = ["camera_299.png", "coins_299.png"]
    t, rss, report = run_imgdist(args.exe, [*pair, "-m", "emd", "--ground", "sqeuclidean"])
    w2 = report["metrics"]["emd"]["value"]
    print(f"299² camera vs coins: exact W2 = {w2:.12f} ({t:.1f} s, {rss:.0f} MB)")
    for blur in args.blurs_299:
        runs = [
            run_imgdist(args.exe, [*pair, "-m", "sinkhorn", "--blur", str(blur)])
            for _ in range(args.rounds)
        ]
        seconds = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        m = runs[-1][2]["metrics"]["sinkhorn"]
        d = m["details"]
        print(
            f"  blur {blur}: median {seconds:.3f} s of {args.rounds}, peak RSS {rss:.0f} MB, "
            f"value {m['value']:.12f}, |value − W2| {abs(m['value'] - w2):.4f}, "
            f"iterations {d['iterations_per_problem']}, marginal error {d['marginal_error']:.2e}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="peers,large")
    parser.add_argument("--rounds", type=int, default=3)
    floats = lambda s: [float(v) for v in s.split(",")]  # noqa: E731
    parser.add_argument("--blurs-64", type=floats, default=[4.0, 8.0])
    parser.add_argument("--blurs-299", type=floats, default=[1.0, 2.0, 4.0])
    parser.add_argument("--exe", type=Path, default=REPO / "target" / "release" / "imgdist")
    args = parser.parse_args()
    args.exe = args.exe.resolve()
    for part in args.parts.split(","):
        {"peers": peers, "large": large}[part](args)


if __name__ == "__main__":
    main()
