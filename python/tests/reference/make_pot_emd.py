"""Freezes POT's exact EMD on the small pairs of test_values.py into pot_emd.json.

The tests compare imgdist's EMD with POT's ``ot.emd2`` (the network simplex of Bonneel et al.)
live when POT is installed, and with the values this script froze otherwise. Each case stores
its two grids of non-negative numbers themselves (not a seed), so the fixture does not depend
on NumPy's random generators. Cells sit at grid indices (row, column) in pixel units; with
``downscale`` K the K x K blocks are summed and each cell sits at its block's centre, as
imgdist places them.

Run from anywhere:  python python/tests/reference/make_pot_emd.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "pot_emd.json"
GROUNDS = ("euclidean", "sqeuclidean", "cityblock")
NUM_ITER_MAX = 10**9


def cases() -> list[dict]:
    rng = np.random.default_rng(20240611)
    out = []

    def add(name, a, b, downscale=1):
        out.append(
            {
                "name": name,
                "a": np.asarray(a).tolist(),
                "b": np.asarray(b).tolist(),
                "downscale": downscale,
            }
        )

    add("random_8x8", rng.integers(0, 256, (8, 8)), rng.integers(0, 256, (8, 8)))
    dense = rng.integers(0, 256, (16, 16))
    sparse = rng.integers(0, 256, (16, 16)) * (rng.random((16, 16)) < 0.3)
    add("dense_vs_sparse_16x16", dense, sparse)
    add(
        "floats_12x12",
        np.round(rng.random((12, 12)) ** 3, 6),
        np.round(rng.random((12, 12)) ** 3, 6),
    )
    add(
        "shapes_8x12_vs_10x6",
        rng.integers(0, 100, (8, 12)),
        rng.integers(0, 100, (10, 6)),
    )
    few_a = np.zeros((16, 16), dtype=np.int64)
    few_b = np.zeros((16, 16), dtype=np.int64)
    few_a[rng.integers(0, 16, 5), rng.integers(0, 16, 5)] = rng.integers(1, 50, 5)
    few_b[rng.integers(0, 16, 7), rng.integers(0, 16, 7)] = rng.integers(1, 50, 7)
    add("few_cells_16x16", few_a, few_b)
    dot_a = np.zeros((8, 8), dtype=np.int64)
    dot_b = np.zeros((8, 8), dtype=np.int64)
    dot_a[1, 2] = 1
    dot_b[6, 7] = 3
    add("dots_8x8", dot_a, dot_b)
    # Ties everywhere (many optimal plans): a constant image against a ramp.
    add("ties_8x8", np.ones((8, 8), dtype=np.int64), np.add.outer(np.arange(8), np.arange(8)))
    add(
        "downscale2_16x16",
        rng.integers(0, 256, (16, 16)),
        rng.integers(0, 256, (16, 16)),
        downscale=2,
    )
    add(
        "downscale3_partial_14x10",  # partial edge blocks: the last centre is closer
        rng.integers(0, 256, (14, 10)),
        rng.integers(0, 256, (14, 10)),
        downscale=3,
    )
    return out


def block_centres(n: int, k: int) -> np.ndarray:
    """Centre of each K-block of 0..n-1 (the last block may be partial)."""
    starts = np.arange(0, n, k)
    ends = np.minimum(starts + k, n)
    return (starts + ends - 1) / 2.0


def weights_and_points(grid, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised block sums (row-major) and the (row, column) of each cell."""
    g = np.asarray(grid, dtype=np.float64)
    rows, cols = -(-g.shape[0] // k), -(-g.shape[1] // k)
    summed = np.zeros((rows, cols))
    np.add.at(summed, (np.arange(g.shape[0])[:, None] // k, np.arange(g.shape[1])[None, :] // k), g)
    r, c = np.meshgrid(block_centres(g.shape[0], k), block_centres(g.shape[1], k), indexing="ij")
    return summed.ravel() / summed.sum(), np.column_stack([r.ravel(), c.ravel()])


def pot_emd2(case: dict, ground: str) -> float:
    """POT's optimal cost (for sqeuclidean the squared W2, not its root)."""
    import ot

    k = case["downscale"]
    a, xa = weights_and_points(case["a"], k)
    b, xb = weights_and_points(case["b"], k)
    metric = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean", "cityblock": "cityblock"}[ground]
    cost = ot.dist(xa, xb, metric=metric)
    return float(ot.emd2(a, b, cost, numItermax=NUM_ITER_MAX))


def main() -> None:
    import ot

    frozen = []
    for case in cases():
        values = {g: pot_emd2(case, g) for g in GROUNDS}
        frozen.append({**case, "pot": values})
        print(case["name"], values)
    OUT.write_text(
        json.dumps(
            {
                "about": "POT ot.emd2 on small grids, frozen by make_pot_emd.py "
                "(pot values: optimal cost; sqeuclidean is the squared W2)",
                "pot_version": ot.__version__,
                "numpy_version": np.__version__,
                "numItermax": NUM_ITER_MAX,
                "cases": frozen,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
