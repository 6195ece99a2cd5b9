"""imgdist: how different are two images, seen as distributions of light over their pixels.

Exact earth mover's distance (``emd``), sliced Wasserstein (``sliced``), the Sinkhorn
divergence (``sinkhorn``), total variation (``tv``), KL / JS / Hellinger, Gaussian-blurred L2
and the grey-level histogram EMD (``hist``) between two images, computed by the imgdist Rust
library with the GIL released. Every function
takes a path, the bytes of an image file, a 2-D NumPy array of any real dtype, or a
``PIL.Image.Image``; ``mask=`` (any of those, nonzero = ignore) leaves pixels out::

    >>> import imgdist
    >>> imgdist.emd("a.png", "b.png")            # doctest: +SKIP
    3.2204326894186535
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ._imgdist import (
    DEFAULT_MAX_PIXELS,
    __version__,
    blur_l2,
    compare,
    emd,
    hellinger,
    hist,
    js,
    kl,
    load,
    pair_seed,
    pairwise,
    sinkhorn,
    sliced,
    tv,
)
from ._types import AngleChoice, Ground, Input, Plan, Profile

__all__ = [
    "AngleChoice",
    "DEFAULT_MAX_PIXELS",
    "Ground",
    "Input",
    "Plan",
    "Profile",
    "__version__",
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

# PIL modes whose pixels PNG stores as they are; the command line's loader then reads them.
_PNG_MODES = {"1", "L", "LA", "RGB", "RGBA", "I;16"}


def _convert(obj: Any, name: str) -> Any:
    """Turns an input the native module does not take directly into one it does.

    A ``PIL.Image.Image`` becomes PNG bytes (so it loads exactly as the same picture read from
    a file) or, for floating-point and 32-bit modes, an array; anything else goes through
    ``numpy.asarray`` and must give an array of numbers.
    """
    if _is_pil_image(obj):
        mode = obj.mode
        if mode in ("F", "I", "I;16B", "I;16L", "I;16N"):
            return np.asarray(obj)
        if mode not in _PNG_MODES:
            # Palette, CMYK, YCbCr, LAB, HSV, premultiplied: as RGB, with alpha where the image
            # has any (a palette's transparent entries included).
            obj = obj.convert("RGBA" if obj.has_transparency_data else "RGB")
        buf = io.BytesIO()
        obj.save(buf, format="PNG", compress_level=0)
        return buf.getvalue()
    not_an_input = TypeError(
        f"{name}: expected a path, bytes, a 2-D array or a PIL image, got {type(obj).__name__}"
    )
    try:
        array = np.asarray(obj)
    except (TypeError, ValueError) as err:
        raise not_an_input from err
    if array.ndim == 0 or array.dtype.kind not in "biufc":
        raise not_an_input
    return array


def _is_pil_image(obj: Any) -> bool:
    module = type(obj).__module__
    if not module.startswith("PIL."):
        return False
    from PIL import Image

    return isinstance(obj, Image.Image)
