"""Errors: the right exception class, with the CLI's message (without its "imgdist: " prefix)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

import imgdist
from conftest import CLI_METRIC, DATA, data

A, B = data("camera_32.png"), data("coins_32.png")
NAN, INF = math.nan, math.inf

# (function, keyword arguments, the same error in CLI arguments, or None where the CLI cannot
# express the value; then the message must name the parameter).
BAD_PARAMS = [
    ("sliced", {"proj": 0}, ["--proj", "0"]),
    ("sliced", {"proj": 10**8}, ["--proj", "100000000"]),
    ("sliced", {"proj": -1}, None),
    ("sliced", {"p": 0.5}, ["--p", "0.5"]),
    ("sliced", {"p": 0.0}, ["--p", "0.0"]),
    ("sliced", {"p": NAN}, ["--p", "nan"]),
    ("sliced", {"p": INF}, ["--p", "inf"]),
    ("sliced", {"angles": "foo"}, ["--angles", "foo"]),
    ("sliced", {"angles": "Uniform"}, ["--angles", "Uniform"]),
    ("sliced", {"seed": -1}, None),
    ("kl", {"eps": -1.0}, ["--eps", "-1.0"]),
    ("kl", {"eps": NAN}, ["--eps", "nan"]),
    ("kl", {"eps": INF}, ["--eps", "inf"]),
    ("blur_l2", {"sigma": -0.5}, ["--sigma", "-0.5"]),
    ("blur_l2", {"sigma": NAN}, ["--sigma", "nan"]),
    ("blur_l2", {"sigma": INF}, ["--sigma", "inf"]),
    ("emd", {"ground": "foo"}, ["--ground", "foo"]),
    ("emd", {"ground": "l2"}, ["--ground", "l2"]),
    ("tv", {"downscale": 0}, ["--downscale", "0"]),
    ("sliced", {"downscale": -2}, None),
    ("tv", {"max_pixels": 2**40}, ["--max-pixels", str(2**40)]),
    ("tv", {"max_pixels": -1}, None),
    ("tv", {"jobs": 0}, None),
    ("sliced", {"jobs": -1}, None),
    ("emd", {"jobs": 0}, None),
]
PARAM_NAME = {"max_pixels": "max-pixels"}


def _id(case):
    fn, kw, _ = case
    return f"{fn}-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize(("fn", "kwargs", "cli_args"), BAD_PARAMS, ids=[_id(c) for c in BAD_PARAMS])
def test_bad_parameter_is_value_error(cli, fn, kwargs, cli_args):
    with pytest.raises(ValueError) as info:
        getattr(imgdist, fn)(A, B, **kwargs)
    message = str(info.value)
    (name,) = kwargs
    if cli_args is not None:
        expected = cli.error(A, B, "--metric", CLI_METRIC[fn], *cli_args)
        assert message == expected
    else:
        assert PARAM_NAME.get(name, name) in message, f"the message names {name}: {message!r}"
        assert "invalid" in message, message


@pytest.mark.parametrize(("fn", "kwargs", "cli_args"), BAD_PARAMS, ids=[_id(c) for c in BAD_PARAMS])
def test_bad_parameter_in_compare_and_pairwise(cli, fn, kwargs, cli_args):
    metric = CLI_METRIC[fn]
    with pytest.raises(ValueError) as in_compare:
        imgdist.compare(A, B, metric, **kwargs)
    with pytest.raises(ValueError) as in_pairwise:
        imgdist.pairwise([A, B], metric, **kwargs)
    if cli_args is not None:
        expected = cli.error(A, B, "--metric", metric, *cli_args)
        assert str(in_compare.value) == expected
        assert str(in_pairwise.value) == expected  # a parameter error belongs to no pair


@pytest.mark.parametrize("metrics", ["foo", "tv,foo", ["tv", "foo"], ("foo",), "TV", "blur_l3"])
def test_unknown_metric(cli, metrics):
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    expected = cli.error(A, B, "--metric", ",".join(names))
    with pytest.raises(ValueError) as info:
        imgdist.compare(A, B, metrics)
    assert str(info.value) == expected
    if len(names) == 1:
        with pytest.raises(ValueError) as info:
            imgdist.pairwise([A, B], names[0])
        assert str(info.value) == expected


def test_unknown_or_uncomputed_metric_in_max(cli):
    with pytest.raises(ValueError) as info:
        imgdist.compare(A, B, "tv", max={"foo": 1.0})
    assert "unknown metric 'foo'" in str(info.value)
    expected = cli.error(A, B, "--metric", "sliced", "--max", "tv=1")
    with pytest.raises(ValueError) as info:
        imgdist.compare(A, B, "sliced", max={"tv": 1.0})
    assert str(info.value) == expected


@pytest.mark.parametrize("metric", ["tv", "kl", "js", "hellinger", "blur_l2"])
def test_size_mismatch(cli, metric):
    small, large = data("camera_32.png"), data("camera_64.png")
    expected = cli.error(small, large, "--metric", CLI_METRIC[metric])
    assert "needs equal sizes" in expected
    with pytest.raises(ValueError) as info:
        getattr(imgdist, metric)(small, large)
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        imgdist.compare(np.ones((32, 32)), np.ones((64, 64)), CLI_METRIC[metric])
    assert str(info.value) == expected
    # The first failing pair in order, (0, 1), whichever thread fails first.
    for jobs in [1, 2, 4]:
        with pytest.raises(ValueError) as info:
            imgdist.pairwise([small, large], CLI_METRIC[metric], jobs=jobs)
        assert str(info.value) == f"pair (0, 1): {expected}"


# Bad content -------------------------------------------------------------------------------

BAD_FILES = [
    "black_8x8.png",
    "nan.csv",
    "negative.csv",
    "ragged.csv",
    "words.csv",
    "not_an_image.pdf",
    "camera_32_corrupt.png",
    "camera_32_truncated.png",
    "empty.png",
]


@pytest.mark.parametrize("name", BAD_FILES)
@pytest.mark.parametrize("side", ["a", "b"])
def test_bad_file_content(cli, name, side):
    bad = data(name)
    args = (bad, A) if side == "a" else (A, bad)
    expected = cli.error(*args)
    assert expected.startswith(bad + ": "), expected
    calls = {
        "sliced": lambda: imgdist.sliced(*args),
        "compare": lambda: imgdist.compare(*args, "all"),
        "load": lambda: imgdist.load(bad),
        "pairwise": lambda: imgdist.pairwise(list(args), "emd"),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError) as info:
            call()
        if what == "pairwise":  # may name the pair first
            assert str(info.value).endswith(expected), (str(info.value), expected)
        else:
            assert str(info.value) == expected, what


@pytest.mark.parametrize("name", [n for n in BAD_FILES if not n.endswith(".csv")])
def test_bad_bytes(cli, name):
    """The bytes of a bad file fail as the file does (for content whose format the extension
    does not decide); the message ends with the same reason."""
    expected = cli.error(data(name), A)
    reason = expected.split(": ", 1)[1]
    with pytest.raises(ValueError) as info:
        imgdist.tv(Path(data(name)).read_bytes(), A)
    assert str(info.value).endswith(reason), (str(info.value), reason)


@pytest.mark.parametrize(
    "content", [b"", b"\x89PNG\r\n\x1a\n garbage", b"\x00\x01\x02\xff", b"1,2\n3\n", b"0,0\n0,0\n"]
)
def test_undecodable_or_empty_bytes(content):
    with pytest.raises(ValueError):
        imgdist.load(content)
    with pytest.raises(ValueError):
        imgdist.emd(content, A)


@pytest.mark.parametrize(
    ("arr", "fragment"),
    [
        (np.zeros((4, 4)), "zero total mass"),
        (np.zeros((4, 4), dtype=np.uint8), "zero total mass"),
        (np.zeros((4, 4), dtype=bool), "zero total mass"),
        (np.array([[1.0, NAN], [0.0, 1.0]]), "not a finite non-negative number"),
        (np.array([[1.0, INF], [0.0, 1.0]]), "not a finite non-negative number"),
        (np.array([[1.0, -INF], [0.0, 1.0]]), "not a finite non-negative number"),
        (np.array([[1.0, 2.0], [-0.5, 1.0]]), "not a finite non-negative number"),
        (np.array([[1, 2], [-3, 1]], dtype=np.int32), "not a finite non-negative number"),
        (np.array([[1, 2], [3, NAN]], dtype=np.float16), "not a finite non-negative number"),
    ],
    ids=["zeros", "zeros-u8", "zeros-bool", "nan", "inf", "-inf", "negative", "negative-int", "nan-f16"],
)
def test_bad_array_values(arr, fragment):
    before = arr.copy()
    for call in (
        lambda: imgdist.load(arr),
        lambda: imgdist.tv(arr, np.ones(arr.shape)),
        lambda: imgdist.sliced(np.ones(arr.shape), arr),
        lambda: imgdist.compare(arr, np.ones(arr.shape), "all"),
        lambda: imgdist.pairwise([np.ones(arr.shape), arr], "emd"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert fragment in str(info.value), str(info.value)
    assert arr.tobytes() == before.tobytes(), "input modified"


def test_negative_value_named_like_the_cli():
    """The message points at the cell (1-based row and column), like a matrix file's."""
    arr = np.ones((3, 4))
    arr[1, 2] = -2.0
    with pytest.raises(ValueError) as info:
        imgdist.load(arr)
    assert "value -2 at row 2, column 3 is not a finite non-negative number" in str(info.value)


def test_zero_mass_after_invert():
    with pytest.raises(ValueError, match="zero total mass"):
        imgdist.load(np.full((3, 3), 5.0), invert=True)


@pytest.mark.parametrize(
    "arr",
    [
        np.ones(5),
        np.ones((2, 3, 4)),
        np.ones((32, 32, 3), dtype=np.uint8),
        np.ones((1, 1, 1, 1)),
        np.array(3.0),
        np.ones((0, 5)),
        np.ones((5, 0)),
        [1.0, 2.0],
        [[[1.0]]],
    ],
    ids=["1d", "3d", "rgb", "4d", "0d", "0x5", "5x0", "list-1d", "list-3d"],
)
def test_wrong_dimensions_is_value_error(arr):
    with pytest.raises(ValueError):
        imgdist.load(arr)
    with pytest.raises(ValueError):
        imgdist.sliced(arr, np.ones((4, 4)))


@pytest.mark.parametrize(
    ("shape", "text"), [((3,), "(3,)"), ((2, 3, 4), "(2, 3, 4)"), ((), "()")]
)
def test_wrong_dimensions_name_the_shape_as_numpy_does(shape, text):
    with pytest.raises(ValueError) as info:
        imgdist.tv(np.ones((4, 4)), np.ones(shape))
    assert str(info.value) == f"b: expected a 2-D array (rows x columns), got shape {text}"


def test_too_many_pixels(cli):
    expected = cli.error(A, B, "--max-pixels", "1000")
    with pytest.raises(ValueError) as info:
        imgdist.sliced(A, B, max_pixels=1000)
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        imgdist.load(np.ones((40, 40)), max_pixels=1000)
    assert "1600 pixels exceed the limit of 1000" in str(info.value)


def test_problem_too_large_for_column_generation(cli, tmp_path):
    big = np.ones((1025, 1025))
    file = tmp_path / "big.csv"
    np.savetxt(file, big, fmt="%d", delimiter=",")
    expected = cli.error(str(file), str(file), "--metric", "emd")
    assert "--downscale" in expected
    with pytest.raises(ValueError) as info:
        imgdist.emd(big, big)
    assert str(info.value) == expected


# Files that cannot be read ----------------------------------------------------------------


def _calls(path):
    return [
        ("load", lambda: imgdist.load(path)),
        ("tv", lambda: imgdist.tv(path, A)),
        ("emd-b", lambda: imgdist.emd(A, path)),
        ("compare", lambda: imgdist.compare(A, path, "all")),
        ("pairwise", lambda: imgdist.pairwise([A, path], "sliced")),
    ]


@pytest.mark.parametrize("as_path", [False, True], ids=["str", "Path"])
def test_missing_file(cli, tmp_path, as_path):
    missing = tmp_path / "nope.png"
    expected = cli.error(str(missing), A)
    for what, call in _calls(missing if as_path else str(missing)):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert expected in str(info.value), (what, str(info.value), expected)


def test_directory(cli):
    expected = cli.error(str(DATA), A)
    for what, call in _calls(str(DATA)) + _calls(DATA):
        with pytest.raises(IsADirectoryError) as info:
            call()
        assert expected in str(info.value), (what, str(info.value), expected)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads unreadable files"
)
def test_unreadable_file(cli, tmp_path):
    locked = tmp_path / "locked.png"
    locked.write_bytes(Path(A).read_bytes())
    locked.chmod(0)
    try:
        expected = cli.error(str(locked), A)
        for what, call in _calls(locked):
            with pytest.raises(PermissionError) as info:
                call()
            assert expected in str(info.value), (what, str(info.value), expected)
    finally:
        locked.chmod(0o644)


def test_os_errors_are_os_errors_not_value_errors(tmp_path):
    with pytest.raises(OSError) as info:
        imgdist.load(tmp_path / "missing.csv")
    assert not isinstance(info.value, ValueError)


# Wrong Python types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        np.ones((4, 4), dtype=np.complex128),
        np.ones((4, 4), dtype=np.complex64),
        np.array([[1 + 0j, 2]]),
        5,
        None,
        object(),
        {"a": 1},
        [["a", "b"], ["c", "d"]],
    ],
    ids=["complex128", "complex64", "complex-list", "int", "None", "object", "dict", "strings"],
)
def test_wrong_type_is_type_error(obj):
    for call in (
        lambda: imgdist.load(obj),
        lambda: imgdist.tv(obj, np.ones((4, 4))),
        lambda: imgdist.emd(np.ones((4, 4)), obj),
        lambda: imgdist.compare(obj, np.ones((4, 4)), "all"),
        lambda: imgdist.pairwise([np.ones((4, 4)), obj]),
    ):
        with pytest.raises(TypeError):
            call()


def test_pairwise_needs_a_sequence():
    with pytest.raises(TypeError):
        imgdist.pairwise(5)


# Valid edge cases: a value, never an exception (RuntimeError included) ----------------------

EDGE = [
    ("1x1", np.ones((1, 1)), np.full((1, 1), 3.0)),
    ("row", np.arange(1.0, 8.0)[None, :], np.arange(7.0, 0.0, -1)[None, :]),
    ("column", np.arange(1.0, 8.0)[:, None], np.ones((7, 1))),
    ("huge", np.full((5, 6), 1.7e308), np.eye(5, 6) * 1e308),
    ("tiny", np.full((5, 6), 5e-324), np.eye(5, 6) * 1e-310),
    ("mixed-scale", np.eye(6) * 1e300 + 1e-300, np.ones((6, 6))),
    ("identical", np.eye(6), np.eye(6)),
    ("one-cell-each", np.eye(1, 16, 3).reshape(4, 4), np.eye(1, 16, 12).reshape(4, 4)),
]


@pytest.mark.parametrize(("a", "b"), [(a, b) for _, a, b in EDGE], ids=[n for n, _, _ in EDGE])
def test_valid_edge_inputs_give_values(a, b):
    for name in CLI_METRIC:
        fn = getattr(imgdist, name)
        for x, y in ((a, b), (b, a)):
            value = fn(x, y)
            assert isinstance(value, float)
            assert value >= 0 and not math.isnan(value), (name, value)
            if name != "kl":
                assert math.isfinite(value), (name, value)
    for ground in ("euclidean", "sqeuclidean", "cityblock"):
        value, plan = imgdist.emd(a, b, ground=ground, return_plan=True)
        assert math.isfinite(value) and plan["mass"].size >= 1
    value, profile = imgdist.sliced(a, b, p=3.0, proj=7, return_profile=True)
    assert math.isfinite(value) and profile["per_direction"].shape == (7,)
    report = imgdist.compare(a, b, "all")
    assert set(report["metrics"]) == set(CLI_METRIC.values())
    for downscale in (2, 50):
        imgdist.compare(a, b, "all", downscale=downscale, invert=False)


def test_sinkhorn_cap_is_a_runtime_error_like_the_cli(cli):
    a, b = data("camera_32.png"), data("coins_32.png")
    expected = cli.error(a, b, "--metric", "sinkhorn", "--downscale", "4", "--tol", "1e-300")
    assert "reached their cap" in expected
    with pytest.raises(RuntimeError) as caught:
        imgdist.sinkhorn(a, b, downscale=4, tol=1e-300)
    assert str(caught.value) == expected
    with pytest.raises(ValueError, match="blur"):
        imgdist.sinkhorn(a, b, blur=0.0)
