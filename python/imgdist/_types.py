"""The types imgdist's functions take and return, for annotations."""

from __future__ import annotations

import os
from typing import Any, Literal, TypedDict, Union

import numpy as np
import numpy.typing as npt

#: One input: a path (``str`` or ``os.PathLike``), the bytes of an image or matrix file, a 2-D
#: array of any real dtype (values are light: finite and non-negative, normalised to mass like a
#: matrix file), or a ``PIL.Image.Image``.
Input = Union[str, "os.PathLike[str]", bytes, npt.ArrayLike, Any]

#: Ground costs of the exact EMD.
Ground = Literal["euclidean", "sqeuclidean", "cityblock"]

#: How sliced Wasserstein chooses its directions.
AngleChoice = Literal["uniform", "random"]


class Profile(TypedDict):
    """What ``sliced(..., return_profile=True)`` returns beside the value: the directions'
    angles in radians, the distance ``W_p`` along each, and the Monte-Carlo standard error."""

    angles: npt.NDArray[np.float64]
    per_direction: npt.NDArray[np.float64]
    std_error: float


class Plan(TypedDict):
    """What ``emd(..., return_plan=True)`` returns beside the value.

    An optimal plan in COO form: mass ``mass[k]`` moves from cell ``(a_rows[k], a_cols[k])`` of
    A's grid to cell ``(b_rows[k], b_cols[k])`` of B's grid. ``u`` and ``v`` are the dual
    potentials on A's and B's grids (NaN where a side has no mass): ``u[i] + v[j] <= cost(i, j)``
    for every two cells with mass, with equality wherever mass moves. ``cost`` is the plan's
    cost; ``max_violation`` and ``gap`` are the certificate's (see the design notes).
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
