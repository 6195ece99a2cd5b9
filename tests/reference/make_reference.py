"""Generate reference values for the imgdist test-suite with SciPy and POT.

Produces three JSON fixtures next to this script:

  scipy_metrics.json  TV, KL (plain and eps-smoothed), JS divergence, Hellinger
                      and Gaussian-blurred L2 distances (SciPy / NumPy).
  pot_sliced.json     sliced Wasserstein distances (POT), with the projection
                      angles written out explicitly.
  pot_emd.json        exact earth mover's distances (POT network simplex) for
                      euclidean, squared-euclidean and cityblock ground costs.

Run from anywhere (paths are resolved relative to this file):

    python tests/reference/make_reference.py            # all fixtures
    python tests/reference/make_reference.py metrics    # or: sliced, emd

Requires numpy, scipy, pot and scikit-image. Fixtures were generated with
Python 3.11, numpy 2.4.6, scipy 1.17.1, POT 0.9.7.post1, scikit-image 0.26.0
(the versions actually used are also recorded in each JSON file).
The emd fixture takes a few minutes (4096x4096 cost matrices at 64x64).

Conventions (shared with the Rust implementation):

* An image is read with ``skimage.io.imread`` (8-bit grayscale, divided by 255)
  or, for DOTmark ``.csv`` files, with ``numpy.loadtxt(path, delimiter=",")``;
  its mass is ``p = v / v.sum()``.
* Cell (i, j) -- row i, column j -- sits at coordinates (i, j) in pixel units.
* Downscale K replaces the mass by K x K block sums, padding bottom/right with
  zeros so edge blocks are partial. All metrics of a downscaled case are
  computed on the downscaled masses; blur sigmas are given in original pixel
  units, so the filter on the downscaled grid uses sigma / K.
* Sliced Wasserstein directions are (cos t, sin t) for angles t in [0, pi).
  POT 0.9.7 takes ``projections`` as a (dim, n_projections) matrix, one
  direction per column, and uses it as given (no normalisation); the result
  is (mean over directions of W_p^p) ** (1/p). ``check_sliced_convention``
  verifies this on a single moved dot before any sliced value is computed.
"""

import json
import math
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import ot
import scipy
import scipy.ndimage
import scipy.stats
import skimage
import skimage.io

REFERENCE_DIR = Path(__file__).resolve().parent
REPO = REFERENCE_DIR.parent.parent
DATA_DIR = REPO / "tests" / "data"
GENERATOR = "make_reference.py"

BLUR_SIGMAS = [0.0, 1.0, 2.5, 8.0]
KL_EPS = 1e-6
EMD_GROUNDS = ["euclidean", "sqeuclidean", "cityblock"]
EMD_NUM_ITER_MAX = int(1e10)
DOTMARK = ("data32_1001.csv", "data32_1002.csv")


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def load_values(name):
    """Raw non-negative values of an input image as a 2-D float64 array."""
    path = DATA_DIR / name
    if path.suffix == ".csv":
        values = np.loadtxt(path, delimiter=",")
    else:
        image = skimage.io.imread(path)
        if image.dtype != np.uint8:
            raise ValueError(f"{name}: expected 8-bit image, got {image.dtype}")
        values = image.astype(np.float64) / 255.0
    if values.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D grayscale array, got {values.shape}")
    if np.any(values < 0) or values.sum() <= 0:
        raise ValueError(f"{name}: values must be non-negative with positive sum")
    return values


def load_mass(name):
    values = load_values(name)
    return values / values.sum()


def downscale(mass, k):
    """K x K block sums, zero-padding the bottom/right edges."""
    rows, cols = mass.shape
    out_rows, out_cols = -(-rows // k), -(-cols // k)
    padded = np.zeros((out_rows * k, out_cols * k))
    padded[:rows, :cols] = mass
    return padded.reshape(out_rows, k, out_cols, k).sum(axis=(1, 3))


def coordinates(shape):
    """(N, 2) cell coordinates (row, col) in row-major order, matching ravel()."""
    rows, cols = np.indices(shape, dtype=np.float64)
    return np.column_stack([rows.ravel(), cols.ravel()])


def versions():
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pot": ot.__version__,
        "scikit-image": skimage.__version__,
    }


def json_float(x):
    """Finite floats stay numbers; infinities become the strings "inf"/"-inf"."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        raise ValueError("NaN in reference values")
    return x


def write_fixture(filename, cases):
    document = {"generator": GENERATOR, "versions": versions(), "cases": cases}
    path = REFERENCE_DIR / filename
    with open(path, "w") as f:
        json.dump(document, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path.relative_to(REPO)} ({len(cases)} cases)")


# --------------------------------------------------------------------------
# scipy_metrics.json
# --------------------------------------------------------------------------

METRIC_CASES = [
    # (a, b, downscale)
    ("camera_64.png", "moon_64.png", 1),
    ("coins_64.png", "text_64.png", 1),
    ("camera_299.png", "moon_299.png", 1),
    ("coins_299.png", "camera_299.png", 1),
    (*DOTMARK, 1),
    ("camera_299.png", "moon_299.png", 10),
]


def kl(p, q):
    return scipy.stats.entropy(p.ravel(), q.ravel())


def smoothed(p, eps):
    p = p + eps
    return p / p.sum()


def blur(mass, sigma):
    if sigma == 0.0:
        return mass
    return scipy.ndimage.gaussian_filter(mass, sigma, mode="reflect", truncate=4.0)


def metric_case(name_a, name_b, k):
    p, q = load_mass(name_a), load_mass(name_b)
    if p.shape != q.shape:
        raise ValueError(f"{name_a} and {name_b} differ in shape")
    if k > 1:
        p, q = downscale(p, k), downscale(q, k)
    m = 0.5 * (p + q)

    case = {"a": name_a, "b": name_b, "downscale": k}
    if k > 1:
        case["grid"] = list(p.shape)
    case["tv"] = json_float(0.5 * np.abs(p - q).sum())
    case["kl"] = json_float(kl(p, q))
    case["kl_eps"] = {
        "eps": KL_EPS,
        "value": json_float(kl(smoothed(p, KL_EPS), smoothed(q, KL_EPS))),
    }
    case["js"] = json_float(0.5 * kl(p, m) + 0.5 * kl(q, m))
    case["hellinger"] = json_float(
        math.sqrt(0.5 * ((np.sqrt(p) - np.sqrt(q)) ** 2).sum())
    )
    case["blur_l2"] = [
        {
            "sigma": sigma,
            "value": json_float(
                math.sqrt(((blur(p, sigma / k) - blur(q, sigma / k)) ** 2).sum())
            ),
        }
        for sigma in BLUR_SIGMAS
    ]
    return case


def make_metrics():
    cases = [metric_case(*spec) for spec in METRIC_CASES]
    for case in cases:
        if case["kl"] == "inf":
            print(f"  note: KL({case['a']} || {case['b']}, downscale "
                  f"{case['downscale']}) is infinite")
    write_fixture("scipy_metrics.json", cases)


# --------------------------------------------------------------------------
# pot_sliced.json
# --------------------------------------------------------------------------

SLICED_CASES = [
    # (a, b, number of angles, seed for numpy.random.default_rng)
    ("camera_64.png", "moon_64.png", 50, 1),
    ("coins_64.png", "text_64.png", 50, 2),
    ("camera_32.png", "coins_32.png", 50, 3),
    ("camera_299.png", "coins_299.png", 20, 4),
    ("moon_32.png", "camera_64.png", 30, 5),
    (*DOTMARK, 50, 6),
]
EQUISPACED_CASE = ("camera_64.png", "moon_64.png", 64, 0.37, 1)  # a, b, L, offset, p


def random_angles(count, seed):
    return np.pi * np.random.default_rng(seed).random(count)


def equispaced_angles(count, offset):
    return (np.arange(count) + offset) * np.pi / count


def projection_matrix(angles):
    """(2, L) matrix whose column l is (cos t_l, sin t_l), as POT expects."""
    return np.vstack([np.cos(angles), np.sin(angles)])


def sliced(mass_a, mass_b, angles, p):
    return ot.sliced_wasserstein_distance(
        coordinates(mass_a.shape),
        coordinates(mass_b.shape),
        mass_a.ravel(),
        mass_b.ravel(),
        projections=projection_matrix(angles),
        p=p,
    )


def check_sliced_convention():
    """A single dot moved by (dx, dy) must give |dx cos t + dy sin t| per angle."""
    dx, dy = 1.5, -4.0
    source = np.array([[2.0, 3.0]])
    target = source + [dx, dy]
    one = np.ones(1)
    for angle in (0.3, 1.2, 2.9):
        expected = abs(dx * math.cos(angle) + dy * math.sin(angle))
        for p in (1, 2):
            got = ot.sliced_wasserstein_distance(
                source, target, one, one,
                projections=projection_matrix(np.array([angle])), p=p,
            )
            if not math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-12):
                raise AssertionError(
                    f"POT projections convention changed: angle {angle}, p={p}: "
                    f"got {got}, expected {expected}"
                )


def make_sliced():
    check_sliced_convention()
    cases = []

    def add(name_a, name_b, p, angles, **extra):
        value = sliced(load_mass(name_a), load_mass(name_b), angles, p)
        cases.append({"a": name_a, "b": name_b, "p": p, **extra,
                      "angles": angles.tolist(), "value": json_float(value)})

    for name_a, name_b, count, seed in SLICED_CASES:
        angles = random_angles(count, seed)
        for p in (1, 2):
            add(name_a, name_b, p, angles, angles_rule=f"pi * default_rng({seed}).random({count})")

    name_a, name_b, count, offset, p = EQUISPACED_CASE
    add(name_a, name_b, p, equispaced_angles(count, offset),
        angles_rule=f"(l + {offset}) * pi / {count}")
    write_fixture("pot_sliced.json", cases)


# --------------------------------------------------------------------------
# pot_emd.json
# --------------------------------------------------------------------------

EMD_CASES = [
    ("camera_32.png", "moon_32.png"),
    ("coins_32.png", "text_32.png"),
    ("camera_32.png", "coins_32.png"),
    DOTMARK,
    ("camera_64.png", "moon_64.png"),
    ("coins_64.png", "text_64.png"),
]
EMD_OPTIMAL = 1  # POT network simplex result code for an optimal solution


def exact_emd(a, b, cost_matrix):
    """ot.emd2 that fails loudly on any solver warning or non-optimal exit."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        cost, log = ot.emd2(a, b, cost_matrix, numItermax=EMD_NUM_ITER_MAX, log=True)
        seconds = time.perf_counter() - start
    if caught or log["result_code"] != EMD_OPTIMAL or log["warning"] is not None:
        messages = [str(w.message) for w in caught]
        raise RuntimeError(
            f"ot.emd2 did not finish cleanly: result_code={log['result_code']}, "
            f"warning={log['warning']!r}, warnings={messages}"
        )
    return float(cost), seconds


def make_emd():
    cases = []
    for name_a, name_b in EMD_CASES:
        p, q = load_mass(name_a), load_mass(name_b)
        if p.shape != q.shape:
            raise ValueError(f"{name_a} and {name_b} differ in shape")
        points = coordinates(p.shape)
        for ground in EMD_GROUNDS:
            cost_matrix = ot.dist(points, points, metric=ground)
            cost, seconds = exact_emd(p.ravel(), q.ravel(), cost_matrix)
            value = math.sqrt(cost) if ground == "sqeuclidean" else cost
            print(f"  emd {name_a} vs {name_b} [{ground}]: {value!r} ({seconds:.2f} s)",
                  flush=True)
            cases.append({"a": name_a, "b": name_b, "ground": ground,
                          "cost": json_float(cost), "value": json_float(value),
                          "pot_seconds": round(seconds, 3)})
            del cost_matrix
    write_fixture("pot_emd.json", cases)


# --------------------------------------------------------------------------

FIXTURES = {"metrics": make_metrics, "sliced": make_sliced, "emd": make_emd}


def main(argv):
    if len(argv) > 1 or (argv and argv[0] not in FIXTURES):
        sys.exit(f"usage: make_reference.py [{'|'.join(FIXTURES)}]")
    for name in argv or FIXTURES:
        FIXTURES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
