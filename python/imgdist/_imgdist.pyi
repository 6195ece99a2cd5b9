"""Type stubs of imgdist's native module (the Rust library, bound with PyO3)."""

import os
from typing import Any, Literal, Sequence, TypedDict, overload

import numpy as np
import numpy.typing as npt

__version__: str

#: The default of ``max_pixels``: 2**26 pixels (8192 x 8192).
DEFAULT_MAX_PIXELS: int

#: One input: a path (str or os.PathLike), the bytes of an image or matrix file, a 2-D array
#: of any real dtype (values are light: finite, non-negative; normalised to mass like a matrix
#: file), or a ``PIL.Image.Image``.
Input = str | os.PathLike[str] | bytes | npt.ArrayLike | Any

Ground = Literal["euclidean", "sqeuclidean", "cityblock"]
AngleChoice = Literal["uniform", "random"]

class Profile(TypedDict):
    """What ``sliced(..., return_profile=True)`` returns beside the value."""

    angles: npt.NDArray[np.float64]
    per_direction: npt.NDArray[np.float64]
    std_error: float

class Plan(TypedDict):
    """What ``emd(..., return_plan=True)`` returns beside the value.

    The plan in COO form: mass ``mass[k]`` moves from cell ``(a_rows[k], a_cols[k])`` of A's grid
    to cell ``(b_rows[k], b_cols[k])`` of B's grid. ``u`` and ``v`` are the dual potentials on A's
    and B's grids (NaN where a side has no mass): ``u[i] + v[j] <= cost(i, j)`` for every pair of
    cells with mass, with equality wherever mass moves.
    """

    a_rows: npt.NDArray[np.int64]
    a_cols: npt.NDArray[np.int64]
    b_rows: npt.NDArray[np.int64]
    b_cols: npt.NDArray[np.int64]
    mass: npt.NDArray[np.float64]
    u: npt.NDArray[np.float64]
    v: npt.NDArray[np.float64]
    cost: float
    max_violation: float
    gap: float

def load(
    input: Input,
    *,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
) -> npt.NDArray[np.float64]: ...
def tv(
    a: Input,
    b: Input,
    *,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
def kl(
    a: Input,
    b: Input,
    *,
    eps: float = 0.0,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
def js(
    a: Input,
    b: Input,
    *,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
def hellinger(
    a: Input,
    b: Input,
    *,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
def blur_l2(
    a: Input,
    b: Input,
    *,
    sigma: float = 2.0,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
@overload
def sliced(
    a: Input,
    b: Input,
    *,
    proj: int = 200,
    seed: int = 0,
    p: float = 1.0,
    angles: AngleChoice = "uniform",
    return_profile: Literal[False] = False,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
@overload
def sliced(
    a: Input,
    b: Input,
    *,
    proj: int = 200,
    seed: int = 0,
    p: float = 1.0,
    angles: AngleChoice = "uniform",
    return_profile: Literal[True],
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> tuple[float, Profile]: ...
@overload
def emd(
    a: Input,
    b: Input,
    *,
    ground: Ground = "euclidean",
    return_plan: Literal[False] = False,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> float: ...
@overload
def emd(
    a: Input,
    b: Input,
    *,
    ground: Ground = "euclidean",
    return_plan: Literal[True],
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> tuple[float, Plan]: ...
def compare(
    a: Input,
    b: Input,
    metrics: str | Sequence[str] = ("sliced",),
    *,
    eps: float = 0.0,
    sigma: float = 2.0,
    proj: int = 200,
    seed: int = 0,
    p: float = 1.0,
    angles: AngleChoice = "uniform",
    ground: Ground = "euclidean",
    max: dict[str, float] | None = None,
    names: tuple[str, str] | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> dict[str, Any]: ...
def pairwise(
    inputs: Sequence[Input],
    metric: str = "sliced",
    *,
    eps: float = 0.0,
    sigma: float = 2.0,
    proj: int = 200,
    seed: int = 0,
    p: float = 1.0,
    angles: AngleChoice = "uniform",
    ground: Ground = "euclidean",
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = ...,
    jobs: int | None = None,
) -> npt.NDArray[np.float64]: ...
def pair_seed(seed: int, id: str) -> int: ...
