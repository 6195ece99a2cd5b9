"""examples/dask_pairwise.py on a LocalCluster of two worker processes gives the records (and the
matrix) of ``imgdist batch --all-pairs`` on the same inputs: same ids in the same order, same
status and errors, values bit for bit, same params.

Needs dask and distributed (skipped without them, failed without them when ``CI`` is set).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, REPO, Cli, strip_timings

if os.environ.get("CI"):
    import dask.distributed  # noqa: F401  (CI installs the test extra: missing dask is a failure)
distributed = pytest.importorskip("dask.distributed")

EXAMPLE = REPO / "examples" / "dask_pairwise.py"
IMAGES = ["camera_32.png", "coins_32.png", "moon_32.png", "text_32.png", "black_8x8.png"]


def run_example(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *argv],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def run_batch(cli: Cli, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli.binary), "batch", "--all-pairs", "--quiet", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def records(jsonl: str) -> list[dict[str, Any]]:
    return [strip_timings(json.loads(line)) for line in jsonl.splitlines()]


def assert_same_records(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [r["id"] for r in got] == [r["id"] for r in want]
    for g, w in zip(got, want):
        assert g["status"] == w["status"], g["id"]
        if w["status"] == "ok":
            for name, m in w["metrics"].items():  # the values bit for bit, then everything
                assert g["metrics"][name]["value"].hex() == m["value"].hex(), (g["id"], name)
                assert g["metrics"][name]["params"] == m["params"], (g["id"], name)
        assert g == w, g["id"]


def test_folder_matches_batch_all_pairs(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    for name in IMAGES:  # black_8x8: zero mass (and a size mismatch for tv): error records
        shutil.copy(DATA / name, tmp_path / "imgs" / name)
    metrics = ["-m", "tv,sliced,emd", "--seed", "3"]
    got = run_example(tmp_path, "imgs", *metrics, "--workers", "2", "--threads", "1",
                      "-o", "dask.jsonl", "--matrix", "dask.csv")  # fmt: skip
    want = run_batch(cli, tmp_path, "imgs", *metrics, "--matrix", "cli.csv")
    assert want.returncode == 2, want.stderr  # the pairs with black_8x8 fail
    assert got.returncode == want.returncode, got.stderr
    want_records = records(want.stdout)
    assert len(want_records) == 10 and sum(r["status"] == "ok" for r in want_records) == 6
    assert_same_records(records((tmp_path / "dask.jsonl").read_text()), want_records)
    assert (tmp_path / "dask.csv").read_text() == (tmp_path / "cli.csv").read_text()


def test_files_on_a_running_scheduler_match_batch(cli: Cli, tmp_path: Path) -> None:
    files = [str(DATA / n) for n in ("camera_32.png", "moon_32.png", "text_32.png")]
    files += [str(tmp_path / "missing.png"), str(DATA / "coins_32.png")]
    options = ["-m", "sliced,js", "--proj", "50", "--seed", "7", "--invert", "--downscale", "2"]
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        got = run_example(tmp_path, *files, *options, "--scheduler", cluster.scheduler_address,
                          "--chunk", "3")  # fmt: skip
    want = run_batch(cli, tmp_path, *files, *options)
    assert want.returncode == 2, want.stderr  # the pairs with missing.png fail
    assert got.returncode == want.returncode, got.stderr
    assert_same_records(records(got.stdout), records(want.stdout))
