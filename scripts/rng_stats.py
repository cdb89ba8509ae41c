#!/usr/bin/env python3
"""Statistical tests of croupier's scaled draws, for scripts/rng-report.sh.

Reads the output of `croupier rng-dump` and prints one JSON object per test on stdout:
  range K FILE      values in 0..K, one per line (`rng-dump --range K --count N`)
  shuffle N FILE    permutations of 0..N, one per line (`rng-dump --shuffle N --count M`)

Tests, with SciPy's distributions (an implementation independent of croupier's code):
  chi-square   every value equally likely (K - 1 degrees of freedom)
  serial       lag-1 correlation of consecutive values, z = r * sqrt(n), two-sided
  runs         Wald-Wolfowitz runs above / below the mean, normal approximation, two-sided
  pairs        consecutive non-overlapping pairs over K*K cells (only where each cell expects
               at least 20)
  positions    for a shuffle: each item's position, in 8 equal bands, over every item
               (N * 7 degrees of freedom): every item equally likely anywhere
  first item   for a shuffle: which item comes first, over N cells (when each expects 5)
The verdict follows dieharder's: FAILED when p < 1e-6 or p > 1 - 1e-6, WEAK when p < 0.005 or
p > 0.995, PASSED otherwise. Each p-value of a sound generator is uniform on (0, 1): about one
test in a hundred is WEAK by chance.
"""

import json
import sys

import numpy as np
from scipy import stats

FAIL = 1e-6
WEAK = 0.005


def verdict(p):
    if p < FAIL or p > 1 - FAIL:
        return "FAILED"
    if p < WEAK or p > 1 - WEAK:
        return "WEAK"
    return "PASSED"


def emit(subject, test, n, statistic, p):
    print(json.dumps({"subject": subject, "test": test, "n": int(n),
                      "statistic": float(statistic), "p": float(p), "verdict": verdict(p)}))


def range_tests(k, path):
    x = np.loadtxt(path, dtype=np.int64, ndmin=1)
    n = len(x)
    subject = f"range 0..{k}"
    if n < 10 * k:
        sys.exit(f"{path}: {n} values are too few for a range of {k}")
    if x.min() < 0 or x.max() >= k:
        sys.exit(f"{path}: a value outside 0..{k}")
    counts = np.bincount(x, minlength=k)
    chi2, p = stats.chisquare(counts)
    emit(subject, "chi-square", n, chi2, p)
    a, b = x[:-1].astype(float), x[1:].astype(float)
    r = np.corrcoef(a, b)[0, 1]
    z = r * np.sqrt(n)
    emit(subject, "serial correlation (lag 1)", n, r, 2 * stats.norm.sf(abs(z)))
    above = x > (k - 1) / 2.0
    keep = x != (k - 1) / 2.0  # values exactly at the mean (odd k) belong to neither side
    s = above[keep]
    n1, n2 = int(s.sum()), int((~s).sum())
    runs = 1 + int(np.count_nonzero(s[1:] != s[:-1]))
    mean = 2.0 * n1 * n2 / (n1 + n2) + 1
    var = 2.0 * n1 * n2 * (2.0 * n1 * n2 - n1 - n2) / ((n1 + n2) ** 2 * (n1 + n2 - 1))
    z = (runs - mean) / np.sqrt(var)
    emit(subject, "runs above/below the mean", len(s), runs, 2 * stats.norm.sf(abs(z)))
    pairs = n // 2
    if pairs >= 20 * k * k:
        cells = np.bincount(x[0:2 * pairs:2] * k + x[1:2 * pairs:2], minlength=k * k)
        chi2, p = stats.chisquare(cells)
        emit(subject, "pairs", pairs, chi2, p)


def shuffle_tests(n, path):
    perms = np.loadtxt(path, dtype=np.int64, ndmin=2)
    m = perms.shape[0]
    if perms.shape[1] != n:
        sys.exit(f"{path}: permutations of {perms.shape[1]} items, expected {n}")
    if not (np.sort(perms, axis=1) == np.arange(n)).all():
        sys.exit(f"{path}: a line is not a permutation of 0..{n}")
    bands = 8
    # position of item i in each permutation: argsort of the permutation
    positions = np.argsort(perms, axis=1)
    band = positions * bands // n
    counts = np.zeros((n, bands), dtype=np.int64)
    for b in range(bands):
        counts[:, b] = (band == b).sum(axis=0)
    width = np.array([sum(1 for pos in range(n) if pos * bands // n == b) for b in range(bands)])
    expected = np.tile(width * m / n, (n, 1))
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    dof = n * (bands - 1)
    emit(f"shuffle of {n}", "positions (8 bands, every item)", m, chi2, stats.chi2.sf(chi2, dof))
    if m >= 5 * n:  # each of the n cells expects at least 5
        first = perms[:, 0]
        chi2, p = stats.chisquare(np.bincount(first, minlength=n))
        emit(f"shuffle of {n}", "first item chi-square", m, chi2, p)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("range", "shuffle"):
        sys.exit(__doc__)
    kind, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind == "range":
        range_tests(size, path)
    else:
        shuffle_tests(size, path)


if __name__ == "__main__":
    main()
