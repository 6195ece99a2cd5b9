"""Shared fixtures of imgdist's Python test suite.

The reference for every value is the command-line tool built from the same Rust code: the
binary is found through the environment variable ``IMGDIST_BIN``, else
``<repo>/target/release/imgdist``, else ``<repo>/target/debug/imgdist``. Without one the tests
that need it are skipped, unless ``CI`` is set, in which case they fail.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
DATA = REPO / "tests" / "data"
REFERENCE = TESTS / "reference"

# Python keyword -> the CLI's option (flags without a value are booleans).
CLI_OPTION = {
    "eps": "--eps",
    "sigma": "--sigma",
    "proj": "--proj",
    "seed": "--seed",
    "p": "--p",
    "angles": "--angles",
    "ground": "--ground",
    "blur": "--blur",
    "debias": "--debias",
    "tol": "--tol",
    "invert": "--invert",
    "downscale": "--downscale",
    "max_pixels": "--max-pixels",
}

# Python function name -> the CLI's metric name.
CLI_METRIC = {
    "tv": "tv",
    "kl": "kl",
    "js": "js",
    "hellinger": "hellinger",
    "blur_l2": "blur-l2",
    "hist": "hist",
    "sliced": "sliced",
    "emd": "emd",
    "sinkhorn": "sinkhorn",
}

# The parameters each metric function accepts besides the loader's.
METRIC_PARAMS = {
    "tv": set(),
    "kl": {"eps"},
    "js": set(),
    "hellinger": set(),
    "blur_l2": {"sigma"},
    "hist": set(),
    "sliced": {"proj", "seed", "p", "angles"},
    "emd": {"ground"},
    "sinkhorn": {"blur", "debias", "tol"},
}
LOAD_PARAMS = {"invert", "downscale", "max_pixels"}


def data(name: str) -> str:
    """Absolute path (as str) of a fixture file of the repository's tests/data."""
    path = DATA / name
    assert path.is_file(), f"missing fixture {path}"
    return str(path)


def find_cli() -> Path | None:
    env = os.environ.get("IMGDIST_BIN")
    if env:
        return Path(env)
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "imgdist"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def cli_args(params: dict[str, Any]) -> list[str]:
    """The CLI options for Python keyword parameters."""
    args: list[str] = []
    for key, value in params.items():
        option = CLI_OPTION[key]
        if key == "debias":  # an option with a value, true or false
            args += [option, str(value).lower()]
        elif isinstance(value, bool):
            if value:
                args.append(option)
        else:
            args += [option, repr(value) if isinstance(value, float) else str(value)]
    return args


@functools.lru_cache(maxsize=None)
def _run_cli(binary: str, argv: tuple[str, ...]) -> tuple[int, str, str]:
    proc = subprocess.run(
        [binary, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


class Cli:
    """Runs the imgdist binary and parses its JSON report (results are cached per argv)."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def raw(self, *argv: str) -> tuple[int, str, str]:
        return _run_cli(str(self.binary), tuple(argv))

    def report(
        self, a: str, b: str, metrics: str, params: dict[str, Any] | None = None, *extra: str
    ) -> dict[str, Any]:
        argv = [a, b, "--metric", metrics, "--format", "json", *cli_args(params or {}), *extra]
        code, out, err = self.raw(*argv)
        assert code in (0, 1), f"imgdist {' '.join(argv)} failed ({code}): {err}"
        return json.loads(out)

    def value(self, a: str, b: str, metric: str, params: dict[str, Any] | None = None) -> float:
        """The CLI's value of one metric (Python name), as the float the report holds."""
        name = CLI_METRIC[metric]
        entry = self.report(a, b, name, params)["metrics"][name]
        if entry["value"] is None:  # not finite: JSON has no inf/NaN, the text says which
            return float(entry["value_text"])
        return entry["value"]

    def error(self, *argv: str) -> str:
        """The CLI's error message (without the "imgdist: " prefix) for a failing run."""
        code, out, err = self.raw(*argv)
        assert code == 2, f"imgdist {' '.join(argv)} was expected to fail, got {code}: {out}"
        line = err.strip().splitlines()[-1]
        prefix = "imgdist: "
        assert line.startswith(prefix), line
        return line[len(prefix):]


@pytest.fixture(scope="session")
def cli() -> Cli:
    binary = find_cli()
    if binary is None or not binary.is_file():
        message = (
            "no imgdist binary: set IMGDIST_BIN or build it (cargo build --release); "
            f"looked for {binary or REPO / 'target/{release,debug}/imgdist'}"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Cli(binary)


def strip_timings(report: Any) -> Any:
    """A report without its wall-clock fields (``solve_seconds``), which differ between runs."""
    if isinstance(report, dict):
        return {k: strip_timings(v) for k, v in report.items() if k != "solve_seconds"}
    if isinstance(report, list):
        return [strip_timings(v) for v in report]
    return report


def same_float(actual: float, expected: float) -> bool:
    """Bit-for-bit equality of two floats (NaN equal to NaN, 0.0 distinct from -0.0)."""
    return np.float64(actual).tobytes() == np.float64(expected).tobytes()


def assert_same(actual: float, expected: float, what: str = "") -> None:
    """Asserts bit-identical floats, printing both (repr and hex) when they differ."""
    assert isinstance(actual, float), f"{what}: expected a Python float, got {type(actual)}"
    assert same_float(actual, expected), (
        f"{what}: {actual!r} ({float(actual).hex()}) != {expected!r} ({float(expected).hex()}), "
        f"difference {actual - expected!r}"
    )


def assert_close(actual: float, expected: float, rel: float, what: str = "", abs_: float = 0.0):
    """Asserts |actual - expected| <= rel * |expected| + abs_, printing both on failure."""
    tol = rel * abs(expected) + abs_
    assert math.isfinite(actual) and abs(actual - expected) <= tol, (
        f"{what}: {actual!r} vs {expected!r}: difference {actual - expected!r} "
        f"exceeds tolerance {tol!r} (rel {rel}, abs {abs_})"
    )


def assert_arrays_same(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Asserts equal shapes and bit-identical values (NaN equal to NaN), printing the shapes or
    the largest difference and the first differing cell when they differ."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    if not same.all():
        first = tuple(int(i) for i in np.argwhere(~same)[0])
        diff = np.nanmax(np.abs(actual - expected))
        raise AssertionError(
            f"{what}: {int((~same).sum())} of {same.size} values differ, largest by {diff!r}; "
            f"first at {first}: {actual[first]!r} != {expected[first]!r}"
        )
