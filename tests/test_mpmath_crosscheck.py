"""An independent numeric cross-check of the seed goldens: mpmath at 50 digits, at the exact
float inputs stored in each grid, gradients by mpmath.diff at raised precision. It shares no code
with either Wolfram Language engine, so it catches a wrong formula the two-precision
certification cannot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import mpmath
import numpy as np
import pytest

from gradgold.golden import read_golden

SEED = Path(__file__).resolve().parents[1] / "golden" / "seed"
DIGITS = 25

Matrix = list[list[mpmath.mpf]]


def _matmul(a: Matrix, b: Matrix) -> Matrix:
    return [[mpmath.fsum(a[i][k] * b[k][j] for k in range(2)) for j in range(2)] for i in range(2)]


def _matrix_norm(W: Matrix, Z: Matrix) -> mpmath.mpf:
    g1 = [[3 * W[i][j] + mpmath.cos(Z[i][j]) for j in range(2)] for i in range(2)]
    g2 = _matmul(W, W)
    g2 = [[g2[i][j] + mpmath.sin(2 * Z[i][j]) for j in range(2)] for i in range(2)]
    prod = _matmul(g1, g2)
    return mpmath.sqrt(
        mpmath.fsum((mpmath.exp(g1[i][j]) + prod[i][j]) ** 2 for i in range(2) for j in range(2))
    )


# Each seed case as a function of the flat list of its inputs, in parameter order.
FUNCTIONS: dict[str, Callable[[Sequence[mpmath.mpf]], mpmath.mpf]] = {
    "linear": lambda x: x[0] + 2 * x[1],
    "sine": lambda x: x[0] + mpmath.sin(2 * x[1]),
    "exp_cos": lambda x: mpmath.exp(3 * x[0] + mpmath.cos(x[1])) + 3 * (x[0] ** 2 + mpmath.sin(2 * x[1])),
    "matrix_norm": lambda x: _matrix_norm([x[0:2], x[2:4]], [x[4:6], x[6:8]]),
}


def _partial(f: Callable[[Sequence[mpmath.mpf]], mpmath.mpf], x: list[mpmath.mpf], k: int) -> mpmath.mpf:
    with mpmath.workdps(90):
        return mpmath.diff(lambda t: f([*x[:k], t, *x[k + 1 :]]), x[k])


def _agree(stored: str, exact: mpmath.mpf) -> bool:
    ref = mpmath.mpf(stored)
    error = abs(ref - exact)
    return bool(error <= max(abs(exact), mpmath.mpf(1)) * mpmath.mpf(10) ** (-DIGITS))


@pytest.mark.parametrize("case", sorted(FUNCTIONS))
def test_golden_agrees_with_mpmath(case: str) -> None:
    golden = read_golden(SEED / f"{case}.npz")
    params = [p for p, _ in golden.meta.params]
    f = FUNCTIONS[case]
    failures = []
    with mpmath.workdps(50):
        for grid, data in golden.grids.items():
            for i in range(data.n_points):
                flat = np.concatenate([data.inputs[p][i].ravel() for p in params])
                x = [mpmath.mpf(float(v)) for v in flat]  # exact: a float64 is a binary rational
                checks = [("value", (), f(x), str(data.digits["value"][i]))]
                start = 0
                for p in params:
                    digits = np.asarray(data.digits[f"grad/{p}"][i])
                    for j, index in enumerate(np.ndindex(digits.shape)):
                        checks.append((f"grad/{p}", index, _partial(f, x, start + j), str(digits[index])))
                    start += digits.size
                failures += [
                    f"{case} [{grid}], point {i}, {q}, index {index}: golden {stored}, "
                    f"mpmath {mpmath.nstr(exact, 40)}"
                    for q, index, exact, stored in checks
                    if not _agree(stored, exact)
                ]
    assert not failures, "the golden disagrees with mpmath beyond 1e-25:\n" + "\n".join(failures)
