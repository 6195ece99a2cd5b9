"""Independent reference values for the exact cityblock (L1) earth mover's distance.

Produces ``grid_flow_cityblock.json`` next to this script: the Wasserstein-1
distance with cityblock ground cost between pairs of grayscale images,
computed as a min-cost flow on the 4-neighbour grid graph and solved with
HiGHS through ``scipy.optimize.linprog`` (a solver independent of our own
network simplex and of POT's).

Run from anywhere (paths are resolved relative to this file):

    python tests/reference/make_grid_flow_reference.py

Requires numpy, scipy and scikit-image. The fixture was generated with
Python 3.11.7, numpy 2.4.6, scipy 1.17.1 (bundled HiGHS 1.12.0) and
scikit-image 0.26.0; the versions actually used are recorded in the JSON file.
The two 299x299 cases take about 7 minutes each.

Definitions (shared with the Rust implementation):

* An image is read with ``skimage.io.imread(path).astype(numpy.float64)``
  (8-bit grayscale PNG); its mass is ``p = v / v.sum()``.
* Cell (i, j) -- row i, column j -- sits at coordinates (i, j) in pixels and
  is node ``k = i * W + j`` of the grid graph.
* Arcs join horizontal and vertical neighbours in both directions, cost 1,
  unbounded capacity, flow >= 0. Supplies are ``s_k = p_k - q_k`` and flow
  conservation is ``outflow_k - inflow_k = s_k``. On a 4-neighbour grid a
  shortest path between two cells has length equal to their L1 distance, so
  the optimal flow cost equals W1 with cityblock ground cost.

Making the equality system consistent:

* The supplies are not formed in floating point. With integer pixel values
  v, u and sums V, U, ``p_k - q_k = (v_k * U - u_k * V) / (V * U)`` exactly,
  so the LP is solved for the integer supplies ``S_k = v_k * U - u_k * V``
  (which sum to exactly 0), multiplied by an exact power of two 2**-e chosen
  so that the mean |supply| is about 1 (good scaling for the HiGHS
  tolerances). W1 is the optimal cost times 2**e / (V * U).
* The conservation row of the last node (k = H*W - 1) is dropped, since it is
  the negative sum of all others; its violation is still checked afterwards.

Accuracy:

* HiGHS is run with primal/dual feasibility tolerances 1e-10 (the smallest it
  accepts); any status other than optimal aborts the script.
* From the returned solution the script reports, in W1 (probability) units,
  the maximum conservation violation over all H*W nodes, the most negative
  flow, the maximum dual infeasibility (potential difference across an arc
  minus its cost) and the gap between primal and dual objectives.
* Exact certificate: the constraint matrix is totally unimodular and the data
  integer, so a basic optimal solution has integer flows (in units of
  1/(V*U)) and integer node potentials. The script rounds both and checks in
  exact integer arithmetic that the flows are non-negative and conserve mass
  at every node, that the potentials are dual feasible on every arc, and that
  the primal and dual objectives coincide. When they do, ``value`` is the
  exact optimum (a rational number) rounded once to float64, and
  ``exact_certificate`` is true.

Self-check: the 32x32 pairs camera_32/moon_32 and coins_32/text_32 must
reproduce the POT dense network-simplex values of ``pot_emd.json`` (ground
"cityblock") to 1e-9 relative; they are stored as cases (with the POT value)
only if they pass, and the script exits with status 1 otherwise.
"""

import json
import math
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy
import scipy.optimize
import scipy.sparse
import skimage
import skimage.io

REFERENCE_DIR = Path(__file__).resolve().parent
REPO = REFERENCE_DIR.parent.parent
DATA_DIR = REPO / "tests" / "data"
GENERATOR = "make_grid_flow_reference.py"
OUTPUT = "grid_flow_cityblock.json"
POT_FIXTURE = "pot_emd.json"

CASES = [
    ("camera_299.png", "coins_299.png"),
    ("moon_299.png", "camera_299.png"),
]
SELF_CHECK_CASES = [
    ("camera_32.png", "moon_32.png"),
    ("coins_32.png", "text_32.png"),
]
SELF_CHECK_RTOL = 1e-9

LINPROG_METHOD = "highs"
HIGHS_OPTIONS = {
    "presolve": True,
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
    "ipm_optimality_tolerance": 1e-12,
    "disp": False,
}


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def load_values(name):
    """Integer pixel values of an 8-bit grayscale image as int64 (exactly the
    values of ``skimage.io.imread(path).astype(float64)``)."""
    values = skimage.io.imread(DATA_DIR / name).astype(np.float64)
    if values.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D grayscale array, got {values.shape}")
    if np.any(values < 0) or np.any(values != np.round(values)) or values.max() > 255:
        raise ValueError(f"{name}: expected 8-bit integer values")
    if values.sum() <= 0:
        raise ValueError(f"{name}: values must have a positive sum")
    return values.astype(np.int64)


# --------------------------------------------------------------------------
# Grid graph
# --------------------------------------------------------------------------


def grid_arcs(rows, cols):
    """Tails and heads of all arcs between 4-neighbours, both directions."""
    index = np.arange(rows * cols, dtype=np.int64).reshape(rows, cols)
    left, right = index[:, :-1].ravel(), index[:, 1:].ravel()
    up, down = index[:-1, :].ravel(), index[1:, :].ravel()
    tails = np.concatenate([left, right, up, down])
    heads = np.concatenate([right, left, down, up])
    return tails, heads


def incidence(tails, heads, n):
    """Node-arc incidence matrix: +1 at the tail (outflow), -1 at the head."""
    m = tails.size
    data = np.concatenate([np.ones(m), -np.ones(m)])
    row = np.concatenate([tails, heads])
    col = np.concatenate([np.arange(m), np.arange(m)])
    return scipy.sparse.csr_array((data, (row, col)), shape=(n, m))


def net_outflow_int(flow, tails, heads, n):
    """Exact integer outflow - inflow at every node."""
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, tails, flow)
    np.subtract.at(out, heads, flow)
    return out


# --------------------------------------------------------------------------
# Solve
# --------------------------------------------------------------------------


def highs_version():
    try:
        from scipy.optimize._highspy import _core

        return _core._Highs().version()
    except Exception:  # private module; fall back to the compile-time constants
        try:
            from scipy.optimize._highspy import _core

            return (
                f"{_core.HIGHS_VERSION_MAJOR}.{_core.HIGHS_VERSION_MINOR}"
                f".{_core.HIGHS_VERSION_PATCH}"
            )
        except Exception:
            return "unknown"


def grid_flow_emd(name_a, name_b):
    v, u = load_values(name_a), load_values(name_b)
    if v.shape != u.shape:
        raise ValueError(f"{name_a} and {name_b} differ in shape")
    rows, cols = v.shape
    n = rows * cols
    V, U = int(v.sum()), int(u.sum())
    denominator = V * U  # p_k - q_k = supply_int_k / denominator, exactly

    # Integer supplies, |S_k| <= 255 * max(U, V) < 2**53: exact in int64/float64.
    supply_int = (v * U - u * V).ravel()
    if int(supply_int.sum()) != 0:
        raise AssertionError("integer supplies do not sum to zero")
    mean_abs = float(np.abs(supply_int).mean())
    exponent = int(round(math.log2(mean_abs))) if mean_abs > 0 else 0
    scale = math.ldexp(1.0, -exponent)  # exact power of two
    b_full = supply_int.astype(np.float64) * scale  # exact: integers times 2**-e

    tails, heads = grid_arcs(rows, cols)
    m = tails.size
    a_full = incidence(tails, heads, n)
    a_eq = a_full[:-1, :]  # drop the redundant conservation row of the last node
    b_eq = b_full[:-1]
    cost = np.ones(m)

    start = time.perf_counter()
    res = scipy.optimize.linprog(
        cost,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method=LINPROG_METHOD,
        options=HIGHS_OPTIONS,
    )
    seconds = time.perf_counter() - start
    if res.status != 0 or not res.success:
        raise RuntimeError(
            f"{name_a} vs {name_b}: HiGHS did not reach optimality "
            f"(status {res.status}: {res.message})"
        )

    to_w1 = math.ldexp(1.0, exponent) / denominator  # solver units -> mass units
    x = res.x
    y = np.append(res.eqlin.marginals, 0.0)  # potential of the dropped node is 0

    # Floating-point accuracy indicators, in mass (W1) units.
    primal = math.fsum(x)
    dual = math.fsum(b_full * y)
    residual = a_full @ x - b_full
    max_conservation = float(np.abs(residual).max()) * to_w1
    min_flow = float(x.min()) * to_w1
    max_dual_infeasibility = float(max(0.0, (y[tails] - y[heads] - 1.0).max()))

    # Exact certificate in integer arithmetic (flows in units of 1/denominator).
    flow_int = np.rint(x * math.ldexp(1.0, exponent)).astype(np.int64)
    potential_int = np.rint(y).astype(np.int64)
    flow_rounding = float(np.abs(x * math.ldexp(1.0, exponent) - flow_int).max())
    potential_rounding = float(np.abs(y - potential_int).max())
    primal_feasible = bool(
        (flow_int >= 0).all()
        and np.array_equal(net_outflow_int(flow_int, tails, heads, n), supply_int)
    )
    dual_feasible = bool((potential_int[tails] - potential_int[heads] <= 1).all())
    primal_int = sum(int(f) for f in flow_int)
    dual_int = sum(int(s) * int(t) for s, t in zip(supply_int, potential_int))
    certified = primal_feasible and dual_feasible and primal_int == dual_int

    highs_value = primal * to_w1
    if certified:
        exact = Fraction(primal_int, denominator)
        value = float(exact)  # correctly rounded
    else:
        value = highs_value

    return {
        "a": name_a,
        "b": name_b,
        "ground": "cityblock",
        "grid": [rows, cols],
        "value": value,
        "solver_seconds": round(seconds, 3),
        "max_conservation_violation": max_conservation,
        "highs_objective": highs_value,
        "highs_status": res.message,
        "highs_iterations": int(res.nit),
        "min_flow": min_flow,
        "max_dual_infeasibility": max_dual_infeasibility,
        "relative_duality_gap": abs(primal - dual) / abs(primal) if primal else abs(dual),
        "exact_certificate": certified,
        "exact_numerator": str(primal_int) if certified else None,
        "exact_denominator": str(denominator) if certified else None,
        "certificate_detail": {
            "supply_scale_exponent": -exponent,
            "max_flow_rounding": flow_rounding,
            "max_potential_rounding": potential_rounding,
            "rounded_flows_feasible": primal_feasible,
            "rounded_potentials_feasible": dual_feasible,
            "primal_equals_dual": primal_int == dual_int,
        },
        "nodes": n,
        "arcs": m,
    }


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def versions():
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "highs": highs_version(),
        "scikit-image": skimage.__version__,
    }


def pot_cityblock_values():
    with open(REFERENCE_DIR / POT_FIXTURE) as f:
        document = json.load(f)
    return {
        (c["a"], c["b"]): c["value"]
        for c in document["cases"]
        if c.get("ground") == "cityblock" and "downscale" not in c
    }


def describe(case):
    return (
        f"{case['a']} vs {case['b']}: value {case['value']!r} "
        f"(HiGHS objective {case['highs_objective']!r}), "
        f"{case['solver_seconds']} s, "
        f"max conservation violation {case['max_conservation_violation']:.3e}, "
        f"min flow {case['min_flow']:.3e}, "
        f"max dual infeasibility {case['max_dual_infeasibility']:.3e}, "
        f"relative duality gap {case['relative_duality_gap']:.3e}, "
        f"exact certificate {case['exact_certificate']}"
    )


def main():
    pot = pot_cityblock_values()
    cases = []
    all_passed = True

    for name_a, name_b in SELF_CHECK_CASES:
        case = grid_flow_emd(name_a, name_b)
        print(describe(case))
        reference = pot[(name_a, name_b)]
        rel = abs(case["value"] - reference) / abs(reference)
        passed = rel <= SELF_CHECK_RTOL
        print(
            f"  self-check vs {POT_FIXTURE}: POT {reference!r}, "
            f"relative difference {rel:.3e} -> {'PASS' if passed else 'FAIL'}"
        )
        if passed:
            case["pot_emd_value"] = reference
            case["relative_difference_to_pot"] = rel
            cases.append(case)
        else:
            all_passed = False

    for name_a, name_b in CASES:
        case = grid_flow_emd(name_a, name_b)
        print(describe(case))
        cases.append(case)

    document = {
        "generator": GENERATOR,
        "solver": (
            f"scipy.optimize.linprog HiGHS (version {highs_version()}), "
            f"method={LINPROG_METHOD!r}"
        ),
        "solver_options": HIGHS_OPTIONS,
        "formulation": (
            "min-cost flow on the 4-neighbour grid, unit arc costs; integer "
            "supplies v*U - u*V scaled by an exact power of two; conservation "
            "row of the last node dropped; W1 = cost * 2**e / (V*U)"
        ),
        "versions": versions(),
        "cases": cases,
    }
    path = REFERENCE_DIR / OUTPUT
    with open(path, "w") as f:
        json.dump(document, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path.relative_to(REPO)} ({len(cases)} cases)")
    if not all_passed:
        print("SELF-CHECK FAILED: see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
