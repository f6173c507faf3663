"""Proven rounding of a ball to float64, and the golden's digits and certified-digit count.

A float64 is stored only when both ends of the ball round to it (round to nearest, ties to even);
an exact ball (radius 0) is rounded exactly, so a tie is decided as IEEE 754 decides it. A ball wholly
beyond the float64 range stores the infinity round-to-nearest gives. The digits written are the
ball's midpoint; the certified count is how many significant digits the radius proves.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

from flint import arb

from ...exact import certified_float
from .balls import NeedPrecision

__all__ = ["Rounded", "exact_tie", "round_ball", "to_fraction"]

#: |x| at or above this rounds to infinity under round-to-nearest (2^1024 - 2^970).
_OVERFLOW = Fraction(2**1024 - 2**970)

#: Digit strings are cut at this many significant digits (an exact dyadic can need hundreds).
MAX_DIGITS = 120

Rounded = tuple[float, str, int]


def to_fraction(x: arb) -> Fraction:
    """The exact rational value of an exact ball (a midpoint or an endpoint: a dyadic number)."""
    man, exp = x.man_exp()
    m, e = int(man), int(exp)
    return Fraction(m * 2**e) if e >= 0 else Fraction(m, 2**-e)


def _nearest(q: Fraction) -> float:
    """The float64 nearest ``q`` (ties to even), infinities beyond the range."""
    sign = -1.0 if q < 0 else 1.0
    if abs(q) >= _OVERFLOW:
        return math.copysign(math.inf, sign)
    if q == 0:
        return 0.0
    if abs(q) < Fraction(1, 2**1100):  # far below half the smallest subnormal
        return math.copysign(0.0, sign)
    return q.numerator / q.denominator  # int/int true division is correctly rounded (half even)


def round_ball(x: arb, precision: int, where: str) -> Rounded:
    """(float64, digits, certified digits) for a ball, or :class:`NeedPrecision` when its ends
    round to different float64s (or its radius certifies fewer than ``precision`` digits would
    need to decide them)."""
    if not x.is_finite():
        raise NeedPrecision(f"{where}: the ball is not finite ({x.str(5)})")
    mid = to_fraction(x.mid())
    if x.rad() == 0:
        value = _nearest(mid)
        return value, _digits(mid, MAX_DIGITS), precision
    lo, hi = to_fraction(x.lower()), to_fraction(x.upper())
    a, b = _nearest(lo), _nearest(hi)
    if a != b:
        raise NeedPrecision(f"{where}: the ball {x.str(5)} straddles a float64 rounding boundary")
    if a == 0 and x.contains(0):  # both ends round to zero and 0 is inside: no digit is known
        return 0.0, "0", precision
    rad = to_fraction(x.rad())
    certified = _certified(mid, rad, precision)
    digits = _digits(mid, certified + 5)
    # What verify re-checks: the printed digits, widened by their certified count, decide ``a``.
    if certified_float(Decimal(digits), certified) != a:
        raise NeedPrecision(f"{where}: {certified} certified digits do not decide the float64")
    return a, digits, certified


def _certified(mid: Fraction, rad: Fraction, cap: int) -> int:
    """Significant digits the radius proves: the largest n <= cap with rad <= |mid| 10^-n (less
    one for the rounding of the printed digits)."""
    if mid == 0:
        return 0
    rel = rad / abs(mid)
    if rel == 0:
        return cap
    n = math.floor(-math.log10(rel.numerator) + math.log10(rel.denominator)) - 1
    return max(0, min(cap, n))


def _digits(q: Fraction, significant: int) -> str:
    """``q`` as a decimal string of ``significant`` digits (or fewer when exact)."""
    with localcontext() as ctx:
        ctx.prec = max(significant, 1)
        d = Decimal(q.numerator) / Decimal(q.denominator)
        return str(d.normalize()) if d != 0 else "0"


def exact_tie(digits: str, stored: float) -> bool:
    """Whether ``digits`` spell exactly the midpoint between two adjacent float64s and ``stored``
    is its round-half-even rounding (a tie, which only an exact value can decide)."""
    try:
        q = Fraction(Decimal(digits))
    except (ArithmeticError, ValueError):
        return False
    if not math.isfinite(stored) or q == 0:
        return False
    f = _nearest(q)
    if f != stored:
        return False
    other = math.nextafter(f, math.inf if q > Fraction(f) else -math.inf)
    return Fraction(f) + Fraction(other) == 2 * q
