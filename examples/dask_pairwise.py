"""All-pairs distances of a folder of images on a Dask cluster, as `imgdist batch --all-pairs`.

Same inputs, same pairs in the same order, same ids (``A|B``, paths as written), same per-pair
``sliced`` seed and the same JSON Lines records (values bit for bit) as

    imgdist batch --all-pairs IMAGES/ -m sliced,emd > pairs.jsonl

but spread over the worker processes of a Dask cluster::

    # a LocalCluster of 4 worker processes on this machine
    python examples/dask_pairwise.py IMAGES/ -m sliced,emd --workers 4 -o pairs.jsonl

    # a running cluster (every worker has the package, and the images at the same paths)
    python examples/dask_pairwise.py /shared/images -m sliced --scheduler tcp://head:8786 \
        -o pairs.jsonl --matrix sliced.csv

Only paths travel: each task holds a block of pairs, and the worker reads the files itself
(the package's loader, as the CLI's). Each call runs on one thread (``jobs=1``): the pairs are
the parallelism, one task per worker thread, so threads are not oversubscribed. Each block is a
``dask.delayed`` task; blocks are submitted a few per thread at a time and written in order as
they finish (rather than one graph of every block), so neither the pair list nor the records
need to fit in memory at once.

Needs ``pip install imgdist dask distributed`` (``pip install "./python[dask]"`` from a checkout).
Exit status as the CLI: 0, or 2 if some pair could not be computed (its record says why).
"""

from __future__ import annotations

import argparse
import collections
import csv
import decimal
import itertools
import json
import math
import os
import sys

import dask
import imgdist
import numpy as np
from dask.distributed import Client, LocalCluster

# What `imgdist batch` takes from a directory: the extensions its image decoder knows, and tables.
EXTENSIONS = {
    "avif", "jpg", "jpeg", "jfif", "png", "apng", "gif", "webp", "tif", "tiff", "tga", "dds",
    "bmp", "ico", "hdr", "exr", "pbm", "pam", "ppm", "pgm", "pnm", "ff", "qoi",
    "csv", "tsv", "txt",
}  # fmt: skip


def expand_inputs(args: list[str]) -> list[str]:
    """Each directory stands for its inputs (hidden files skipped, sorted by name), as the CLI."""
    out = []
    for arg in args:
        if not os.path.isdir(arg):
            out.append(arg)
            continue
        names = sorted(
            e.name
            for e in os.scandir(arg)
            if not e.name.startswith(".")
            and os.path.splitext(e.name)[1][1:].lower() in EXTENSIONS
            and not e.is_dir()
        )
        out.extend(f"{arg.rstrip('/')}/{name}" for name in names)
    return out


def compare_pairs(pairs: list[tuple[str, str]], metrics: str, params: dict) -> list[dict]:
    """Runs on a worker: one `imgdist batch` record per pair."""
    records = []
    for a, b in pairs:
        pair_id = f"{a}|{b}"
        seed = imgdist.pair_seed(params["seed"], pair_id)
        try:
            report = imgdist.compare(a, b, metrics, **{**params, "seed": seed}, names=(a, b))
            records.append({"id": pair_id, "status": "ok", **report})
        except (ValueError, OSError, RuntimeError) as e:  # the CLI's per-pair errors
            records.append({
                "id": pair_id, "status": "error", "error": str(e), "version": imgdist.__version__,
                "inputs": {"a": {"path": a}, "b": {"path": b}},
            })  # fmt: skip
    return records


def format_value(v: float) -> str:
    """A matrix cell as the CLI writes it: shortest round-trip; exponent below 1e-4 or from 1e15."""
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v != 0 and (abs(v) < 1e-4 or abs(v) >= 1e15):
        sign, digits, exp = decimal.Decimal(repr(v)).normalize().as_tuple()
        mantissa = "".join(map(str, digits))
        mantissa = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{exp + len(digits) - 1}"
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", metavar="FILES|DIR", help="images or folders of images")
    ap.add_argument("--scheduler", metavar="ADDRESS", help="a running cluster: tcp://head:8786")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="LocalCluster processes")
    ap.add_argument("--threads", type=int, default=1, help="LocalCluster threads per worker")
    ap.add_argument("--chunk", type=int, help="pairs per task (default: about 4 tasks a thread)")
    ap.add_argument("-m", "--metrics", default="sliced", help="comma-separated, or all")
    ap.add_argument("-o", "--output", help="JSON Lines file (default: standard output)")
    ap.add_argument("--matrix", metavar="CSV", help="square matrix of the first metric")
    ap.add_argument("--proj", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--p", type=float, default=1.0)
    ap.add_argument("--angles", default="uniform", choices=["uniform", "random"])
    ap.add_argument("--ground", default="euclidean")
    ap.add_argument("--sigma", type=float, default=2.0)
    ap.add_argument("--eps", type=float, default=0.0)
    ap.add_argument("--downscale", type=int, default=1)
    ap.add_argument("--max-pixels", type=int, default=imgdist.DEFAULT_MAX_PIXELS)
    ap.add_argument("--invert", action="store_true")
    args = ap.parse_args(argv)

    params = dict(proj=args.proj, seed=args.seed, p=args.p, angles=args.angles,
                  ground=args.ground, sigma=args.sigma, eps=args.eps, invert=args.invert,
                  downscale=args.downscale, max_pixels=args.max_pixels, jobs=1)  # fmt: skip
    try:  # bad metrics or parameters stop the run before it starts (exit 2), as in the CLI
        k = max(args.downscale, 1)
        tiny = np.kron([[0.0, 1.0]], np.ones((k, k)))  # some mass, inverted or not
        metric_names = list(imgdist.compare(tiny, tiny, args.metrics, **params)["metrics"])
        if args.matrix and metric_names[0] == "kl":
            raise ValueError("--matrix uses the first metric, and kl is not symmetric")
    except ValueError as e:
        print(f"dask_pairwise: {e}", file=sys.stderr)
        return 2
    paths = expand_inputs(args.inputs)
    n_pairs = len(paths) * (len(paths) - 1) // 2

    cluster = None
    if not args.scheduler:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads,
                               processes=True, dashboard_address=None)  # fmt: skip
    n = len(paths)
    matrix = None
    if args.matrix:  # zero diagonal; None: not computed (an error), an empty cell as in the CLI's
        matrix = [[0.0 if i == j else None for j in range(n)] for i in range(n)]
    cells = itertools.combinations(range(n), 2)  # (i, j), i < j, row by row: the CLI's order
    pairs = ((paths[i], paths[j]) for i, j in itertools.combinations(range(n), 2))
    errors, first_error = 0, None
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    with Client(args.scheduler or cluster) as client:
        threads = max(1, sum(client.nthreads().values()))
        chunk = args.chunk or max(1, min(1000, math.ceil(n_pairs / (4 * threads))))
        blocks = iter(lambda: list(itertools.islice(pairs, chunk)), [])

        def submit(block):  # one dask.delayed task per block, computed as a future
            return client.compute(dask.delayed(compare_pairs, pure=False)(block, args.metrics, params))

        in_flight = collections.deque(map(submit, itertools.islice(blocks, 4 * threads)))
        while in_flight:
            records = in_flight.popleft().result()
            in_flight.extend(map(submit, itertools.islice(blocks, 1)))  # keep the workers busy
            for r, (i, j) in zip(records, cells):
                out.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
                if r["status"] != "ok":
                    errors += 1
                    first_error = first_error or f"{r['id']}: {r['error']}"
                elif matrix is not None:
                    first = r["metrics"][metric_names[0]]  # JSON's null for inf: see value_text
                    v = first["value"] if first["finite"] else float(first["value_text"])
                    matrix[i][j] = matrix[j][i] = v
    if cluster is not None:
        cluster.close()
    if out is not sys.stdout:
        out.close()

    if args.matrix:
        with open(args.matrix, "w", newline="", encoding="utf-8") as f:
            rows = [["", *paths]] if paths else []
            rows += [[p, *("" if v is None else format_value(v) for v in row)]
                     for p, row in zip(paths, matrix)]  # fmt: skip
            csv.writer(f, lineterminator="\n").writerows(rows)
            if not paths:
                f.write("\n")
    if errors:
        print(f"dask_pairwise: {errors} of {n_pairs} pairs could not be computed; first: "
              f"{first_error}", file=sys.stderr)  # fmt: skip
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
