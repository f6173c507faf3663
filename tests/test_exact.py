"""Exact conversion of floats and certified rounding of decimals."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

from gradgold.exact import agreeing_digits, certified_float, round_to_grid, to_fraction, wl_rational


def test_floats_become_the_rationals_they_are() -> None:
    assert to_fraction(0.2) == Fraction(3602879701896397, 18014398509481984)
    assert wl_rational(0.2) == "3602879701896397/18014398509481984"
    assert wl_rational(-3.0) == "-3"
    assert wl_rational(float(np.float32(0.2))) == "13421773/67108864"
    with pytest.raises(ValueError, match="not a finite number"):
        to_fraction(float("inf"))


def test_round_to_grid_rounds_to_nearest_even() -> None:
    x = np.array([0.2, 1.0 + 2.0**-24, 1.0 + 3 * 2.0**-24])
    assert round_to_grid(x, "float32").tolist() == [float(np.float32(0.2)), 1.0, 1.0 + 2.0**-22]


def test_agreeing_digits_counts_the_common_significant_digits() -> None:
    assert agreeing_digits(Decimal("1.23456789"), Decimal("1.23456789"), 30) == 30
    assert agreeing_digits(Decimal("1.2345"), Decimal("1.2346"), 30) == 4
    assert agreeing_digits(Decimal("0.9"), Decimal("-0.9"), 30) == 0
    assert agreeing_digits(Decimal("1e-5"), Decimal("0"), 30) == 0


def test_certified_float_refuses_an_undecided_rounding() -> None:
    # 1 + 2^-53 is exactly halfway between two float64s: no number of digits short of exact decides it.
    with localcontext() as ctx:
        ctx.prec = 80
        halfway = Decimal(1) + Decimal(2) ** -53
    assert certified_float(halfway, 30) is None
    assert certified_float(Decimal("0.1000000000000000000000000000001"), 30) == 0.1
    assert certified_float(Decimal(0), 30) == 0.0
    # With few digits, a value near a float64 boundary is refused, not guessed.
    assert certified_float(Decimal("1.00000000000000011102230246"), 17) is None
