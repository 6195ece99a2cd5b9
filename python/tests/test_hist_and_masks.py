"""The grey-level histogram EMD (``hist``) against SciPy, and masks (``mask=``, ``mask_a=``,
``mask_b=``): a masked pixel's content has no effect on any metric, every form of a mask gives
the same values, and the errors say what is wrong."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy.stats import wasserstein_distance

import imgdist
from conftest import (
    CLI_METRIC,
    DATA,
    REPO,
    assert_arrays_same,
    assert_close,
    assert_same,
    data,
    strip_timings,
)

SCIPY_HIST = json.loads((REPO / "tests" / "reference" / "scipy_hist.json").read_text())["cases"]

# Every metric function with parameters that keep the slow ones quick and KL finite.
METRIC_CALLS: dict[str, dict[str, Any]] = {
    "tv": {},
    "kl": {"eps": 1e-3},
    "js": {},
    "hellinger": {},
    "blur_l2": {"sigma": 1.5},
    "hist": {},
    "sliced": {"proj": 50, "seed": 7},
    "emd": {},
    "sinkhorn": {"blur": 4.0},
}


def test_every_metric_function_is_covered() -> None:
    assert set(METRIC_CALLS) == set(CLI_METRIC)


def pixel_values(name: str) -> np.ndarray:
    """A fixture's pixel values on its format's [0, 1] scale, read with Pillow (as the
    reference generator reads them), or a CSV matrix's values as given."""
    path = DATA / name
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",")
    img = Image.open(path)
    full = {"L": 255.0, "I;16": 65535.0}[img.mode]
    return np.asarray(img, dtype=np.float64) / full


# hist ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SCIPY_HIST, ids=lambda c: f"{c['a']}-{c['b']}-{c['mask']}")
def test_hist_equals_scipy(case: dict[str, Any]) -> None:
    a, b = pixel_values(case["a"]), pixel_values(case["b"])
    mask = case["mask"]
    if mask is not None:
        keep = pixel_values(mask) == 0
        a, b = a[keep], b[keep]
    live = wasserstein_distance(a.ravel(), b.ravel())
    assert_close(live, case["hist"], 1e-12, "SciPy now vs the frozen reference")
    kwargs = {} if mask is None else {"mask": data(mask)}
    value = imgdist.hist(data(case["a"]), data(case["b"]), **kwargs)
    assert_close(value, live, 1e-12, f"hist {case}")
    report = imgdist.compare(data(case["a"]), data(case["b"]), "hist", **kwargs)
    assert_same(report["metrics"]["hist"]["value"], value, "compare")


def test_hist_keeps_sixteen_bit_values() -> None:
    sixteen = data("camera_16bit_64.png")
    raw = np.asarray(Image.open(sixteen), dtype=np.float64)
    assert np.any(raw % 257 != 0), "the fixture has values 8 bits cannot hold"
    # The same picture rounded to 8 bits, as an array of values on the [0, 1] scale: were the
    # 16-bit values rounded when loaded, the distance would be 0.
    eight = np.round(raw / 257) / 255
    expected = wasserstein_distance((raw / 65535).ravel(), eight.ravel())
    assert expected > 0
    assert_close(imgdist.hist(sixteen, eight), expected, 1e-12, "16 bit vs rounded")
    camera = pixel_values("camera_64.png")
    expected = wasserstein_distance((raw / 65535).ravel(), camera.ravel())
    assert_close(imgdist.hist(sixteen, data("camera_64.png")), expected, 1e-12, "16 vs 8 bit")


def test_hist_of_arrays_uses_the_values_as_given() -> None:
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 40, size=(12, 9))
    b = rng.integers(0, 7, size=(5, 20)).astype(np.int32)
    expected = wasserstein_distance(a.ravel(), b.ravel().astype(np.float64))
    assert expected > 1, "values as given, not rescaled to [0, 1]"
    assert_close(imgdist.hist(a, b), expected, 1e-12, "arrays")
    # Where the values are does not matter, and neither do scale factors of the mass.
    shuffled = rng.permutation(a.ravel()).reshape(a.shape)
    assert_same(imgdist.hist(a, shuffled), 0.0, "a shuffled array")
    assert_close(imgdist.hist(a * 2, a), wasserstein_distance(2 * a.ravel(), a.ravel()), 1e-12)


def test_hist_in_pairwise_and_compare_all() -> None:
    inputs = [data("camera_32.png"), data("coins_32.png"), data("moon_64.png")]
    matrix = imgdist.pairwise(inputs, "hist")
    for i in range(3):
        for j in range(3):
            expected = 0.0 if i == j else imgdist.hist(inputs[i], inputs[j])
            assert_same(float(matrix[i, j]), expected, f"pairwise[{i}, {j}]")
    report = imgdist.compare(inputs[0], inputs[1], "all")
    assert_same(report["metrics"]["hist"]["value"], imgdist.hist(inputs[0], inputs[1]))
    assert report["metrics"]["hist"]["params"] == {}


# masks --------------------------------------------------------------------------------------

SHAPE = (16, 12)


def block_mask() -> np.ndarray:
    """Rows 3..8, columns 2..7 ignored."""
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[3:9, 2:8] = 1
    return mask


def pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 1.0, SHAPE), rng.uniform(0.1, 1.0, SHAPE)


def call(metric: str, a: Any, b: Any, **kwargs: Any) -> float:
    result = getattr(imgdist, metric)(a, b, **METRIC_CALLS[metric], **kwargs)
    return float(result)


@pytest.mark.parametrize("metric", list(METRIC_CALLS))
def test_masked_content_has_no_effect(metric: str) -> None:
    a, b = pair(1)
    mask = block_mask()
    keep = mask == 0
    changed_a, changed_b = a.copy(), b.copy()
    changed_a[~keep] = 50.0
    changed_b[~keep] = 0.0
    base = call(metric, a, b, mask=mask)
    assert_close(call(metric, changed_a, changed_b, mask=mask), base, 1e-12, metric, 1e-15)
    # Not a vacuous check: without the mask the change is seen.
    assert abs(call(metric, changed_a, changed_b) - call(metric, a, b)) > 1e-6, metric


@pytest.mark.parametrize("metric", list(METRIC_CALLS))
def test_identical_outside_the_mask_is_zero(metric: str) -> None:
    a, b = pair(2)
    mask = block_mask()
    b[mask == 0] = a[mask == 0]
    assert call(metric, a, b) > 1e-6, "the inputs differ inside the mask"
    assert_close(call(metric, a, b, mask=mask), 0.0, 0.0, metric, 1e-12)


def mask_forms(tmp_path: Path) -> dict[str, Any]:
    """One mask (255 where ignored) as a path, a pathlib path, PNG bytes, an array of each of
    three dtypes, a PIL image and a nested list."""
    mask = block_mask() * 255
    path = tmp_path / "mask.png"
    Image.fromarray(mask.astype(np.uint8)).save(path)
    csv = tmp_path / "mask.csv"
    np.savetxt(csv, mask, delimiter=",", fmt="%d")
    return {
        "str": str(path),
        "pathlib": path,
        "csv": str(csv),
        "bytes": path.read_bytes(),
        "uint8": mask.astype(np.uint8),
        "bool": mask != 0,
        "float": mask.astype(np.float64) / 255,
        "pil": Image.open(path),
        "list": mask.tolist(),
    }


@pytest.mark.parametrize("metric", list(METRIC_CALLS))
def test_mask_forms_give_the_same_values(metric: str, tmp_path: Path) -> None:
    a, b = pair(3)
    expected = call(metric, a, b, mask=block_mask())
    assert expected != call(metric, a, b), "the mask changes the value"
    for form, mask in mask_forms(tmp_path).items():
        assert_same(call(metric, a, b, mask=mask), expected, f"{metric}, mask as {form}")
        assert_same(call(metric, a, b, mask_a=mask, mask_b=mask), expected, f"{metric} {form}")


def test_mask_a_masks_a_only() -> None:
    a, b = pair(4)
    mask = block_mask()
    keep = mask == 0
    # Only A's pixels inside the mask are ignored: the same as A's light there being 0.
    zeroed = np.where(keep, a, 0.0)
    for metric in METRIC_CALLS:
        if metric == "hist":
            # hist leaves ignored pixels out, which is not the same as holding 0.
            expected = wasserstein_distance(a[keep], b.ravel())
        else:
            expected = call(metric, zeroed, b)
        assert_close(call(metric, a, b, mask_a=mask), expected, 1e-12, metric, 1e-15)
        # B keeps every pixel: changing B inside the mask is seen.
        changed = b.copy()
        changed[~keep] = 9.0
        assert call(metric, a, changed, mask_a=mask) != call(metric, a, b, mask_a=mask), metric
    expected_b = wasserstein_distance(a.ravel(), b[keep])
    assert_close(imgdist.hist(a, b, mask_b=mask), expected_b, 1e-12, "mask_b")


def test_compare_report_names_the_masks(cli: Any, tmp_path: Path) -> None:
    a, b, mask = data("camera_32.png"), data("coins_32.png"), data("quarter_mask_32.png")
    report = imgdist.compare(a, b, "tv,hist,sliced", mask=mask)
    expected = cli.report(a, b, "tv,hist,sliced", None, "--mask", mask)
    assert strip_timings(report) == strip_timings(expected)
    assert report["options"]["mask"] == mask
    assert report["inputs"]["a"]["mask"] == {"path": mask, "ignored": 16 * 16}
    one = imgdist.compare(a, b, "tv,hist", mask_a=mask)
    expected = cli.report(a, b, "tv,hist", None, "--mask-a", mask)
    assert strip_timings(one) == strip_timings(expected)
    assert "mask" not in one["options"] and "mask" not in one["inputs"]["b"]
    # An array mask is named for its keyword.
    arrays = imgdist.compare(a, b, "tv", mask=np.asarray(Image.open(mask)))
    assert arrays["inputs"]["b"]["mask"] == {"path": "mask", "ignored": 256}
    assert arrays["options"]["mask"] == "mask"
    assert_same(arrays["metrics"]["tv"]["value"], report["metrics"]["tv"]["value"])
    plain = imgdist.compare(a, b, "tv")
    assert "mask" not in plain["options"] and "mask" not in plain["inputs"]["a"]


def test_mask_of_another_size(cli: Any) -> None:
    a, b, mask = data("camera_64.png"), data("moon_64.png"), data("quarter_mask_32.png")
    expected = cli.error(a, b, "--metric", "tv", "--mask", mask)
    assert "32x32" in expected and "64x64" in expected, expected
    for metric in METRIC_CALLS:
        with pytest.raises(ValueError) as info:
            call(metric, a, b, mask=mask)
        assert str(info.value) == expected, metric
    with pytest.raises(ValueError) as info:
        imgdist.compare(a, b, "tv", mask=mask)
    assert str(info.value) == expected
    with pytest.raises(ValueError) as info:
        imgdist.tv(np.ones((3, 4)), np.ones((3, 4)), mask_b=np.zeros((4, 3)))
    assert str(info.value) == (
        "mask mask_b is 4x3 pixels but b is 3x4 (rows x columns); a mask must have its "
        "input's size"
    )
    with pytest.raises(ValueError, match="is 2x2 pixels but input is 3x3"):
        imgdist.load(np.ones((3, 3)), mask=np.zeros((2, 2)))


@pytest.mark.parametrize("side", ["mask_a", "mask_b"])
def test_mask_with_mask_a_or_b_is_an_error(side: str) -> None:
    a, b = pair(5)
    for metric in METRIC_CALLS:
        with pytest.raises(ValueError, match=f"mask cannot be used with {side}"):
            call(metric, a, b, mask=block_mask(), **{side: block_mask()})
    with pytest.raises(ValueError, match=f"mask cannot be used with {side}"):
        imgdist.compare(a, b, "tv", mask=block_mask(), **{side: block_mask()})


def test_mask_file_errors_are_the_loaders() -> None:
    a, b = pair(6)
    with pytest.raises(FileNotFoundError):
        imgdist.tv(a, b, mask=str(DATA / "no_such_mask.png"))
    with pytest.raises(IsADirectoryError):
        imgdist.tv(a, b, mask=DATA)
    with pytest.raises(ValueError, match="exceed the limit"):
        imgdist.tv(a, b, mask=data("camera_512.png"), max_pixels=1000)
    with pytest.raises(TypeError, match="mask_a: expected a path"):
        imgdist.tv(a, b, mask_a=object())
    with pytest.raises(ValueError, match="zero total mass outside mask"):
        imgdist.tv(a, b, mask=np.ones(SHAPE))


def test_pairwise_with_a_mask() -> None:
    rng = np.random.default_rng(7)
    inputs = [rng.uniform(0.1, 1.0, SHAPE) for _ in range(3)]
    mask = block_mask()
    for metric in ("tv", "hist", "emd"):
        matrix = imgdist.pairwise(inputs, metric, mask=mask)
        for i in range(3):
            for j in range(3):
                expected = 0.0 if i == j else call(metric, inputs[i], inputs[j], mask=mask)
                assert_close(float(matrix[i, j]), expected, 1e-12, f"{metric}[{i}, {j}]", 1e-15)
        assert not np.allclose(matrix, imgdist.pairwise(inputs, metric)), metric
    with pytest.raises(ValueError, match=r"inputs\[1\] is 3x3"):
        imgdist.pairwise([np.ones(SHAPE), np.ones((3, 3))], "tv", mask=mask)


def test_load_with_a_mask_zeroes_the_masked_cells() -> None:
    a, _ = pair(8)
    mask = block_mask()
    mass = imgdist.load(a, mask=mask)
    assert_close(float(mass.sum()), 1.0, 1e-12, "sum")
    assert np.all(mass[mask != 0] == 0.0)
    keep = mask == 0
    assert_arrays_same(mass[keep], imgdist.load(np.where(keep, a, 0.0))[keep], "unmasked cells")
    buf = io.BytesIO()
    Image.fromarray((mask * 255).astype(np.uint8)).save(buf, format="PNG")
    assert_arrays_same(imgdist.load(a, mask=buf.getvalue()), mass, "mask as bytes")
    # With the downscale, the block sums of what the mask keeps.
    coarse = imgdist.load(a, mask=mask, downscale=2)
    assert coarse.shape == (8, 6)
    assert_close(float(coarse.sum()), 1.0, 1e-12, "downscaled sum")
    zeroed = imgdist.load(np.where(keep, a, 0.0), downscale=2)
    np.testing.assert_allclose(coarse, zeroed, rtol=1e-12, atol=1e-15)
