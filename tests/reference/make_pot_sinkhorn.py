"""Generate entropic-OT reference values for imgdist's sinkhorn metric with POT.

Writes ``pot_sinkhorn.json`` next to this script:

    python tests/reference/make_pot_sinkhorn.py

For each pair of images and each blur B (epsilon = B**2, squared euclidean cost in
pixels**2, cells at (row, column)), the three problems OT_eps(a, b), OT_eps(a, a) and
OT_eps(b, b) are solved with

    ot.solve(M, a, b, reg=eps, reg_type="KL", method="sinkhorn_log",
             max_iter=MAX_ITER, tol=TOL)

``res.value`` is POT's primal objective <pi, M> + eps * KL(pi | a b^T) at the plan it
returns, except that POT computes the KL term with small offsets (1e-15 added to a b^T,
1e-16 inside the log), which move it by up to about 1e-8 relative here; so the primal is also
computed here in plain arithmetic ("primal"), next to POT's ("pot_value").
``res.value_linear`` is <pi, M>. The dual objective <a, f> + <b, g> is computed from
the returned log-potentials (POT's ``log_u = log a + f / eps``, ``log_v = log b + g / eps``).
At convergence primal and dual agree; the script checks this to DUAL_CHECK relative before
writing anything, and records both. imgdist's value is the dual one.

Images are read as in make_reference.py (8-bit gray, divided by 255, normalised to sum 1).
Requires numpy, pot and scikit-image; the versions used are recorded in the JSON file.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import ot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_reference import REFERENCE_DIR, REPO, coordinates, load_mass, versions  # noqa: E402

GENERATOR = "make_pot_sinkhorn.py"
MAX_ITER = 200_000
TOL = 1e-14
DUAL_CHECK = 1e-10

# (a, b, blurs). POT forms the dense N x N cost matrix, and its plain Sinkhorn iterations
# need thousands of iterations at small blurs: at 32x32, blur 1 took 943 s for OT(a, b) alone
# (tol 1e-14); at 64x64 even blur 8 took 940 s for OT(a, b) alone. So the cases stop at blur 2
# at 32x32, and 64x64 grids appear on one side of a mixed-size pair; smaller blurs are covered
# by the dense reference and the closed forms in tests/sinkhorn.rs.
CASES = [
    ("camera_32.png", "coins_32.png", [8.0, 4.0, 2.0]),
    ("moon_32.png", "text_32.png", [4.0]),
    # Grids of different sizes: 32x32 against 64x64, cells at their own (row, column).
    ("camera_32.png", "coins_64.png", [8.0]),
]


def solve(x, a, y, b, eps):
    """POT's entropic solve; returns primal, dual, linear cost and iterations."""
    M = ot.dist(x, y, metric="sqeuclidean")
    start = time.perf_counter()
    res = ot.solve(
        M, a, b, reg=eps, reg_type="KL", method="sinkhorn_log", max_iter=MAX_ITER, tol=TOL
    )
    seconds = time.perf_counter() - start
    log_u, log_v = res.potentials
    f = eps * (log_u - np.log(a))
    g = eps * (log_v - np.log(b))
    dual = float(a @ f + b @ g)
    plan = res.plan
    # The primal objective in plain arithmetic. POT's res.value is this with its KL computed as
    # sum(pi * log(pi / (a b^T + 1e-15) + 1e-16)): the two offsets move it by about
    # eps * 1e-15 * sum(pi / (a b^T)), 1e-8 relative at 32x32 and large eps.
    positive = plan > 0
    ratio = plan[positive] / np.outer(a, b)[positive]
    primal = float((M * plan).sum() + eps * (plan[positive] * np.log(ratio)).sum())
    errors = (np.abs(plan.sum(1) - a).sum(), np.abs(plan.sum(0) - b).sum())
    if abs(primal - dual) > DUAL_CHECK * abs(dual):
        raise RuntimeError(f"primal {primal} and dual {dual} disagree (eps {eps})")
    return {
        "value": dual,
        "primal": primal,
        "pot_value": float(res.value),
        "linear": float(res.value_linear),
        "marginal_error": float(max(errors)),
        "pot_seconds": round(seconds, 2),
    }


def main():
    cases = []
    for name_a, name_b, blurs in CASES:
        a2, b2 = load_mass(name_a), load_mass(name_b)
        x, y = coordinates(a2.shape), coordinates(b2.shape)
        a, b = a2.ravel(), b2.ravel()
        for blur in blurs:
            eps = blur * blur
            case = {"a": name_a, "b": name_b, "blur": blur, "eps": eps}
            for key, (p, wp, q, wq) in {
                "ab": (x, a, y, b),
                "aa": (x, a, x, a),
                "bb": (y, b, y, b),
            }.items():
                case[key] = solve(p, wp, q, wq, eps)
                print(f"{name_a} {name_b} blur {blur} {key}: {case[key]}", flush=True)
            s = case["ab"]["value"] - 0.5 * case["aa"]["value"] - 0.5 * case["bb"]["value"]
            case["divergence"] = s
            case["value"] = math.sqrt(max(s, 0.0))
            cases.append(case)
            write(cases)


def write(cases):
    """Writes the cases so far (a long run leaves its finished cases behind)."""
    document = {"generator": GENERATOR, "versions": versions(), "cases": cases}
    path = REFERENCE_DIR / "pot_sinkhorn.json"
    with open(path, "w") as f:
        json.dump(document, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {path.relative_to(REPO)} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
