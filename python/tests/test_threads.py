"""Threads: the GIL is released while imgdist computes, results do not depend on threads."""

from __future__ import annotations

import _thread
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import imgdist
from conftest import assert_arrays_same, assert_same, data, strip_timings

BIG_A, BIG_B = data("camera_299.png"), data("coins_299.png")


class Ticker:
    """A Python thread that records the time of each of its iterations. It needs the GIL for
    every one, so a gap in its ticks as long as a call means the call held the GIL."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ticks.append(time.perf_counter())
            time.sleep(0.0005)

    def __enter__(self) -> Ticker:
        self._thread.start()
        while not self.ticks:  # running before the call starts
            time.sleep(0.001)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def during(self, start: float, end: float) -> list[float]:
        return [t for t in self.ticks if start <= t <= end]


def run_with_ticker(call):
    """Runs call() while a ticker thread runs; returns (result, call seconds, ticks in the
    call, longest gap between the call's start, its ticks and its end)."""
    with Ticker() as ticker:
        start = time.perf_counter()
        result = call()
        end = time.perf_counter()
    inside = ticker.during(start, end)
    points = [start, *inside, end]
    gap = max(b - a for a, b in zip(points, points[1:]))
    return result, end - start, len(inside), gap


LONG_CALLS = {
    "sliced": lambda: imgdist.sliced(BIG_A, BIG_B, proj=800, jobs=1),
    "sliced-bytes-p2": lambda: imgdist.sliced(
        Path(BIG_A).read_bytes(), Path(BIG_B).read_bytes(), proj=400, p=2.0, jobs=1
    ),
    "compare": lambda: imgdist.compare(BIG_A, BIG_B, ["sliced", "blur-l2"], proj=600, sigma=8.0, jobs=1),
    "pairwise": lambda: imgdist.pairwise(
        [BIG_A, BIG_B, data("moon_299.png")], "sliced", proj=250, jobs=1
    ),
    "emd": lambda: imgdist.emd(BIG_A, BIG_B, downscale=3, jobs=1),
}


@pytest.mark.parametrize("name", list(LONG_CALLS))
def test_gil_released_during_call(name):
    """While one thread is inside imgdist, another Python thread keeps running."""
    _, seconds, ticks, gap = run_with_ticker(LONG_CALLS[name])
    print(f"{name}: call {seconds:.3f} s, {ticks} ticks of the other thread, longest gap {gap:.3f} s")
    assert seconds >= 0.15, f"{name}: the call ({seconds:.3f} s) is too short to tell; make it longer"
    # Holding the GIL, the other thread would not tick at all during the call: one gap as long
    # as the call. Released, it ticks every ~millisecond (a loaded machine may delay a few).
    assert ticks >= 10, f"{name}: the other thread ticked {ticks} times in {seconds:.3f} s"
    assert gap < 0.5 * seconds, f"{name}: the other thread stopped for {gap:.3f} s of {seconds:.3f} s"


def test_two_threads_in_imgdist_at_once():
    """Two threads inside imgdist at once, a third Python thread still running: both give the
    single-thread value. (Wall times are printed, not asserted: a speed-up ratio is too noisy to
    test on a loaded machine; the ticker is the robust check.)"""
    call = LONG_CALLS["sliced"]
    t0 = time.perf_counter()
    single = call()
    one = time.perf_counter() - t0
    results: dict[int, float] = {}
    barrier = threading.Barrier(2)

    def worker(k: int) -> None:
        barrier.wait()
        results[k] = call()

    def both_threads() -> None:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, both, ticks, gap = run_with_ticker(both_threads)
    print(f"one call {one:.3f} s; two calls in two threads {both:.3f} s ({both / one:.2f}x); "
          f"{ticks} ticks, longest gap {gap:.3f} s")
    assert_same(results[0], single, "thread 0")
    assert_same(results[1], single, "thread 1")
    assert ticks >= 10 and gap < 0.5 * one, f"{ticks} ticks, gap {gap:.3f} s of {both:.3f} s"


@pytest.mark.parametrize("jobs", [1])
def test_a_short_call_does_not_wait_for_a_long_one(jobs):
    """Calls from different Python threads run concurrently, not one after the other: while a
    long call (half a second or more) runs in one thread, a millisecond call in another thread with the
    same ``jobs`` finishes long before it. Queued behind the long call (e.g. on a thread pool
    the two calls share), the short one would end after it. No timing ratio is involved: the
    margin is hundreds of milliseconds against a few."""
    entered = threading.Event()
    finished: dict[str, float] = {}

    def long_call() -> None:
        entered.set()
        imgdist.sliced(BIG_A, BIG_B, proj=1200, jobs=jobs)
        finished["long"] = time.perf_counter()

    thread = threading.Thread(target=long_call)
    thread.start()
    entered.wait()
    time.sleep(0.15)  # the long call is inside imgdist by now
    start = time.perf_counter()
    imgdist.sliced(data("camera_32.png"), data("coins_32.png"), proj=50, jobs=jobs)
    finished["short"] = time.perf_counter()
    thread.join()
    short = finished["short"] - start
    print(f"jobs={jobs}: the short call took {short:.3f} s; the long one ended "
          f"{finished['long'] - finished['short']:+.3f} s after it")
    assert finished["short"] < finished["long"], (
        f"jobs={jobs}: the short call ({short:.3f} s) waited for the long one to finish"
    )


def test_concurrent_calls_give_sequential_values():
    """Many calls from a thread pool (different metrics and inputs at once) give the values the
    same calls give one after the other."""
    files = [data(f) for f in ("camera_32.png", "coins_32.png", "moon_32.png", "text_32.png")]
    jobs = []
    for i, a in enumerate(files):
        for b in files[i + 1 :]:
            jobs += [
                (imgdist.sliced, a, b, {"proj": 100, "seed": i}),
                (imgdist.emd, a, b, {"ground": "sqeuclidean"}),
                (imgdist.emd, b, a, {"ground": "cityblock"}),
                (imgdist.blur_l2, a, b, {"sigma": 3.0}),
                (imgdist.kl, a, b, {"eps": 1e-3}),
            ]
    sequential = [fn(a, b, **kw) for fn, a, b, kw in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda job: job[0](job[1], job[2], **job[3]), jobs))
    for (fn, a, b, kw), s, p in zip(jobs, sequential, parallel):
        assert_same(p, s, f"{fn.__name__}({Path(a).name}, {Path(b).name}, {kw}) in a thread")


JOBS_CASES = [
    ("sliced", {"proj": 300}),
    ("sliced", {"proj": 300, "p": 2.0, "angles": "random"}),
    ("emd", {"ground": "euclidean"}),
    ("emd", {"ground": "sqeuclidean"}),
    ("emd", {"ground": "cityblock"}),
    ("blur_l2", {}),
    ("tv", {}),
    ("js", {}),
]


@pytest.mark.parametrize(("metric", "params"), JOBS_CASES, ids=[f"{m}-{p}" for m, p in JOBS_CASES])
def test_jobs_do_not_change_values(metric, params):
    a, b = data("camera_64.png"), data("coins_64.png")
    fn = getattr(imgdist, metric)
    values = {jobs: fn(a, b, **params, jobs=jobs) for jobs in (None, 1, 2, 3)}
    for jobs, value in values.items():
        assert_same(value, values[None], f"{metric} {params} jobs={jobs}")


def test_jobs_in_compare_and_profiles():
    a, b = data("camera_64.png"), data("text_64.png")
    reports = [strip_timings(imgdist.compare(a, b, "all", proj=100, jobs=j)) for j in (1, 2)]
    assert reports[0] == reports[1]
    p1 = imgdist.sliced(a, b, proj=64, return_profile=True, jobs=1)[1]["per_direction"]
    p2 = imgdist.sliced(a, b, proj=64, return_profile=True, jobs=2)[1]["per_direction"]
    assert_arrays_same(p1, p2, "per_direction, jobs=1 vs 2")
    plan1 = imgdist.emd(a, b, return_plan=True, jobs=1)[1]
    plan2 = imgdist.emd(a, b, return_plan=True, jobs=2)[1]
    for key in ("a_rows", "a_cols", "b_rows", "b_cols", "mass"):
        assert_arrays_same(plan1[key], plan2[key], f"plan {key}, jobs=1 vs 2")



@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
    reason="needs Linux's /proc and two cores",
)
def test_default_calls_after_jobs_1_still_use_every_core():
    """A `jobs=1` call makes the calling thread a one-thread pool of its own; a later default
    call from that thread must not run on it alone but on a pool of all cores. Run in a fresh
    interpreter, where no pool exists yet; the pools' threads are named."""
    code = f"""
import pathlib, imgdist
big = imgdist.load({str(data("camera_64.png"))!r})
def names():
    return [(t / "comm").read_text().strip() for t in pathlib.Path("/proc/self/task").iterdir()]
imgdist.sliced(big, big, proj=8, jobs=1)
assert not any(n.startswith("imgdist-all") for n in names()), names()
imgdist.sliced(big, big, proj=64)
assert any(n.startswith("imgdist-all") for n in names()), names()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("jobs", [None, 1, 2])
@pytest.mark.parametrize("call", ["sliced", "compare", "pairwise"])
def test_ctrl_c_stops_a_long_call(call, jobs):
    """KeyboardInterrupt (Ctrl-C) reaches a long computation within a fraction of a second,
    and the module works normally afterwards."""
    a = imgdist.load(data("camera_299.png"))
    b = imgdist.load(data("coins_299.png"))
    long = 1 << 22  # 4M directions: minutes of work
    timer = threading.Timer(0.3, _thread.interrupt_main)
    started = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            if call == "sliced":
                imgdist.sliced(a, b, proj=long, jobs=jobs)
            elif call == "compare":
                imgdist.compare(a, b, "sliced", proj=long, jobs=jobs)
            else:
                imgdist.pairwise([a, b, a.T, b.T], "sliced", proj=long, jobs=jobs)
    finally:
        timer.cancel()
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"interrupted after {elapsed:.1f} s"
    assert imgdist.sliced(a, b, proj=4, jobs=jobs) == imgdist.sliced(a, b, proj=4)


def interrupt_latency(delay: float, call) -> float:
    """Runs `call`, which must raise KeyboardInterrupt once Python's main thread is interrupted
    `delay` seconds in; returns how long after the interrupt it stopped."""
    fired: list[float] = []

    def interrupt() -> None:
        fired.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(delay, interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
    finally:
        timer.cancel()
    stopped = time.perf_counter()
    assert fired, f"the call ended after {stopped - started:.1f} s, before the interrupt"
    return stopped - fired[0]


@pytest.mark.parametrize("jobs", [None, 1, 2])
@pytest.mark.parametrize("call", ["sinkhorn", "compare", "pairwise"])
def test_ctrl_c_stops_a_long_sinkhorn(call, jobs):
    """KeyboardInterrupt reaches sinkhorn at its next iteration, in a warm start or on the
    given grids, in the debiased problems too: a 299² pair at blur 1 takes seconds, the
    interrupt a small fraction of one."""
    a = imgdist.load(data("camera_299.png"))
    b = imgdist.load(data("coins_299.png"))
    calls = {
        "sinkhorn": lambda: imgdist.sinkhorn(a, b, blur=1.0, jobs=jobs),
        "compare": lambda: imgdist.compare(a, b, "sinkhorn", blur=1.0, jobs=jobs),
        "pairwise": lambda: imgdist.pairwise([a, b, a.T, b.T], "sinkhorn", blur=1.0, jobs=jobs),
    }
    latency = interrupt_latency(0.3, calls[call])
    print(f"{call}, jobs={jobs}: stopped {latency * 1000:.0f} ms after the interrupt")
    assert latency < 1.0, f"interrupted after {latency:.2f} s"
    small_a, small_b = data("camera_32.png"), data("coins_32.png")
    assert imgdist.sinkhorn(small_a, small_b, jobs=jobs) == imgdist.sinkhorn(small_a, small_b)


@pytest.mark.parametrize("jobs", [None, 1, 2])
def test_ctrl_c_stops_sinkhorn_in_its_debiasing_problems(jobs):
    """Against a single point, OT_ε(a, b) takes a few iterations and OT_ε(a, a) of a 512² image
    seconds: the interrupt comes in OT_ε(a, a), which runs beside OT_ε(b, b) on the pool
    (`rayon::join`), and stops it at its next iteration too."""
    a = imgdist.load(data("camera_512.png"))
    point = np.ones((1, 1))
    started = time.perf_counter()
    imgdist.sinkhorn(a, point, debias=False, jobs=jobs)
    ab = time.perf_counter() - started
    latency = interrupt_latency(ab + 0.1, lambda: imgdist.sinkhorn(a, point, jobs=jobs))
    print(f"jobs={jobs}: OT_ε(a, b) {ab:.2f} s; stopped {latency * 1000:.0f} ms after the interrupt")
    assert latency < 1.0, f"interrupted after {latency:.2f} s"


def test_load_takes_jobs_too():
    """Every function takes `jobs`; loading gives the same mass on any number of threads."""
    path = data("camera_64.png")
    for jobs in (1, 2):
        one = imgdist.load(path, jobs=jobs, downscale=3)
        assert_arrays_same(one, imgdist.load(path, downscale=3), f"jobs={jobs}")
    with pytest.raises(ValueError, match="invalid --jobs"):
        imgdist.load(path, jobs=0)
