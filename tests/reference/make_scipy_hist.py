"""Reference values of the grey-level histogram EMD (``--metric hist``) from SciPy.

Writes ``scipy_hist.json`` next to this script:

    python tests/reference/make_scipy_hist.py

Each case is ``scipy.stats.wasserstein_distance(A.ravel() / full, B.ravel() / full)``:
W1 between the two inputs' distributions of pixel values, each pixel one unit of weight.
PNGs are read with Pillow at their stored depth (8-bit: full = 255; 16-bit ``I;16``:
full = 65535); CSV matrices with ``numpy.loadtxt`` and taken as given (full = 1).
A case with ``mask`` leaves out the pixels where that mask (read the same way) is nonzero,
from both inputs. Requires numpy, scipy and pillow; the versions used are recorded.
"""

import json
import pathlib

import numpy as np
import PIL
import scipy
from PIL import Image
from scipy.stats import wasserstein_distance

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "data"


def values(name):
    path = DATA / name
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",")
    img = Image.open(path)
    full = {"L": 255.0, "I;16": 65535.0}[img.mode]
    return np.asarray(img, dtype=np.float64) / full


CASES = [
    ("camera_32.png", "coins_32.png", None),
    ("camera_64.png", "moon_64.png", None),
    ("text_64.png", "coins_64.png", None),
    ("camera_299.png", "coins_299.png", None),
    # 16-bit against 8-bit: the 16-bit values are kept, not rounded to 8 bits.
    ("camera_16bit_64.png", "camera_64.png", None),
    # Different sizes.
    ("camera_32.png", "coins_64.png", None),
    # Matrices: the values as given.
    ("data32_1001.csv", "data32_1002.csv", None),
    # A mask: the top-left quarter of every 32x32 input is ignored.
    ("camera_32.png", "coins_32.png", "quarter_mask_32.png"),
]


def main():
    # The mask fixture: 255 in rows/columns 0..15, 0 elsewhere.
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[:16, :16] = 255
    Image.fromarray(mask).save(DATA / "quarter_mask_32.png")
    cases = []
    for a, b, m in CASES:
        va, vb = values(a), values(b)
        if m is not None:
            keep = values(m) == 0
            va, vb = va[keep], vb[keep]
        cases.append(
            {
                "a": a,
                "b": b,
                "mask": m,
                "hist": wasserstein_distance(va.ravel(), vb.ravel()),
            }
        )
    out = {
        "generator": "tests/reference/make_scipy_hist.py",
        "versions": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pillow": PIL.__version__,
        },
        "cases": cases,
    }
    (HERE / "scipy_hist.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
