"""Type-checked by `mypy --strict` in CI (not a test module): the stubs describe real use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

import imgdist


def distances(a: Path, b: npt.NDArray[np.uint8]) -> dict[str, float]:
    value, profile = imgdist.sliced(a, b, proj=50, seed=3, return_profile=True)
    spread: float = profile["std_error"]
    exact, plan = imgdist.emd(a, b, ground="sqeuclidean", return_plan=True)
    moved: npt.NDArray[np.float64] = plan["mass"]
    rows: npt.NDArray[np.int64] = plan["a_rows"]
    report = imgdist.compare(a, b, "tv,emd", max={"tv": 0.1}, jobs=1)
    passed: bool = report["pass"]
    return {
        "sliced": value + spread * 0,
        "emd": exact + float(moved.sum()) * 0 + float(rows.size) * 0,
        "tv": imgdist.tv(str(a), b) + float(passed) * 0,
        "kl": imgdist.kl(a, b, eps=1e-9),
        "js": imgdist.js(a, b),
        "hellinger": imgdist.hellinger(a, b),
        "blur-l2": imgdist.blur_l2(a, b, sigma=1.5),
    }


def matrix(paths: list[Path]) -> npt.NDArray[np.float64]:
    mass: npt.NDArray[np.float64] = imgdist.load(paths[0], invert=True, downscale=2)
    seed: int = imgdist.pair_seed(0, f"{paths[0]}|{paths[1]}")
    return imgdist.pairwise([mass, *paths[1:]], "sliced", seed=seed, jobs=2)


def masked(a: Path, b: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> float:
    grey: float = imgdist.hist(a, b, mask=mask, jobs=1)
    entropic: float = imgdist.sinkhorn(a, b, blur=2.0, debias=False, tol=1e-6, mask=mask)
    smooth = imgdist.compare(a, b, "sinkhorn", blur=4.0, debias=True, tol=1e-8)
    blurred = imgdist.pairwise([a, b], "sinkhorn", blur=2.0)
    one_side: float = imgdist.tv(a, b, mask_a=Path("mask.png"), mask_b=b"")
    report = imgdist.compare(a, b, ["hist", "emd"], mask="mask.png")
    ignored: int = report["inputs"]["a"]["mask"]["ignored"]
    mass: npt.NDArray[np.float64] = imgdist.load(a, mask=mask)
    matrix = imgdist.pairwise([a, b], "hist", mask=mask)
    grey += entropic + smooth["metrics"]["sinkhorn"]["value"] + float(blurred.sum())
    return grey + one_side + ignored + float(mass.sum() + matrix.sum())
