"""Inputs: every dtype and memory layout, paths / bytes / arrays / PIL images, load(), pairwise()."""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import imgdist
from conftest import CLI_METRIC, assert_arrays_same, assert_close, assert_same, data

try:
    from PIL import Image
except ImportError:  # Pillow is a test dependency; without it only the PIL tests are skipped
    Image = None
needs_pil = pytest.mark.skipif(Image is None, reason="Pillow is not installed")

RNG = np.random.default_rng(7)
# Small non-negative integers: exact in every dtype (float16 up to 2048, int8 up to 127).
BASE = RNG.integers(0, 120, size=(24, 20))
BASE[3:7, 5:9] = 0
OTHER = RNG.random((24, 20)) * (RNG.random((24, 20)) < 0.7)

# Metrics each input kind is checked with (fast ones; emd on small grids only).
QUICK = [
    ("tv", {}),
    ("kl", {"eps": 0.01}),
    ("hellinger", {}),
    ("blur_l2", {"sigma": 1.5}),
    ("sliced", {"proj": 25, "seed": 4}),
    ("sliced", {"proj": 25, "p": 2.0}),
    ("emd", {}),
    ("emd", {"ground": "cityblock"}),
]


def values(x, y=OTHER, **load):
    """Every QUICK metric of (x, y) and of (y, x), in order."""
    out = []
    for name, params in QUICK:
        fn = getattr(imgdist, name)
        out.append(fn(x, y, **params, **load))
        out.append(fn(y, x, **params, **load))
    return out


def assert_all_same(actual, expected, what):
    assert len(actual) == len(expected)
    for (name, params), i in zip([q for q in QUICK for _ in (0, 1)], range(len(actual))):
        assert_same(actual[i], expected[i], f"{what}: {name}{params} ({'xy' if i % 2 == 0 else 'yx'})")


def assert_untouched(arr, before, what):
    assert arr.dtype == before.dtype, what
    assert arr.shape == before.shape, what
    assert_arrays_same(arr.astype(np.float64), before.astype(np.float64), f"{what}: input modified")
    assert arr.tobytes() == before.tobytes(), f"{what}: input modified"


REFERENCE = {}


def reference(**load):
    key = tuple(sorted(load.items()))
    if key not in REFERENCE:
        REFERENCE[key] = values(np.ascontiguousarray(BASE, dtype=np.float64), **load)
    return REFERENCE[key]


DTYPES = [
    np.uint8, np.uint16, np.uint32, np.uint64,
    np.int8, np.int16, np.int32, np.int64,
    np.float16, np.float32, np.float64, np.longdouble,
    ">f8", ">i4", "<u2", ">f4",
]  # fmt: skip


@pytest.mark.parametrize("load", [{}, {"invert": True, "downscale": 3}], ids=["plain", "invert-down3"])
@pytest.mark.parametrize("dtype", DTYPES, ids=[np.dtype(d).str for d in DTYPES])
def test_dtypes_equal_float64(dtype, load):
    arr = BASE.astype(dtype)
    assert np.array_equal(arr.astype(np.float64), BASE), "the test values must be exact"
    before = arr.copy()
    assert_all_same(values(arr, **load), reference(**load), f"dtype {arr.dtype.str}")
    assert_untouched(arr, before, f"dtype {arr.dtype.str}")
    assert_arrays_same(imgdist.load(arr, **load), imgdist.load(BASE.astype(np.float64), **load), f"load {arr.dtype.str}")


def test_bool_equals_zero_one_float64():
    mask = BASE > 60
    expected = values(mask.astype(np.float64))
    before = mask.copy()
    assert_all_same(values(mask), expected, "bool")
    assert_untouched(mask, before, "bool")
    ones = imgdist.load(mask)
    assert_close(float(ones.sum()), 1.0, 1e-14, "bool mass")
    assert np.all(ones[mask] == ones[mask][0]) and np.all(ones[~mask] == 0)


def _layouts():
    base = BASE.astype(np.float64)
    h, w = base.shape
    yield "C", np.ascontiguousarray(base)
    yield "F", np.asfortranarray(base)
    big = np.full((2 * h, 3 * w), 99.0)
    big[::2, ::3] = base
    yield "strided-slice", big[::2, ::3]
    yield "negative-strides", np.ascontiguousarray(base[::-1, ::-1])[::-1, ::-1]
    yield "negative-row-stride", np.ascontiguousarray(base[::-1])[::-1]
    yield "transposed", np.ascontiguousarray(base.T).T
    big_f = np.asfortranarray(np.full((h + 4, w + 6), 7.0))
    big_f[2 : h + 2, 3 : w + 3] = base
    yield "fortran-window", big_f[2 : h + 2, 3 : w + 3]
    yield "reversed-transposed", np.ascontiguousarray(base.T[::-1])[::-1].T
    readonly = base.copy()
    readonly.flags.writeable = False
    yield "readonly", readonly
    stacked = np.stack([base, base * 0 + 5])
    yield "slice-of-3d", stacked[0]
    yield "int32-strided", np.ascontiguousarray(base.astype(np.int32)[::-1, ::-1])[::-1, ::-1]
    yield "nested-list", base.astype(int).tolist()
    yield "float-list", base.tolist()


LAYOUTS = list(_layouts())


@pytest.mark.parametrize("load", [{}, {"invert": True, "downscale": 3}], ids=["plain", "invert-down3"])
@pytest.mark.parametrize(("layout", "arr"), LAYOUTS, ids=[name for name, _ in LAYOUTS])
def test_layouts_equal_c_float64(layout, arr, load):
    if isinstance(arr, np.ndarray):
        before = arr.copy()
        flags = (arr.flags.writeable, arr.flags.c_contiguous, arr.flags.f_contiguous, arr.strides)
    assert_all_same(values(arr, **load), reference(**load), f"layout {layout}")
    if isinstance(arr, np.ndarray):
        assert_untouched(arr, before, f"layout {layout}")
        after = (arr.flags.writeable, arr.flags.c_contiguous, arr.flags.f_contiguous, arr.strides)
        assert after == flags, f"layout {layout}: flags changed {flags} -> {after}"


def test_broadcast_view():
    """A zero-stride (broadcast) view reads as its values."""
    row = np.arange(20, dtype=np.float64)
    view = np.broadcast_to(row, (24, 20))
    assert view.strides[0] == 0
    assert_all_same(values(view), values(np.array(view)), "broadcast view")


@pytest.mark.parametrize("invert", [False, True])
def test_arrays_not_modified(invert):
    """Every function leaves its array inputs alone (values, dtype, writeability)."""
    a = OTHER.copy()
    b = BASE.astype(np.float32)
    c = np.asfortranarray(BASE.astype(np.uint16))
    frozen = BASE.astype(np.float64)
    frozen.flags.writeable = False
    arrays = [a, b, c, frozen]
    copies = [x.copy() for x in arrays]
    kw = {"invert": invert, "downscale": 2}
    for x in arrays:
        imgdist.load(x, **kw)
        for y in arrays:
            for name in CLI_METRIC:
                getattr(imgdist, name)(x, y, **kw)
        imgdist.sliced(x, a, return_profile=True, proj=10, **kw)
        imgdist.emd(x, a, return_plan=True, **kw)
    imgdist.compare(a, b, "all", **kw)
    imgdist.pairwise(arrays, "sliced", proj=10, **kw)
    imgdist.pairwise(arrays, "emd", **kw)
    for x, before in zip(arrays, copies):
        assert_untouched(x, before, f"{x.dtype} array")
    assert not frozen.flags.writeable and a.flags.writeable


def test_load_result_does_not_alias_input():
    arr = OTHER.copy()
    before = arr.copy()
    loaded = imgdist.load(arr)
    assert not np.shares_memory(loaded, arr)
    if loaded.flags.writeable:
        loaded[...] = 123.0
    assert_untouched(arr, before, "after writing into load()'s result")


# Paths, bytes, PIL images ---------------------------------------------------------------

FILES = [
    "camera_32.png",
    "coins_32.png",
    "camera_32_rgb.png",
    "dot_at_1_2.png",
    "camera_64.png",
    "camera_16bit_64.png",
    "astronaut_rgba_64.png",
    "data32_1001.csv",
]
PNGS = [f for f in FILES if f.endswith(".png")]


def _partner(name):
    """A fixture of the same size as ``name`` (so the pixel-by-pixel metrics apply)."""
    if name.startswith("dot_"):
        return data("dot_at_3_5.png")
    return data("moon_64.png" if "64" in name else "moon_32.png")


@pytest.mark.parametrize("load", [{}, {"invert": True}, {"downscale": 3}], ids=["plain", "invert", "down3"])
@pytest.mark.parametrize("name", FILES)
def test_path_str_pathlib_bytes_agree(name, load):
    path = data(name)
    ref = imgdist.load(path, **load)
    partner = _partner(name)
    ref_values = [
        imgdist.sliced(path, partner, proj=20, **load),
        imgdist.emd(path, partner, ground="cityblock", **load),
        imgdist.js(path, partner, **load),
    ]
    for kind, x in [("Path", Path(path)), ("bytes", Path(path).read_bytes())]:
        assert_arrays_same(imgdist.load(x, **load), ref, f"load({kind}) vs load(str) of {name}")
        got = [
            imgdist.sliced(x, partner, proj=20, **load),
            imgdist.emd(x, partner, ground="cityblock", **load),
            imgdist.js(x, partner, **load),
        ]
        for g, r, m in zip(got, ref_values, ("sliced", "emd", "js")):
            assert_same(g, r, f"{m} of {kind} vs str for {name}")


def test_csv_path_equals_array():
    path = data("data32_1001.csv")
    arr = np.loadtxt(path, delimiter=",")
    other = data("data32_1002.csv")
    for load in ({}, {"invert": True}, {"downscale": 3}):
        assert_arrays_same(imgdist.load(arr, **load), imgdist.load(path, **load), f"array vs csv {load}")
        for name in CLI_METRIC:
            fn = getattr(imgdist, name)
            assert_same(fn(arr, other, **load), fn(path, other, **load), f"{name} {load}")


@needs_pil
@pytest.mark.parametrize("name", PNGS)
def test_pil_image_equals_path(name):
    path = data(name)
    partner = _partner(name)
    with Image.open(path) as img:
        img.load()
        for load in ({}, {"invert": True}, {"downscale": 2}):
            assert_arrays_same(
                imgdist.load(img, **load),
                imgdist.load(path, **load),
                f"load(PIL {img.mode}) vs load(path) for {name} {load}",
            )
            for metric, params in [("sliced", {"proj": 30}), ("tv", {}), ("emd", {"ground": "cityblock"})]:
                fn = getattr(imgdist, metric)
                assert_same(
                    fn(img, partner, **params, **load),
                    fn(path, partner, **params, **load),
                    f"{metric} of PIL {img.mode} vs path for {name} {load}",
                )


@needs_pil
@pytest.mark.parametrize("mode", ["P", "LA", "1", "RGBA", "L"])
def test_pil_modes_equal_their_saved_png(mode, tmp_path):
    """Any PIL image equals the PNG file PIL writes of it (encoded the same way)."""
    with Image.open(data("astronaut_rgba_64.png")) as src:
        img = src.convert(mode)
    file = tmp_path / f"img_{mode}.png"
    img.save(file)
    with Image.open(file) as reread:
        assert reread.mode == mode
    assert_arrays_same(imgdist.load(img), imgdist.load(file), f"PIL {mode} vs its PNG file")
    assert_same(
        imgdist.sliced(img, data("camera_64.png"), proj=20),
        imgdist.sliced(str(file), data("camera_64.png"), proj=20),
        f"PIL {mode}",
    )


@needs_pil
@pytest.mark.parametrize("mode", ["F", "I"])
def test_pil_float_and_int_modes_are_arrays(mode):
    arr = BASE.astype(np.float32 if mode == "F" else np.int32)
    img = Image.fromarray(arr)
    assert img.mode == mode
    assert_arrays_same(imgdist.load(img), imgdist.load(arr), f"PIL {mode} vs array")
    assert_all_same(values(img), values(arr), f"PIL {mode}")


# load() -----------------------------------------------------------------------------------


def _light(name):
    """Per-pixel light of an 8-bit grey PNG, as the loader defines it (value / 255)."""
    with Image.open(data(name)) as img:
        assert img.mode == "L"
        return np.asarray(img, dtype=np.float64) / 255.0


@needs_pil
@pytest.mark.parametrize("name", ["camera_32.png", "text_32.png", "moon_32.png"])
def test_load_png(name):
    mass = imgdist.load(data(name))
    assert isinstance(mass, np.ndarray) and mass.dtype == np.float64 and mass.ndim == 2
    assert mass.shape == (32, 32)
    assert_close(math.fsum(mass.ravel()), 1.0, 1e-14, f"sum of load({name})")
    assert np.all(mass >= 0)
    light = _light(name)
    err = np.abs(mass - light / light.sum()).max()
    assert err <= 1e-15, f"load({name}) vs value/255 normalised: {err!r}"
    inverted = imgdist.load(data(name), invert=True)
    assert_close(math.fsum(inverted.ravel()), 1.0, 1e-14, "sum with invert")
    err = np.abs(inverted - (1 - light) / (1 - light).sum()).max()
    assert err <= 1e-15, f"load({name}, invert=True) vs (1 - value/255) normalised: {err!r}"


@pytest.mark.parametrize(("k", "shape"), [(1, (32, 32)), (2, (16, 16)), (3, (11, 11)), (5, (7, 7)), (32, (1, 1)), (40, (1, 1))])
def test_load_downscale_shape_and_block_sums(k, shape):
    full = imgdist.load(data("camera_32.png"))
    small = imgdist.load(data("camera_32.png"), downscale=k)
    assert small.shape == shape
    sums = np.zeros(shape)
    np.add.at(sums, (np.arange(32)[:, None] // k, np.arange(32)[None, :] // k), full)
    err = np.abs(small - sums).max()
    assert err <= 1e-14, f"downscale {k} vs block sums of the full mass: {err!r}"
    assert_close(math.fsum(small.ravel()), 1.0, 1e-14, f"sum with downscale {k}")


def test_load_array_invert_uses_largest_value():
    arr = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 6.0]])
    assert_arrays_same(imgdist.load(arr), arr / 16.0, "load(array)")
    assert_arrays_same(imgdist.load(arr, invert=True), (6.0 - arr) / 20.0, "invert: max - value")
    shape = imgdist.load(np.ones((5, 7)), downscale=2).shape
    assert shape == (3, 4), shape


@needs_pil
def test_load_rgb_and_16bit():
    rgb = imgdist.load(data("camera_32_rgb.png"))
    with Image.open(data("camera_32_rgb.png")) as img:
        px = np.asarray(img, dtype=np.float64) / 255.0
    luma = 0.2126 * px[..., 0] + 0.7152 * px[..., 1] + 0.0722 * px[..., 2]
    err = np.abs(rgb - luma / luma.sum()).max()
    assert err <= 1e-15, f"Rec. 709 luma: {err!r}"
    sixteen = imgdist.load(data("camera_16bit_64.png"))
    assert sixteen.shape == (64, 64)
    assert_close(math.fsum(sixteen.ravel()), 1.0, 1e-14, "16-bit sum")


def test_max_pixels_boundary():
    assert imgdist.load(data("camera_32.png"), max_pixels=1024).shape == (32, 32)
    assert imgdist.load(np.ones((32, 32)), max_pixels=1024).shape == (32, 32)
    assert imgdist.DEFAULT_MAX_PIXELS == 2**26


# pairwise() ---------------------------------------------------------------------------------


def _pairwise_inputs():
    img = Image.open(data("text_32.png"))
    img.load()
    return [
        data("camera_32.png"),
        Path(data("coins_32.png")),
        Path(data("moon_32.png")).read_bytes(),
        img,
        np.loadtxt(data("data32_1001.csv"), delimiter=","),
    ]


PAIRWISE = [
    ("tv", {}),
    ("kl", {}),
    ("kl", {"eps": 1e-4}),
    ("js", {}),
    ("hellinger", {}),
    ("blur_l2", {"sigma": 3.0}),
    ("sliced", {"proj": 30, "seed": 11}),
    ("sliced", {"proj": 30, "p": 2.0, "angles": "random"}),
    ("emd", {}),
    ("emd", {"ground": "sqeuclidean", "invert": True, "downscale": 2}),
]


@needs_pil
@pytest.mark.parametrize(("metric", "params"), PAIRWISE, ids=[f"{m}-{p}" for m, p in PAIRWISE])
def test_pairwise_entries_are_the_metric(metric, params):
    inputs = _pairwise_inputs()
    n = len(inputs)
    name = CLI_METRIC[metric]
    matrix = imgdist.pairwise(inputs, name, **params)
    assert isinstance(matrix, np.ndarray) and matrix.dtype == np.float64
    assert matrix.shape == (n, n)
    fn = getattr(imgdist, metric)
    for i in range(n):
        assert matrix[i, i] == 0.0, f"diagonal [{i},{i}] = {matrix[i, i]!r}"
        assert abs(fn(inputs[i], inputs[i], **params)) <= 1e-12
        for j in range(i + 1, n):
            assert_same(float(matrix[i, j]), fn(inputs[i], inputs[j], **params), f"[{i},{j}]")
            backwards = fn(inputs[j], inputs[i], **params)
            if metric == "kl":  # computed both ways
                assert_same(float(matrix[j, i]), backwards, f"[{j},{i}]")
            else:  # computed once and mirrored; the other order agrees to rounding
                assert_same(float(matrix[j, i]), float(matrix[i, j]), f"mirror [{j},{i}]")
                if math.isfinite(backwards):
                    assert_close(float(matrix[j, i]), backwards, 1e-12, f"[{j},{i}] vs {metric}(j, i)")
    if metric == "kl":
        assert not np.array_equal(matrix, matrix.T), "kl is not symmetric"
    one = imgdist.pairwise(inputs, name, **params, jobs=1)
    two = imgdist.pairwise(inputs, name, **params, jobs=2)
    assert_arrays_same(one, matrix, "jobs=1 vs default")
    assert_arrays_same(two, matrix, "jobs=2 vs default")


def test_pairwise_defaults_and_sizes():
    inputs = [data("camera_32.png"), data("camera_64.png"), data("text_32.png")]
    matrix = imgdist.pairwise(inputs)  # sliced, defaults: grids of different sizes are fine
    for i in range(3):
        for j in range(i + 1, 3):
            assert_same(float(matrix[i, j]), imgdist.sliced(inputs[i], inputs[j]), f"[{i},{j}]")
            assert_same(float(matrix[j, i]), float(matrix[i, j]), f"mirror [{j},{i}]")
    assert imgdist.pairwise(inputs[:1]).shape == (1, 1)
    assert imgdist.pairwise(inputs[:1])[0, 0] == 0.0
    # A tuple is a sequence of inputs as well.
    pair = imgdist.pairwise(tuple(inputs[::2]), "emd")
    assert_same(float(pair[0, 1]), imgdist.emd(inputs[0], inputs[2]), "tuple input")
    assert_same(float(pair[1, 0]), float(pair[0, 1]), "tuple input, mirrored")


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux")
def test_file_names_that_are_not_utf8(tmp_path):
    """A name Python can only spell with surrogate escapes opens as with `open()`."""
    name = os.fsdecode(b"caf\xe9.png")
    shutil.copy(data("camera_32.png"), tmp_path / name)
    path = str(tmp_path / name)
    expected = imgdist.tv(data("camera_32.png"), data("coins_32.png"))
    assert imgdist.tv(path, data("coins_32.png")) == expected
