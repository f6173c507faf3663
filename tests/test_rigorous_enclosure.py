"""Rigour: for random points and every function head the evaluator supports, the value and first two
derivatives computed by mpmath at three times the working precision lie inside the balls."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import mpmath
import pytest
from flint import arb, arb_series, ctx, fmpz
from hypothesis import given, settings
from hypothesis import strategies as st

from gradgold.generation.rigorous.balls import UNARY_HEADS, coefficient, special, unary

PREC = 120  # bits of the balls
ORDER = 2

M = mpmath
UNARY: dict[str, tuple[Callable[[Any], Any], float, float]] = {
    "Exp": (M.exp, -20, 20),
    "Log": (M.log, 0.01, 50),
    "Sin": (M.sin, -10, 10),
    "Cos": (M.cos, -10, 10),
    "Tan": (M.tan, -1.4, 1.4),
    "Sinh": (M.sinh, -10, 10),
    "Cosh": (M.cosh, -10, 10),
    "Tanh": (M.tanh, -10, 10),
    "ArcSin": (M.asin, -0.99, 0.99),
    "ArcCos": (M.acos, -0.99, 0.99),
    "ArcTan": (M.atan, -10, 10),
    "ArcSinh": (M.asinh, -10, 10),
    "ArcCosh": (M.acosh, 1.01, 10),
    "ArcTanh": (M.atanh, -0.99, 0.99),
    "Sqrt": (M.sqrt, 0.01, 100),
    "Erf": (M.erf, -5, 5),
    "Erfc": (M.erfc, -5, 5),
    "InverseErf": (M.erfinv, -0.99, 0.99),
    "InverseErfc": (lambda x: M.erfinv(1 - x), 0.01, 1.99),
    "Gamma": (M.gamma, 0.1, 10),
    "LogGamma": (M.loggamma, 0.1, 50),
    "Zeta": (M.zeta, 1.1, 10),
    "ExpIntegralEi": (M.ei, 0.1, 10),
    "LogisticSigmoid": (lambda x: 1 / (1 + M.exp(-x)), -10, 10),
    "Abs": (abs, 0.01, 10),
    "Sign": (M.sign, 0.01, 10),
}

SPECIAL: dict[str, tuple[Callable[..., Any], list[Fraction], float, float]] = {
    "BesselJ": (M.besselj, [Fraction(1)], 0.1, 20),
    "BesselY": (M.bessely, [Fraction(0)], 0.1, 20),
    "BesselI": (M.besseli, [Fraction(2)], 0.1, 10),
    "BesselK": (M.besselk, [Fraction(1)], 0.1, 10),
    "PolyGamma": (M.polygamma, [Fraction(2)], 0.1, 20),
    "Hypergeometric2F1": (
        lambda a, b, c, z: M.hyp2f1(a, b, c, z),
        [Fraction(1, 2), Fraction(1, 3), Fraction(3, 2)],
        -0.9,
        0.9,
    ),
    "Zeta": (M.zeta, [Fraction(3)], 0.5, 5),
}


def test_every_unary_head_is_covered() -> None:
    assert set(UNARY) == set(UNARY_HEADS)


def _exact(v: Any) -> arb:
    """An mpmath number as an exact ball (its binary mantissa and exponent)."""
    sign, man, exp, _ = M.mpf(v)._mpf_
    return (-1) ** sign * arb(fmpz(int(man))) * arb(2) ** int(exp)


def _inside(ball: arb, v: Any) -> bool:
    # mpmath's own error at 3 x PREC bits, far below the ball's radius at PREC bits
    old, ctx.prec = ctx.prec, 4 * PREC  # the comparison itself rounds nothing
    try:
        slack = arb(0, abs(float(v)) * 2.0 ** (-3 * PREC + 20) + 2.0 ** (-3 * PREC))
        return bool((ball + slack).contains(_exact(v)))
    finally:
        ctx.prec = old


def _check(series: arb_series, f: Callable[[Any], Any], x: float) -> None:
    xm = M.mpf(x)
    want = [f(xm), M.diff(f, xm, 1), M.diff(f, xm, 2) / 2]
    for k, w in enumerate(want):
        c = coefficient(series, k)
        assert _inside(c, w), (k, c.str(30), M.nstr(w, 30))


@pytest.mark.parametrize("head", sorted(UNARY))
@settings(max_examples=6, deadline=None)
@given(u=st.floats(0, 1))
def test_unary_heads_enclose_mpmath(head: str, u: float) -> None:
    f, lo, hi = UNARY[head]
    x = lo + (hi - lo) * u
    ctx.prec, ctx.cap = PREC, ORDER + 1
    M.mp.prec = 3 * PREC
    try:
        _check(unary(head, arb_series([arb(x), 1])), f, x)
    finally:
        M.mp.prec = 53


@pytest.mark.parametrize("head", sorted(SPECIAL))
@settings(max_examples=5, deadline=None)
@given(u=st.floats(0, 1))
def test_special_heads_enclose_mpmath(head: str, u: float) -> None:
    f, consts, lo, hi = SPECIAL[head]
    x = lo + (hi - lo) * u
    ctx.prec, ctx.cap = PREC, ORDER + 1
    M.mp.prec = 3 * PREC
    try:
        args = [M.mpf(c.numerator) / c.denominator for c in consts]
        series = special(head, [*consts, arb_series([arb(x), 1])])
        _check(series, lambda t: f(*args, t), x)
    finally:
        M.mp.prec = 53
