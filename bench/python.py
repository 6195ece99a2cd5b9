#!/usr/bin/env python3
"""The Python package: imgdist in process against POT, the binding's overhead, pairwise, the GIL.

Usage (from the repository root, with the package installed into the venv, e.g.
`.venv/bin/pip install ./python`):

    python bench/python.py [--parts sliced,emd,overhead,pairwise,gil] [--quick] [--proj 200]
        [--sliced-rounds 3] [--emd-rounds 3] [--inner 5] [--overhead-calls 20000] [--overhead-repeats 11]
        [--images 200] [--pairwise-rounds 3] [--tv-rounds 11] [--gil-calls 5] [--gil-rounds 7]
        [--metric-cost-exe PATH]

Needs numpy, pot and Pillow. Every comparison times its sides in turns within each round (the
order rotating from round to round), so that load from other processes weighs on all sides
alike; it prints medians, the ratio of the medians and the median of the per-round ratios.
Against POT a round is one POT call and `--inner` imgdist calls.
imgdist runs with its defaults (all cores) unless a part says otherwise. In the overhead and
pairwise parts each side runs on a Python thread of its own: a `jobs=1` call makes its thread
the one thread of its own rayon pool for good, and later default calls from that thread pay a
hand-over to another pool (about 3 µs).

- sliced: the 299² pair (tests/data/camera_299.png vs coins_299.png, loaded once with
  `imgdist.load`), `imgdist.sliced(a, b, proj=200)` against
  `ot.sliced_wasserstein_distance(X, X, a, b, projections=P, p=1)` on the full grid of cell
  coordinates (89,401 cells, zero masses included) with the same directions: imgdist's angles
  from `return_profile=True`, a cell (i, j) at point (i, j), direction θ = (cos θ, sin θ). Before
  timing it checks on a few directions that POT's per-direction W₁ matches imgdist's profile
  with rows as the first coordinate (and not with the axes swapped), and that zero masses are
  harmless to POT (zero-weight points add zero-length quantile steps): with the darkest 30% of
  A's cells set to 0, POT on the full grid and on the supports alone both match imgdist. Both
  values are printed.
- emd: the 64² pair (camera_64 vs coins_64), `imgdist.emd(a, b, ground=G)` against
  `ot.emd2(a, b, ot.dist(X, X, metric=G), numItermax=10**9)` (building the cost matrix included)
  for the three grounds; for sqeuclidean POT's cost is W₂², so its square root is compared.
- overhead: per-call time of `imgdist.tv(a, b)` on two 28×28 float64 arrays (`--overhead-calls`
  calls per timing, median of `--overhead-repeats`). It includes the metric itself (about 1 µs),
  so it bounds the binding's overhead from above. Beside it, for a rough breakdown: a trivial
  two-argument builtin call (the Python loop), tv with jobs=1, on 1×1 arrays (the fixed cost),
  on uint8 arrays, on 64² arrays (the per-cell cost; up to 8192 cells tv sums in one chunk, on
  the calling thread), `imgdist.load(a)` (one array's conversion into a mass and back),
  NumPy's own `0.5 * abs(a/Σa − b/Σb).sum()`,
  and the metric alone in Rust (`benches/batch_metric_cost.rs` on the pairwise part's images,
  if its executable exists under target/release/deps or is given; it is not built here).
- pairwise: `--images` seeded 28×28 images (bench/batch.py's `make_images`, loaded with
  `imgdist.load`), all pairs: `imgdist.pairwise(xs, M, jobs=2)` and `jobs=1` against a Python
  loop calling `imgdist.M(xs[i], xs[j], jobs=1)` for every pair, M = sliced (default params)
  and tv, and the same loop with the default jobs; checks that the loops' matrices equal
  pairwise's bit for bit.
- gil: two Python threads each making `--gil-calls` calls of `imgdist.sliced(a, b, jobs=1)` on
  the 299² pair against one thread making twice as many; the machine's own ceiling for two
  threads is the same measured on C code that releases the GIL (hashlib.sha256 over 32 MB, and
  numpy.sort of 2M float64, each sized so one thread takes about as long as imgdist's); the
  speed-up over the ceiling tells how much of what the machine allowed imgdist got. The CPU
  time over wall time of the two-thread runs is printed too.

`--quick` is a smoke test: the 64² pair for sliced, the 32² pair for emd, fewer calls, images
and rounds.
"""

import argparse
import concurrent.futures
import datetime
import glob
import hashlib
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np
import ot

import imgdist

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from batch import make_images  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
PARTS = ("sliced", "emd", "overhead", "pairwise", "gil")
med = statistics.median


# --- helpers -------------------------------------------------------------------------------


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (
        f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"nproc {os.cpu_count()}, {model}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"Python {platform.python_version()}, numpy {np.__version__}, POT {ot.__version__}, "
        f"imgdist {getattr(imgdist, '__version__', '?')} ({pathlib.Path(imgdist.__file__).parent})"
    )


def interleave(sides, rounds, inner=None):
    """Times every side once per round (`inner[name]` times for fast sides), the order rotating.

    `sides` maps a name to a callable; returns name -> list of per-round lists of seconds.
    """
    inner = inner or {}
    names = list(sides)
    times = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            got = []
            for _ in range(inner.get(n, 1)):
                t0 = time.perf_counter()
                sides[n]()
                got.append(time.perf_counter() - t0)
            times[n].append(got)
    return times


def own_threads(sides):
    """Each side run on a thread of its own, kept for the whole measurement.

    A call with `jobs=1` makes its calling thread the one thread of its own pool for good, and
    later default calls from that thread then hand their work to another pool: separate threads
    keep the sides from changing each other's costs. Returns the wrapped sides and a function
    that stops the threads.
    """
    executors = {n: concurrent.futures.ThreadPoolExecutor(max_workers=1) for n in sides}
    wrapped = {n: (lambda n=n: executors[n].submit(sides[n]).result()) for n in sides}

    def stop():
        for e in executors.values():
            e.shutdown()
    return wrapped, stop


def flat(rounds_of_times):
    return [t for got in rounds_of_times for t in got]


def ratio_stats(slow, fast):
    """Ratio of the medians, and the median of the per-round ratios (of per-round medians)."""
    per_round = [med(s) / med(f) for s, f in zip(slow, fast)]
    return med(flat(slow)) / med(flat(fast)), med(per_round)


def fmt_s(t):
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.1f} µs"


def fmt_x(r):
    return f"{r:.0f}×" if r >= 10 else f"{r:.2f}×"


def grid_points(shape):
    ii, jj = np.meshgrid(np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float),
                         indexing="ij")
    return np.stack([ii.ravel(), jj.ravel()], axis=1)


def rel(x, y):
    return abs(x - y) / max(abs(x), abs(y), 1e-300)


def section(title):
    print(f"\n## {title}\n", flush=True)


# --- 1. sliced vs POT ----------------------------------------------------------------------


def part_sliced(opts):
    size = 64 if opts.quick else 299
    pa, pb = DATA / f"camera_{size}.png", DATA / f"coins_{size}.png"
    a, b = imgdist.load(pa), imgdist.load(pb)
    proj = opts.proj
    section(f"sliced vs POT: {pa.name} vs {pb.name}, {a.shape[0]}×{a.shape[1]} "
            f"({a.size:,} cells), {proj} directions, p = 1")
    value, profile = imgdist.sliced(a, b, proj=proj, return_profile=True)
    theta = np.asarray(profile["angles"])
    per_dir = np.asarray(profile["per_direction"])
    assert theta.shape == (proj,), theta.shape
    x = grid_points(a.shape)
    wa, wb = a.ravel(), b.ravel()
    zeros = (int((wa == 0).sum()), int((wb == 0).sum()))
    print(f"masses: sum {wa.sum():.17g} / {wb.sum():.17g}; zero cells {zeros[0]:,} / {zeros[1]:,}")

    # Which coordinate is which, and zero weights: on a few directions (cheap).
    k = min(4, proj)
    few = np.stack([np.cos(theta[:k]), np.sin(theta[:k])])
    rows_first = ot.lp.wasserstein_1d(x @ few, x @ few, wa, wb, p=1)
    swapped = ot.lp.wasserstein_1d(x[:, ::-1] @ few, x[:, ::-1] @ few, wa, wb, p=1)
    print(f"first {k} directions, POT's W₁ per direction relative to imgdist's profile: "
          f"point (i, j) = (row, column) max rel diff {max(map(rel, rows_first, per_dir[:k])):.1e}; "
          f"axes swapped {max(map(rel, swapped, per_dir[:k])):.1e}")
    # Zero masses: the darkest 30% of A's cells set to 0 (these images have none), imgdist's
    # profile on k directions against POT on the full grid (zero weights kept) and on the supports.
    az = a.copy()
    az[az < np.quantile(az, 0.3)] = 0
    _, zprof = imgdist.sliced(az, b, proj=k, return_profile=True)
    wz = imgdist.load(az).ravel()
    zdirs = np.stack([np.cos(zprof["angles"]), np.sin(zprof["angles"])])
    kept = ot.lp.wasserstein_1d(x @ zdirs, x @ zdirs, wz, wb, p=1)
    sz, sb = wz > 0, wb > 0
    dropped = ot.lp.wasserstein_1d(x[sz] @ zdirs, x[sb] @ zdirs, wz[sz], wb[sb], p=1)
    print(f"with {int((wz == 0).sum()):,} zero cells in A, POT's W₁ per direction relative to "
          f"imgdist's: zero weights kept {max(map(rel, kept, zprof['per_direction'])):.1e}, "
          f"zero cells dropped {max(map(rel, dropped, zprof['per_direction'])):.1e}")

    projections = np.stack([np.cos(theta), np.sin(theta)])  # (2, L): a cell projects to i cos θ + j sin θ
    values = {}

    def pot_side():
        values["pot"] = float(ot.sliced_wasserstein_distance(
            x, x, wa, wb, n_projections=proj, projections=projections, p=1))

    def ours():
        values["imgdist"] = imgdist.sliced(a, b, proj=proj)

    rounds = opts.sliced_rounds
    times = interleave({"pot": pot_side, "imgdist": ours}, rounds, {"imgdist": opts.inner})
    r_med, r_round = ratio_stats(times["pot"], times["imgdist"])
    print(f"values: imgdist {values['imgdist']!r}, POT {values['pot']!r}, "
          f"relative difference {rel(values['imgdist'], values['pot']):.1e} "
          f"(profile call {value!r})")
    print(f"runs: POT {rounds}, imgdist {rounds * opts.inner} (default jobs: all cores)\n")
    print("| pair | POT | imgdist.sliced | ratio (of medians) | median of per-round ratios | goal ≥ 100× |")
    print("|---|---|---|---|---|---|")
    print(f"| {a.shape[0]}² camera / coins | {fmt_s(med(flat(times['pot'])))} "
          f"| {fmt_s(med(flat(times['imgdist'])))} | {fmt_x(r_med)} | {fmt_x(r_round)} "
          f"| {'met' if r_med >= 100 else 'NOT met'} |", flush=True)


# --- 2. emd vs POT -------------------------------------------------------------------------


def part_emd(opts):
    size = 32 if opts.quick else 64
    pa, pb = DATA / f"camera_{size}.png", DATA / f"coins_{size}.png"
    a, b = imgdist.load(pa), imgdist.load(pb)
    section(f"exact EMD vs POT: {pa.name} vs {pb.name}, {a.shape[0]}×{a.shape[1]} "
            f"({a.size:,} cells)")
    x = grid_points(a.shape)
    wa, wb = a.ravel(), b.ravel()
    rounds = opts.emd_rounds
    print(f"POT: ot.emd2(a, b, ot.dist(X, X, metric=G), numItermax=10**9), cost matrix included, "
          f"{rounds} runs per ground; imgdist.emd(a, b, ground=G), {rounds * opts.inner} runs\n")
    print("| ground | POT | imgdist.emd | ratio (of medians) | median of per-round ratios "
          "| POT value | imgdist value | rel diff |")
    print("|---|---|---|---|---|---|---|---|")
    for ground in ("cityblock", "euclidean", "sqeuclidean"):
        values, caught = {}, []

        def pot_side():
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                cost = float(ot.emd2(wa, wb, ot.dist(x, x, metric=ground), numItermax=10**9))
            caught.extend(str(m.message) for m in w)
            values["pot"] = np.sqrt(cost) if ground == "sqeuclidean" else cost

        def ours():
            values["imgdist"] = imgdist.emd(a, b, ground=ground)

        times = interleave({"pot": pot_side, "imgdist": ours}, rounds, {"imgdist": opts.inner})
        r_med, r_round = ratio_stats(times["pot"], times["imgdist"])
        print(f"| {ground} | {fmt_s(med(flat(times['pot'])))} | {fmt_s(med(flat(times['imgdist'])))} "
              f"| {fmt_x(r_med)} | {fmt_x(r_round)} | {values['pot']:.15g} | {values['imgdist']:.15g} "
              f"| {rel(values['pot'], values['imgdist']):.1e} |", flush=True)
        for message in sorted(set(caught)):
            print(f"  POT warned ({ground}): {message}")


# --- 3. overhead per call ------------------------------------------------------------------


def find_metric_cost_exe(given):
    if given:
        return given
    found = sorted(glob.glob(str(REPO / "target" / "release" / "deps" / "batch_metric_cost-*")),
                   key=os.path.getmtime)
    found = [f for f in found if os.access(f, os.X_OK) and not f.endswith(".d")]
    return found[-1] if found else None


def rust_metric_alone(exe, folder, metric, pairs=2000):
    """Seconds per pair of the metric alone in Rust, one thread (median of five inside)."""
    out = subprocess.run([exe, str(folder), metric, str(pairs)], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[0])


def part_overhead(opts, folder):
    import operator

    calls, repeats = opts.overhead_calls, opts.overhead_repeats
    section(f"binding overhead: imgdist.tv per call, {calls:,} calls per timing, "
            f"median of {repeats}")
    rng = np.random.default_rng(0)
    a28, b28 = rng.random((28, 28)), rng.random((28, 28))
    a1, b1 = rng.random((1, 1)), rng.random((1, 1))
    a64, b64 = rng.random((64, 64)), rng.random((64, 64))
    u28, v28 = (rng.integers(0, 256, (28, 28)).astype(np.uint8) for _ in range(2))
    tv = imgdist.tv
    is_ = operator.is_

    def looped(fn, x, y, **kw):
        def run():
            for _ in range(calls):
                fn(x, y, **kw)
        return run

    def numpy_tv(x, y):
        return 0.5 * np.abs(x / x.sum() - y / y.sum()).sum()

    def load_one(x, _):
        imgdist.load(x)

    sides = {
        "tv 28² float64": looped(tv, a28, b28),
        "tv 28² float64, jobs=1": looped(tv, a28, b28, jobs=1),
        "tv 1×1 float64": looped(tv, a1, b1),
        "tv 28² uint8": looped(tv, u28, v28),
        "tv 64² float64": looped(tv, a64, b64),
        "imgdist.load(a), 28² float64": looped(load_one, a28, None),
        "NumPy tv 28² float64": looped(numpy_tv, a28, b28),
        "Python loop, operator.is_(a, b)": looped(is_, a28, b28),
    }
    checks = (rel(tv(a28, b28), numpy_tv(a28, b28)), rel(tv(u28, v28), numpy_tv(u28, v28)))
    sides, stop = own_threads(sides)
    times = interleave(sides, repeats)
    stop()
    per_call = {n: med(flat(t)) / calls for n, t in times.items()}
    print(f"(tv vs NumPy's value: rel diff {checks[0]:.1e} float64, {checks[1]:.1e} uint8)\n")
    print("| call | per call (median) | fastest timing |")
    print("|---|---|---|")
    for n, t in per_call.items():
        print(f"| {n} | {t * 1e6:.2f} µs | {min(flat(times[n])) / calls * 1e6:.2f} µs |")
    fixed = per_call["tv 1×1 float64"]
    slope = (per_call["tv 64² float64"] - fixed) / (64 * 64 - 1)
    main = per_call["tv 28² float64"]
    print(f"\nfixed cost per call (1×1) {fixed * 1e6:.2f} µs; per cell of the pair {slope * 1e9:.2f} ns "
          f"(from 1×1 and 64²), so 784 cells ≈ {slope * 784 * 1e6:.2f} µs; "
          f"goal ≤ 20 µs per call at 28²: {'met' if main <= 20e-6 else 'NOT met'} "
          f"({main * 1e6:.2f} µs, an upper bound on the overhead)")
    exe = find_metric_cost_exe(opts.metric_cost_exe)
    if exe and folder is not None:
        built = datetime.datetime.fromtimestamp(os.path.getmtime(exe), datetime.timezone.utc)
        alone = med(rust_metric_alone(exe, folder, "tv") for _ in range(3))
        print(f"tv alone in Rust (masses built beforehand, one thread; {pathlib.Path(exe).name}, "
              f"built {built:%Y-%m-%d %H:%M} UTC, on the 28² images of the pairwise part): "
              f"{alone * 1e6:.2f} µs per pair, so the binding's share of tv(a, b) at 28² is "
              f"≈ {(main - alone) * 1e6:.2f} µs", flush=True)
    else:
        print("(no batch_metric_cost executable: the metric alone in Rust not measured)", flush=True)


# --- 4. pairwise ---------------------------------------------------------------------------


def part_pairwise(opts, xs):
    n = len(xs)
    pairs = n * (n - 1) // 2
    section(f"pairwise: {n} seeded 28×28 images (bench/batch.py), {pairs:,} pairs")
    print("| metric | rounds | Python loop, jobs=1 | pairwise jobs=1 | pairwise jobs=2 "
          "| loop / pairwise jobs=2 | pairwise jobs=1 / jobs=2 | loop / pairwise jobs=1 "
          "| loop − pairwise jobs=1, per pair | loop, default jobs | bit-identical |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for metric, rounds in (("sliced", opts.pairwise_rounds), ("tv", opts.tv_rounds)):
        fn = getattr(imgdist, metric)
        got = {}

        def loop(**kw):
            def run():
                d = np.zeros((n, n))
                for i in range(n):
                    xi = xs[i]
                    for j in range(i + 1, n):
                        d[i, j] = d[j, i] = fn(xi, xs[j], **kw)
                got[f"loop {kw}"] = d
            return run

        def pw(jobs):
            def run():
                got[f"jobs={jobs}"] = imgdist.pairwise(xs, metric, jobs=jobs)
            return run

        sides, stop = own_threads({"loop": loop(jobs=1), "pw1": pw(1), "pw2": pw(2),
                                   "loop default": loop()})
        times = interleave(sides, rounds)
        stop()
        same = all(np.array_equal(got["loop {'jobs': 1}"], got[k])
                   for k in ("jobs=1", "jobs=2", "loop {}"))
        m = {k: med(flat(v)) for k, v in times.items()}
        r_loop2 = ratio_stats(times["loop"], times["pw2"])
        r_12 = ratio_stats(times["pw1"], times["pw2"])
        r_loop1 = ratio_stats(times["loop"], times["pw1"])
        print(f"| {metric} | {rounds} | {fmt_s(m['loop'])} | {fmt_s(m['pw1'])} | {fmt_s(m['pw2'])} "
              f"| {r_loop2[0]:.2f}× ({r_loop2[1]:.2f}×) | {r_12[0]:.2f}× ({r_12[1]:.2f}×) "
              f"| {r_loop1[0]:.2f}× ({r_loop1[1]:.2f}×) "
              f"| {(m['loop'] - m['pw1']) / pairs * 1e6:.2f} µs | {fmt_s(m['loop default'])} "
              f"| {'yes' if same else 'NO'} |", flush=True)
    print("(ratios: of the medians, in brackets the median of per-round ratios)")


# --- 5. GIL --------------------------------------------------------------------------------


def threaded(fn, threads, calls_each):
    """Wall and CPU seconds of `threads` threads each calling fn `calls_each` times."""
    barrier = threading.Barrier(threads + 1)

    def work():
        barrier.wait()
        for _ in range(calls_each):
            fn()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    cpu = time.process_time()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    return time.perf_counter() - t0, time.process_time() - cpu


def part_gil(opts):
    size = 64 if opts.quick else 299
    a, b = imgdist.load(DATA / f"camera_{size}.png"), imgdist.load(DATA / f"coins_{size}.png")
    n, rounds = opts.gil_calls, opts.gil_rounds
    section(f"GIL: imgdist.sliced(a, b, jobs=1) on the {size}² pair, one thread × {2 * n} calls "
            f"vs two threads × {n}; {rounds} rounds")

    def ours():
        imgdist.sliced(a, b, jobs=1)

    data = np.frombuffer(np.random.default_rng(1).bytes(32 << 20), dtype=np.uint8).tobytes()
    floats = np.random.default_rng(2).random(2_000_000)

    def sha():
        hashlib.sha256(data).digest()

    def sort():
        np.sort(floats)

    # Size the ceilings' workloads so that one call takes about as long as imgdist's.
    def per_call(fn, k=3):
        fn()
        return med(threaded(fn, 1, 1)[0] for _ in range(k))

    target = per_call(ours)
    work = {}
    for name, fn in (("sha256", sha), ("sort", sort)):
        reps = max(1, round(target / per_call(fn)))
        work[name] = (lambda fn=fn, reps=reps: [fn() for _ in range(reps)])
    sides = {"imgdist": ours, **work}
    results = {name: {1: [], 2: []} for name in sides}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for name in order:
            for threads in ((1, 2) if r % 2 == 0 else (2, 1)):
                results[name][threads].append(threaded(sides[name], threads, 2 * n // threads))
    print(f"one imgdist call ≈ {fmt_s(target)}; sha256 over 32 MB and np.sort of 2M float64 "
          f"repeated to about as long\n")
    print("| work | 1 thread × 2N | 2 threads × N | speed-up (of medians) | median of per-round "
          "speed-ups | CPU / wall, 2 threads |")
    print("|---|---|---|---|---|---|")
    speedups = {}
    for name, res in results.items():
        one = [w for w, _ in res[1]]
        two = [w for w, _ in res[2]]
        per_round = [o / t for o, t in zip(one, two)]
        cpu_wall = med(c / w for w, c in res[2])
        speedups[name] = (med(one) / med(two), per_round)
        print(f"| {name} | {fmt_s(med(one))} | {fmt_s(med(two))} | {med(one) / med(two):.2f}× "
              f"| {med(per_round):.2f}× | {cpu_wall:.2f} |")
    s = speedups["imgdist"][0]
    print()
    for name in work:
        c = speedups[name][0]
        per_round = med(o / c2 for o, c2 in zip(speedups["imgdist"][1], speedups[name][1]))
        print(f"imgdist speed-up / {name} ceiling: {s / c:.2f} (median of per-round: {per_round:.2f})")
    print(f"goal ≥ 1.6×: {'met' if s >= 1.6 else 'NOT met'} ({s:.2f}×)", flush=True)


# --- main ----------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--quick", action="store_true", help="smoke test: small inputs, few rounds")
    ap.add_argument("--proj", type=int, default=200)
    ap.add_argument("--inner", type=int, default=None,
                    help="imgdist calls per round against one POT call (default 5, quick 3)")
    ap.add_argument("--sliced-rounds", type=int, default=None, help="POT sliced runs (default 3)")
    ap.add_argument("--emd-rounds", type=int, default=None, help="POT emd runs per ground (default 3)")
    ap.add_argument("--overhead-calls", type=int, default=None, help="calls per timing (default 20000)")
    ap.add_argument("--overhead-repeats", type=int, default=None, help="timings (default 11)")
    ap.add_argument("--images", type=int, default=None, help="pairwise inputs (default 200)")
    ap.add_argument("--pairwise-rounds", type=int, default=None, help="sliced rounds (default 3)")
    ap.add_argument("--tv-rounds", type=int, default=None, help="tv rounds (default 11)")
    ap.add_argument("--gil-calls", type=int, default=None, help="N: calls per thread (default 5)")
    ap.add_argument("--gil-rounds", type=int, default=None, help="default 7")
    ap.add_argument("--metric-cost-exe", default=None,
                    help="benches/batch_metric_cost.rs executable (default: newest in target/release/deps)")
    opts = ap.parse_args()
    full = dict(inner=5, sliced_rounds=3, emd_rounds=3, overhead_calls=20000, overhead_repeats=11,
                images=200, pairwise_rounds=3, tv_rounds=11, gil_calls=5, gil_rounds=7)
    quick = dict(inner=3, sliced_rounds=1, emd_rounds=1, overhead_calls=2000, overhead_repeats=3,
                 images=40, pairwise_rounds=1, tv_rounds=3, gil_calls=2, gil_rounds=1)
    for key, value in (quick if opts.quick else full).items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    parts = opts.parts.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts: {', '.join(sorted(unknown))} (choose from {', '.join(PARTS)})")
    print(f"# bench/python.py {' '.join(sys.argv[1:])}".rstrip())
    print(machine(), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder, xs = None, None
        if "pairwise" in parts or "overhead" in parts:
            folder = pathlib.Path(tmp)
            make_images(folder, opts.images)
            xs = [imgdist.load(p) for p in sorted(folder.iterdir())]
        for part in PARTS:
            if part not in parts:
                continue
            if part == "sliced":
                part_sliced(opts)
            elif part == "emd":
                part_emd(opts)
            elif part == "overhead":
                part_overhead(opts, folder)
            elif part == "pairwise":
                part_pairwise(opts, xs)
            elif part == "gil":
                part_gil(opts)
    load = os.getloadavg()
    print(f"\ntook {time.perf_counter() - started:.0f} s; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
