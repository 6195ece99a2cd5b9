#!/usr/bin/env python3
"""Two builds of imgdist side by side: is a change slower?

Usage (from the repository root; OLD and NEW are two imgdist binaries, e.g. a release build of
an earlier commit in a second checkout and `target/release/imgdist`):

    python bench/builds.py OLD NEW [--rounds 31] [--sliced-rounds 5] [--sliced-images 60]

Needs numpy and Pillow (for the images of bench/batch.py). Times whole processes, the two
builds taking turns within each round (the order alternating between rounds), so that load from
other processes weighs on both alike, and prints the median of each and the median of the
per-round ratios NEW/OLD:

- batch tv: `imgdist batch --all-pairs DIR --metric tv --jobs J` on 200 seeded 28×28 images
  (19,900 pairs), J = 1 and 2;
- batch sliced: the same with `--metric sliced` on the first `--sliced-images` of them;
- one pair, `--metric all` on tests/data/camera_64.png and moon_64.png;
- one pair, `--metric sliced` on tests/data/camera_299.png and coins_299.png.

Standard output of every run is discarded; a run that fails stops the script.
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from batch import make_images  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


def timed(args):
    start = time.perf_counter()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))}: exit {done.returncode}: {done.stderr}")
    return took


def compare(name, old, new, args, rounds):
    times = {"old": [], "new": []}
    for r in range(rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for which in order:
            binary = old if which == "old" else new
            times[which].append(timed([binary, *args]))
    ratios = [n / o for n, o in zip(times["new"], times["old"])]
    mo, mn = statistics.median(times["old"]), statistics.median(times["new"])
    print(
        f"| {name} | {rounds} | {mo:.4g} s ({min(times['old']):.4g}–{max(times['old']):.4g}) "
        f"| {mn:.4g} s ({min(times['new']):.4g}–{max(times['new']):.4g}) "
        f"| {statistics.median(ratios):.3f} |",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--sliced-rounds", type=int, default=5)
    parser.add_argument("--sliced-images", type=int, default=60)
    args = parser.parse_args()
    old, new = (str(pathlib.Path(b).resolve()) for b in (args.old, args.new))
    print("| run | rounds | old: median (range) | new: median (range) | new/old, median of rounds |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        many, few = pathlib.Path(tmp) / "all", pathlib.Path(tmp) / "few"
        many.mkdir()
        few.mkdir()
        make_images(many, 200)
        for path in sorted(many.iterdir())[: args.sliced_images]:
            (few / path.name).symlink_to(path)
        for jobs in (1, 2):
            batch = ["batch", "--all-pairs", str(many), "--metric", "tv", "--quiet"]
            compare(f"batch tv, 19,900 pairs, --jobs {jobs}", old, new,
                    batch + ["--jobs", str(jobs)], args.rounds)
        pairs = args.sliced_images * (args.sliced_images - 1) // 2
        for jobs in (1, 2):
            batch = ["batch", "--all-pairs", str(few), "--metric", "sliced", "--quiet"]
            compare(f"batch sliced, {pairs:,} pairs, --jobs {jobs}", old, new,
                    batch + ["--jobs", str(jobs)], args.sliced_rounds)
    compare("64² pair, --metric all", old, new,
            [str(DATA / "camera_64.png"), str(DATA / "moon_64.png"), "--metric", "all"],
            args.rounds)
    compare("299² pair, --metric sliced", old, new,
            [str(DATA / "camera_299.png"), str(DATA / "coins_299.png"), "--metric", "sliced"],
            args.rounds)


if __name__ == "__main__":
    main()
