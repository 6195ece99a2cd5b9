"""Type stubs of imgdist's native module (the Rust library, bound with PyO3)."""

from typing import Any, Literal, Sequence, overload

import numpy as np
import numpy.typing as npt

from ._types import AngleChoice, Ground, Input, Plan, Profile

__all__ = [
    "__version__",
    "DEFAULT_MAX_PIXELS",
    "blur_l2",
    "compare",
    "emd",
    "hellinger",
    "hist",
    "js",
    "kl",
    "load",
    "pair_seed",
    "pairwise",
    "sinkhorn",
    "sliced",
    "tv",
]

__version__: str

#: The default of ``max_pixels``: 2**26 pixels (8192 x 8192).
DEFAULT_MAX_PIXELS: int

def load(
    input: Input,
    *,
    mask: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> npt.NDArray[np.float64]: ...
def tv(
    a: Input,
    b: Input,
    *,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def kl(
    a: Input,
    b: Input,
    *,
    eps: float = 0.0,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def js(
    a: Input,
    b: Input,
    *,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def hellinger(
    a: Input,
    b: Input,
    *,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def blur_l2(
    a: Input,
    b: Input,
    *,
    sigma: float = 2.0,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def hist(
    a: Input,
    b: Input,
    *,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
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
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
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
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> tuple[float, Profile]: ...
@overload
def emd(
    a: Input,
    b: Input,
    *,
    ground: Ground = "euclidean",
    return_plan: Literal[False] = False,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
@overload
def emd(
    a: Input,
    b: Input,
    *,
    ground: Ground = "euclidean",
    return_plan: Literal[True],
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> tuple[float, Plan]: ...
def sinkhorn(
    a: Input,
    b: Input,
    *,
    blur: float = 1.0,
    debias: bool = True,
    tol: float = 1e-9,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> float: ...
def compare(
    a: Input,
    b: Input,
    metrics: str | Sequence[str] | None = None,
    *,
    eps: float = 0.0,
    sigma: float = 2.0,
    proj: int = 200,
    seed: int = 0,
    p: float = 1.0,
    angles: AngleChoice = "uniform",
    ground: Ground = "euclidean",
    blur: float = 1.0,
    debias: bool = True,
    tol: float = 1e-9,
    max: dict[str, float] | None = None,
    names: tuple[str, str] | None = None,
    mask: Input | None = None,
    mask_a: Input | None = None,
    mask_b: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
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
    blur: float = 1.0,
    debias: bool = True,
    tol: float = 1e-9,
    mask: Input | None = None,
    invert: bool = False,
    downscale: int = 1,
    max_pixels: int = 67108864,
    jobs: int | None = None,
) -> npt.NDArray[np.float64]: ...
def pair_seed(seed: int, id: str) -> int: ...
