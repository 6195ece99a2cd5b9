"""Generate high-precision blur-l2 values for kernels far wider than the image.

Produces ``mpmath_blur_wide.json`` next to this script: for a few small integer matrices
(normalised exactly, as rationals) and σ from 9 to 1e300, the value of

    sqrt(Σ (G_σ a − G_σ b)²)

with G_σ the separable Gaussian filter truncated at R = ⌊4σ + ½⌋, normalised to sum 1, with the
reflecting boundary ``d c b a | a b c d | d c b a`` (scipy.ndimage.gaussian_filter, mode
'reflect', truncate 4). Each axis's 2R + 1 taps are summed per residue class modulo the
reflection's period 2n: directly while a class has fewer than 2000 taps, else by mpmath's own
Euler–Maclaurin summation (``mpmath.sumem``), all at 50 + log10(σ) significant digits, so the
ripple that carries the value when σ ≫ n is resolved.

    python tests/reference/make_blur_reference.py

Requires mpmath (the version used is recorded in the JSON). About a minute, most of it σ = 1e300.
"""

import json
import math
import pathlib

import mpmath as mp

CASES = {
    "7x5": (
        [[1, 10, 7, 5, 12], [4, 6, 7, 6, 6], [5, 9, 7, 8, 3], [6, 8, 10, 7, 6],
         [8, 7, 2, 8, 9], [9, 5, 5, 8, 7], [9, 6, 10, 5, 7]],
        [[7, 9, 10, 4, 8], [6, 2, 6, 4, 6], [7, 7, 5, 7, 10], [7, 11, 6, 11, 8],
         [5, 10, 5, 7, 5], [4, 7, 7, 6, 10], [7, 6, 5, 9, 3]],
    ),
    "1x6": ([[11, 9, 12, 14, 9, 9]], [[13, 7, 9, 15, 9, 11]]),
    "4x1": ([[15], [22], [14], [13]], [[18], [12], [21], [13]]),
}
SIGMAS = ["9", "40", "300", "1e5", "1e9", "1e15", "1e100", "1e300"]


def value(a, b, sigma_text):
    mp.mp.dps = int(50 + max(0.0, math.log10(float(sigma_text))))
    sigma = mp.mpf(sigma_text)
    radius = int(4 * float(sigma_text) + 0.5)
    ta, tb = sum(map(sum, a)), sum(map(sum, b))
    d = [[mp.mpf(x) / ta - mp.mpf(y) / tb for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
    rows, cols = len(d), len(d[0])

    def gauss(k):
        return mp.exp(-((k / sigma) ** 2) / 2)

    def class_sum(r, h):
        lo, hi = -((radius + r) // h), (radius - r) // h
        if hi - lo < 2000:
            return mp.fsum(gauss(r + m * h) for m in range(lo, hi + 1))
        return mp.sumem(lambda m: gauss(r + m * h), [lo, hi])

    def folded(n):
        h = 2 * n
        s = [class_sum(r, h) for r in range(h)]
        total = mp.fsum(s)
        return [x / total for x in s]

    def reflect(m, n):
        m %= 2 * n
        return m if m < n else 2 * n - 1 - m

    def filt(line, s):
        n = len(line)
        return [mp.fsum(s[r] * line[reflect(i + r, n)] for r in range(2 * n)) for i in range(n)]

    s0, s1 = folded(rows), folded(cols)
    once = [filt(row, s1) for row in d]
    twice = [filt([once[i][j] for i in range(rows)], s0) for j in range(cols)]
    return mp.sqrt(mp.fsum(x * x for col in twice for x in col))


def main():
    out = {"generator": "make_blur_reference.py", "mpmath": mp.__version__, "cases": []}
    for name, (a, b) in CASES.items():
        values = [{"sigma": float(s), "value": mp.nstr(value(a, b, s), 25)} for s in SIGMAS]
        out["cases"].append({"name": name, "a": a, "b": b, "blur_l2": values})
        print(name, [v["value"] for v in values])
    path = pathlib.Path(__file__).with_name("mpmath_blur_wide.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
