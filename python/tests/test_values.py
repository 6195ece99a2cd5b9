"""Values: bit for bit the CLI's, close to POT's exact EMD, and consistent plans and profiles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import imgdist
from conftest import (
    CLI_METRIC,
    METRIC_PARAMS,
    REFERENCE,
    assert_close,
    assert_same,
    data,
    strip_timings,
)

METRICS = list(CLI_METRIC)

# Pairs of equal grids (every metric applies).
SAME_SIZE = [
    ("camera_32.png", "coins_32.png"),
    ("moon_32.png", "text_32.png"),
    ("dot_at_1_2.png", "dot_at_3_5.png"),
    ("camera_64.png", "camera_16bit_64.png"),
    ("astronaut_rgba_64.png", "camera_64.png"),
    ("data32_1001.csv", "data32_1002.csv"),
]
# Pairs of different grids (only the metrics with locations, and hist, apply).
OTHER_SIZE = [("camera_32.png", "camera_64.png"), ("text_32.png", "astronaut_rgba_64.png")]

# Parameter sets per metric: the defaults, then non-default values of each parameter.
VARIANTS = {
    "tv": [{}],
    "kl": [{}, {"eps": 1e-3}],
    "js": [{}],
    "hellinger": [{}],
    "blur_l2": [{}, {"sigma": 0.5}, {"sigma": 7.25}, {"sigma": 0.0}],
    "hist": [{}],
    "sliced": [
        {},
        {"proj": 37, "seed": 12345, "p": 2.0, "angles": "random"},
        {"proj": 64, "seed": 1, "p": 1.5},
    ],
    "emd": [{"ground": "euclidean"}, {"ground": "sqeuclidean"}, {"ground": "cityblock"}],
    "sinkhorn": [{}, {"blur": 4.0}, {"blur": 2.0, "debias": False}, {"blur": 8.0, "tol": 1e-6}],
}
# The loader's options, tried with each metric's defaults (and with emd's three grounds).
LOADER = [{"invert": True}, {"downscale": 3}, {"invert": True, "downscale": 2}]
# sinkhorn's default blur (1 px) is a third of a cell after --downscale 3, where two nearly
# equal inputs converge too slowly for the iteration cap: the loader cases use blur 2.
LOADER_BASE = {"sinkhorn": {"blur": 2.0}}


def _value_cases():
    for metric in METRICS:
        variants = VARIANTS[metric] + [
            {**base, **loader}
            for loader in LOADER
            for base in (VARIANTS[metric] if metric == "emd" else [LOADER_BASE.get(metric, {})])
        ]
        pairs = SAME_SIZE + (OTHER_SIZE if metric in ("hist", "sliced", "emd", "sinkhorn") else [])
        for a, b in pairs:
            for params in variants:
                label = ",".join(f"{k}={v}" for k, v in params.items()) or "defaults"
                yield pytest.param(metric, a, b, params, id=f"{metric}-{a}-{b}-{label}")


@pytest.mark.parametrize(("metric", "a", "b", "params"), list(_value_cases()))
def test_metric_equals_cli(cli, metric, a, b, params):
    assert set(params) <= METRIC_PARAMS[metric] | {"invert", "downscale"}
    expected = cli.value(data(a), data(b), metric, params)
    actual = getattr(imgdist, metric)(data(a), data(b), **params)
    assert_same(actual, expected, f"imgdist.{metric}({a}, {b}, {params}) vs the CLI")


def test_kl_infinite_like_cli(cli):
    """Disjoint supports: kl is +inf (the CLI writes null and value_text "inf")."""
    a, b = data("dot_at_1_2.png"), data("dot_at_3_5.png")
    expected = cli.value(a, b, "kl")
    assert expected == math.inf
    assert_same(imgdist.kl(a, b), expected, "kl of disjoint dots")


# compare(): the dictionary is the CLI's JSON report ----------------------------------------

COMPARE_PARAMS = [
    {},
    {
        "invert": True,
        "downscale": 2,
        "proj": 50,
        "seed": 3,
        "p": 2.0,
        "angles": "random",
        "ground": "cityblock",
        "eps": 0.01,
        "sigma": 1.5,
    },
    {"ground": "sqeuclidean", "max_pixels": 4096},
]


@pytest.mark.parametrize("params", COMPARE_PARAMS, ids=["defaults", "all-params", "sqeuclidean"])
@pytest.mark.parametrize(("a", "b"), SAME_SIZE, ids=[f"{a}-{b}" for a, b in SAME_SIZE])
def test_compare_all_equals_cli_report(cli, a, b, params):
    expected = cli.report(data(a), data(b), "all", params)
    actual = imgdist.compare(data(a), data(b), "all", **params)
    assert strip_timings(actual) == strip_timings(expected)
    # The timing fields exist where the CLI has them (only their values differ between runs).
    assert "solve_seconds" in actual["metrics"]["emd"]["details"], actual["metrics"]["emd"]
    assert json.loads(json.dumps(actual)) == actual, "the report is plain JSON data"


@pytest.mark.parametrize(("a", "b"), OTHER_SIZE, ids=[f"{a}-{b}" for a, b in OTHER_SIZE])
def test_compare_other_sizes_equals_cli(cli, a, b):
    expected = cli.report(data(a), data(b), "sliced,emd", {"proj": 20})
    for metrics in ("sliced,emd", ["sliced", "emd"], ("sliced", "emd")):
        actual = imgdist.compare(data(a), data(b), metrics, proj=20)
        assert strip_timings(actual) == strip_timings(expected), metrics


def test_compare_default_metrics_is_clis_default(cli):
    a, b = data("camera_32.png"), data("moon_32.png")
    code, out, err = cli.raw(a, b, "--format", "json")
    assert code == 0, err
    assert imgdist.compare(a, b) == json.loads(out)


@pytest.mark.parametrize("metrics", ["tv,emd", ["kl", "tv"], "sliced", ["emd"], "all"])
def test_compare_max_equals_cli(cli, metrics):
    """--max thresholds: per-metric max and pass fields, and the overall pass."""
    a, b = data("dot_at_1_2.png"), data("dot_at_3_5.png")
    names = metrics.split(",") if isinstance(metrics, str) else metrics
    names = list(CLI_METRIC.values()) if names == ["all"] else names
    maxima = {name: 100.0 if i % 2 == 0 else 1e-9 for i, name in enumerate(names)}
    extra = [arg for name, v in maxima.items() for arg in ("--max", f"{name}={v!r}")]
    expected = cli.report(a, b, ",".join(names), {}, *extra)
    actual = imgdist.compare(a, b, metrics, max=maxima)
    assert strip_timings(actual) == strip_timings(expected)
    for name, entry in actual["metrics"].items():
        assert entry["max"] == maxima[name]
        assert entry["pass"] == (entry["finite"] and entry["value"] <= maxima[name]), entry
    assert actual["pass"] == all(m["pass"] for m in actual["metrics"].values())


def test_compare_names_and_arrays(cli):
    """Arrays are named "a" and "b" unless names are given; values are those of the matrix file."""
    fa, fb = data("data32_1001.csv"), data("data32_1002.csv")
    expected = strip_timings(cli.report(fa, fb, "all", {}))
    arr_a = np.loadtxt(fa, delimiter=",")
    arr_b = np.loadtxt(fb, delimiter=",")
    for names, got_names in [(None, ("a", "b")), (("first", "second"), ("first", "second"))]:
        actual = strip_timings(imgdist.compare(arr_a, arr_b, "all", names=names))
        assert actual["inputs"]["a"]["path"] == got_names[0]
        assert actual["inputs"]["b"]["path"] == got_names[1]
        want = json.loads(json.dumps(expected))
        want["inputs"]["a"]["path"], want["inputs"]["b"]["path"] = got_names
        assert actual == want
    # Names replace paths too.
    renamed = imgdist.compare(fa, fb, "tv", names=("x", "y"))
    assert (renamed["inputs"]["a"]["path"], renamed["inputs"]["b"]["path"]) == ("x", "y")
    # A pathlib.Path is named by its string.
    as_path = imgdist.compare(Path(fa), Path(fb), "tv")
    assert (as_path["inputs"]["a"]["path"], as_path["inputs"]["b"]["path"]) == (fa, fb)


def test_pair_seed_reproduces_batch_records(cli):
    """A batch --all-pairs record == compare() with pair_seed(seed, "A|B") and the paths as names."""
    files = [data(f) for f in ("camera_32.png", "coins_32.png", "moon_32.png")]
    code, out, err = cli.raw(
        "batch", "--all-pairs", *files, "-m", "sliced,tv", "--seed", "3", "--proj", "40",
        "--format", "json", "--quiet",
    )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(records) == 3
    for record in records:
        a, b = record["id"].split("|")
        seed = imgdist.pair_seed(3, record["id"])
        assert isinstance(seed, int) and 0 <= seed < 2**64
        assert record["metrics"]["sliced"]["params"]["seed"] == seed
        mine = imgdist.compare(a, b, ["sliced", "tv"], seed=seed, proj=40, names=(a, b))
        assert record == {"id": record["id"], "status": "ok", **mine}
    assert imgdist.pair_seed(3, "x|y") != imgdist.pair_seed(4, "x|y")
    assert imgdist.pair_seed(3, "x|y") != imgdist.pair_seed(3, "y|x")


def test_fnv1a_pair_seed_definition():
    """FNV-1a 64 over the seed's 8 little-endian bytes, then the id's UTF-8 bytes."""

    def fnv1a(data: bytes) -> int:
        h = 0xCBF29CE484222325
        for byte in data:
            h = ((h ^ byte) * 0x100000001B3) % 2**64
        return h

    for seed, ident in [(0, ""), (3, "a.png|b.png"), (2**64 - 1, "é|ü")]:
        want = fnv1a(seed.to_bytes(8, "little") + ident.encode())
        assert imgdist.pair_seed(seed, ident) == want, (seed, ident)


# Exact EMD against POT ------------------------------------------------------------------------

POT_FIXTURE = json.loads((REFERENCE / "pot_emd.json").read_text())
POT_CASES = POT_FIXTURE["cases"]
POT_BY_NAME = {case["name"]: case for case in POT_CASES}
GROUNDS = ("euclidean", "sqeuclidean", "cityblock")
POT_RTOL = 1e-9

try:
    import ot  # noqa: F401

    HAVE_POT = True
except ImportError:  # POT is a test-only dependency; fall back on the frozen values
    HAVE_POT = False


def _pot_reference(case: dict, ground: str) -> float:
    """POT's optimal cost: live when POT is installed, else the frozen one."""
    if not HAVE_POT:
        return case["pot"][ground]
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pot_emd", REFERENCE / "make_pot_emd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    live = module.pot_emd2(case, ground)
    # The frozen fixture must stay what POT computes.
    assert_close(case["pot"][ground], live, 1e-12, f"frozen POT value of {case['name']}/{ground}")
    return live


@pytest.mark.parametrize("ground", GROUNDS)
@pytest.mark.parametrize("case", POT_CASES, ids=[c["name"] for c in POT_CASES])
def test_emd_equals_pot(case, ground):
    a = np.array(case["a"], dtype=np.float64)
    b = np.array(case["b"], dtype=np.float64)
    cost = _pot_reference(case, ground)
    value = imgdist.emd(a, b, ground=ground, downscale=case["downscale"])
    source = "POT ot.emd2" if HAVE_POT else "frozen POT"
    if ground == "sqeuclidean":  # imgdist reports W2 = sqrt(optimal cost)
        assert_close(value * value, cost, POT_RTOL, f"{case['name']}: W2² vs {source}")
        assert_close(value, math.sqrt(cost), POT_RTOL, f"{case['name']}: W2 vs sqrt({source})")
    else:
        assert_close(value, cost, POT_RTOL, f"{case['name']} {ground} vs {source}")


def test_emd_dots_closed_form():
    """One bright pixel moved by (2, 3): euclidean sqrt(13), sqeuclidean sqrt(13), cityblock 5."""
    a, b = data("dot_at_1_2.png"), data("dot_at_3_5.png")
    assert_close(imgdist.emd(a, b), math.sqrt(13), 1e-15, "euclidean")
    assert_close(imgdist.emd(a, b, ground="sqeuclidean"), math.sqrt(13), 1e-15, "sqeuclidean")
    assert_close(imgdist.emd(a, b, ground="cityblock"), 5.0, 1e-15, "cityblock")


# emd(return_plan=True) ----------------------------------------------------------------------


def _ground_cost(ra, ca, rb, cb, ground):
    dr, dc = ra - rb, ca - cb
    if ground == "euclidean":
        return np.sqrt(dr * dr + dc * dc)
    if ground == "sqeuclidean":
        return dr * dr + dc * dc
    return np.abs(dr) + np.abs(dc)


PLAN_INPUTS = [
    pytest.param(data("camera_32.png"), data("coins_32.png"), {}, id="camera-coins"),
    pytest.param(data("text_32.png"), data("camera_64.png"), {}, id="text32-camera64"),
    pytest.param(data("dot_at_1_2.png"), data("dot_at_3_5.png"), {}, id="dots"),
    pytest.param(
        np.array(POT_BY_NAME["dense_vs_sparse_16x16"]["a"], float),
        np.array(POT_BY_NAME["dense_vs_sparse_16x16"]["b"], float),
        {},
        id="sparse",
    ),
    pytest.param(
        np.array(POT_BY_NAME["ties_8x8"]["a"], float),
        np.array(POT_BY_NAME["ties_8x8"]["b"], float),
        {},
        id="ties",
    ),
    pytest.param(data("moon_32.png"), data("text_32.png"), {"invert": True}, id="invert"),
]


@pytest.mark.parametrize("ground", GROUNDS)
@pytest.mark.parametrize(("a", "b", "params"), PLAN_INPUTS)
def test_emd_plan_is_optimal(a, b, params, ground):
    value, plan = imgdist.emd(a, b, ground=ground, return_plan=True, **params)
    plain = imgdist.emd(a, b, ground=ground, **params)
    if ground == "cityblock":
        # Without a plan cityblock is a flow on the grid graph; the plan comes from column
        # generation (as with the CLI's --dump-plan), which may differ in the last bits.
        assert_close(value, plain, 1e-12, "value with and without plan")
    else:
        assert_same(value, plain, "value with and without plan")
    wa = imgdist.load(a, **params)
    wb = imgdist.load(b, **params)

    keys = {"a_rows", "a_cols", "b_rows", "b_cols", "mass", "u", "v", "cost", "max_violation", "gap"}
    assert set(plan) == keys
    for k in ("a_rows", "a_cols", "b_rows", "b_cols"):
        assert plan[k].dtype == np.int64 and plan[k].ndim == 1, (k, plan[k].dtype)
    assert plan["mass"].dtype == np.float64
    n = len(plan["mass"])
    assert n >= 1 and all(len(plan[k]) == n for k in ("a_rows", "a_cols", "b_rows", "b_cols"))
    assert np.all(plan["mass"] > 0), plan["mass"].min()
    assert plan["u"].shape == wa.shape and plan["v"].shape == wb.shape
    ar, ac, br, bc, mass = (plan[k] for k in ("a_rows", "a_cols", "b_rows", "b_cols", "mass"))
    assert ar.min() >= 0 and ar.max() < wa.shape[0] and ac.min() >= 0 and ac.max() < wa.shape[1]
    assert br.min() >= 0 and br.max() < wb.shape[0] and bc.min() >= 0 and bc.max() < wb.shape[1]

    # Marginals: the plan moves exactly the masses.
    out_a = np.zeros_like(wa)
    np.add.at(out_a, (ar, ac), mass)
    in_b = np.zeros_like(wb)
    np.add.at(in_b, (br, bc), mass)
    err_a, err_b = np.abs(out_a - wa).max(), np.abs(in_b - wb).max()
    assert err_a <= 1e-12 and err_b <= 1e-12, f"marginal errors {err_a!r}, {err_b!r}"

    # Its cost is the value (W2 = sqrt(cost) for sqeuclidean).
    cost = math.fsum(mass * _ground_cost(ar, ac, br, bc, ground))
    assert_close(plan["cost"], cost, 1e-12, "plan['cost'] vs sum(mass * cost)", 1e-15)
    expected_value = math.sqrt(cost) if ground == "sqeuclidean" else cost
    assert_close(value, expected_value, 1e-12, "value vs sum(mass * cost)", 1e-15)

    # Duals: NaN exactly where a side has no mass, feasible on every pair of support cells,
    # tight wherever mass moves, and their objective is the optimal cost.
    u, v = plan["u"], plan["v"]
    assert np.array_equal(np.isnan(u), wa == 0), "u is NaN exactly off A's support"
    assert np.array_equal(np.isnan(v), wb == 0), "v is NaN exactly off B's support"
    sa, sb = np.nonzero(wa), np.nonzero(wb)
    c_all = _ground_cost(sa[0][:, None], sa[1][:, None], sb[0][None, :], sb[1][None, :], ground)
    slack = c_all - (u[sa][:, None] + v[sb][None, :])
    scale = max(1.0, float(c_all.max()))
    tol = 1e-9 * scale
    violation = -float(slack.min())
    assert violation <= tol, f"u + v exceeds the cost by {violation!r} (tolerance {tol!r})"
    assert violation <= max(plan["max_violation"], 0.0) + tol, (violation, plan["max_violation"])
    tight = _ground_cost(ar, ac, br, bc, ground) - (u[ar, ac] + v[br, bc])
    worst = float(np.abs(tight).max())
    assert worst <= tol, f"complementary slackness: |c - u - v| = {worst!r} on a plan entry"
    dual = math.fsum(wa[sa] * u[sa]) + math.fsum(wb[sb] * v[sb])
    assert_close(dual, cost, 1e-9, "dual objective vs primal cost", 1e-12)
    assert 0.0 <= plan["gap"] <= 1e-9 * scale, plan["gap"]


@pytest.mark.parametrize("ground", GROUNDS)
def test_emd_plan_details_match_cli(cli, tmp_path, ground):
    """With a plan: value, cost, max_violation and gap are the CLI's with --dump-plan (one
    column-generation solve, every ground), and the plan is the one --dump-plan writes."""
    a, b = data("camera_32.png"), data("coins_32.png")
    dump = tmp_path / "plan.csv"
    report = cli.report(a, b, "emd", {"ground": ground}, "--dump-plan", str(dump))
    details = report["metrics"]["emd"]["details"]
    value, plan = imgdist.emd(a, b, ground=ground, return_plan=True)
    assert_same(value, report["metrics"]["emd"]["value"], "value vs CLI")
    assert_same(plan["cost"], details["cost"], "cost vs CLI details.cost")
    assert_same(plan["max_violation"], details["certificate"]["max_violation"], "max_violation")
    assert_same(plan["gap"], details["certificate"]["gap"], "gap")
    rows = np.loadtxt(dump, delimiter=",", skiprows=1, ndmin=2)
    mine = np.column_stack([plan["a_rows"], plan["a_cols"], plan["b_rows"], plan["b_cols"], plan["mass"]])
    order = lambda m: m[np.lexsort(m[:, ::-1].T)]  # noqa: E731
    assert rows.shape == mine.shape, (rows.shape, mine.shape)
    diff = np.abs(order(rows) - order(mine)).max()
    assert diff <= 1e-15, f"plan differs from --dump-plan by {diff!r}"


# sliced(return_profile=True) ----------------------------------------------------------------


@pytest.mark.parametrize("angles", ["uniform", "random"])
@pytest.mark.parametrize("proj", [1, 2, 37, 200])
def test_sliced_profile(cli, proj, angles):
    a, b = data("camera_32.png"), data("coins_32.png")
    value, profile = imgdist.sliced(a, b, proj=proj, angles=angles, seed=9, return_profile=True)
    assert set(profile) == {"angles", "per_direction", "std_error"}
    params = {"proj": proj, "angles": angles, "seed": 9}
    assert_same(value, imgdist.sliced(a, b, **params), "value with and without profile")
    report = cli.report(a, b, "sliced", params)["metrics"]["sliced"]
    assert_same(value, report["value"], "value vs CLI")
    assert_same(profile["std_error"], report["details"]["std_error"], "std_error vs CLI")
    theta, per = profile["angles"], profile["per_direction"]
    assert theta.dtype == np.float64 and per.dtype == np.float64
    assert theta.shape == (proj,) and per.shape == (proj,), (theta.shape, per.shape)
    assert np.all((theta >= 0) & (theta < math.pi)), theta
    assert np.all(per >= 0)
    # p = 1: the value is the mean of W1 over the directions, summed in order.
    total = 0.0
    for w in per.tolist():
        total += w
    assert_same(total / proj, value, "mean of per_direction (p = 1) vs value")
    assert_close(math.fsum(per) / proj, value, 1e-13, "exact mean of per_direction vs value")
    if angles == "uniform" and proj > 1:
        steps = np.diff(theta)
        assert np.allclose(steps, math.pi / proj, rtol=0, atol=1e-12), steps
    if angles == "random" and proj > 2:
        assert not np.allclose(np.diff(theta), math.pi / proj, atol=1e-6)


def test_sliced_profile_p2_and_seed():
    a, b = data("moon_32.png"), data("text_32.png")
    value, profile = imgdist.sliced(a, b, p=2.0, proj=50, return_profile=True)
    per = profile["per_direction"]
    assert_close(math.sqrt(math.fsum(per**2) / 50), value, 1e-13, "power mean of order 2")
    _, other = imgdist.sliced(a, b, p=2.0, proj=50, seed=1, return_profile=True)
    assert not np.array_equal(profile["angles"], other["angles"]), "the seed moves the angles"


def test_sliced_profile_closed_form_for_a_dot():
    """A single pixel moved by (2, 3): W1 along θ is |2 cos θ + 3 sin θ|."""
    a, b = data("dot_at_1_2.png"), data("dot_at_3_5.png")
    _, profile = imgdist.sliced(a, b, proj=25, return_profile=True)
    theta = profile["angles"]
    expected = np.abs(2 * np.cos(theta) + 3 * np.sin(theta))
    err = np.abs(profile["per_direction"] - expected).max()
    assert err <= 1e-12, f"per_direction vs |2cos + 3sin|: max error {err!r}"
