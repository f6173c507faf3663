"""Exact numbers: floats as the rationals they are, and decimals rounded to float64 with a proof.

A reference must be computed at the input torch actually receives. ``0.2`` as a float64 is
3602879701896397/18014398509481984, not 1/5, and as a float32 it is yet another rational; these
helpers make that explicit and keep it out of string pasting.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import numpy.typing as npt

__all__ = [
    "GRID_NAMES",
    "agreeing_digits",
    "bitwise_differences",
    "certified_float",
    "grid_of",
    "round_to_grid",
    "to_fraction",
    "wl_rational",
]

#: The float grids a golden can hold references for, by torch dtype name.
GRIDS: dict[str, type[np.floating]] = {
    "float64": np.float64,
    "float32": np.float32,
    "float16": np.float16,
}


#: Every grid :func:`round_to_grid` knows: those numpy has types for, and bfloat16, which it has not.
GRID_NAMES: tuple[str, ...] = ("float64", "float32", "float16", "bfloat16")

#: Complex dtypes, each with the real dtype of its two parts: a complex input is checked as the pair
#: (real part, imaginary part), so its references live on that real dtype's grid.
COMPLEX_PARTS: dict[str, str] = {"complex128": "float64", "complex64": "float32"}


def grid_of(dtype: str) -> str:
    """The grid whose references a check in ``dtype`` uses (a complex dtype: that of its parts)."""
    return COMPLEX_PARTS.get(dtype, dtype)


def round_to_grid(values: npt.NDArray[np.float64], grid: str) -> npt.NDArray[np.float64]:
    """Round float64 values to the nearest value of ``grid`` (round-half-even), as float64."""
    arr = np.asarray(values, dtype=np.float64)
    if grid == "bfloat16":
        return _round_bfloat16(arr)
    return arr.astype(GRIDS[grid]).astype(np.float64)


def _round_bfloat16(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Round to bfloat16 (float32's exponent, 8 significant bits), correctly, half to even.

    numpy has no bfloat16 and this module stays torch-free, so the rounding works on float32 bits:
    add half the weight of the 16 dropped bits, plus the lowest kept bit (ties to even), then drop
    them. Going through float32 must not round twice: an inexact float32 with an even last bit is
    moved one step towards the exact value (round-to-odd), so a float32 that lands on a bfloat16
    tie still says on which side the exact value lay. (torch's own float64 -> bfloat16 conversion
    rounds twice; the checker feeds the stored, already rounded inputs, so only this choice counts.)
    """
    with np.errstate(over="ignore"):
        f32 = values.astype(np.float32)
    bits = f32.view(np.uint32).astype(np.int64)
    wide = f32.astype(np.float64)
    step = np.where(np.abs(wide) < np.abs(values), 1, -1)  # in magnitude, towards the exact value
    fix = (wide != values) & (bits % 2 == 0) & np.isfinite(f32)
    bits = np.where(fix, bits + step, bits)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    out = rounded.view(np.float32).astype(np.float64)
    return np.where(np.isfinite(f32), out, wide)  # inf and NaN stay as they are


def bitwise_differences(
    ours: npt.NDArray[np.float64], theirs: npt.NDArray[np.float64]
) -> tuple[tuple[int, ...], int] | None:
    """The first index at which two float64 arrays of one shape differ bit for bit (so -0.0 is
    not 0.0 and NaNs are compared by payload), and how many elements differ; None when none does.
    Goldens are compared this way because a stored reference is one exact float64, not a range."""
    a = np.ascontiguousarray(ours, dtype=np.float64)
    b = np.ascontiguousarray(theirs, dtype=np.float64)
    bad = np.argwhere(a.view(np.uint64) != b.view(np.uint64))
    if not len(bad):
        return None
    return tuple(int(i) for i in bad[0]), len(bad)


def to_fraction(x: float) -> Fraction:
    """The exact rational value of a finite binary float."""
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return Fraction(x)


def wl_rational(x: float) -> str:
    """Wolfram Language text for the exact value of a float, e.g. ``-3602879701896397/18014398509481984``."""
    q = to_fraction(x)
    if q.denominator == 1:
        return str(q.numerator)
    return f"{q.numerator}/{q.denominator}"


def agreeing_digits(low: Decimal, high: Decimal, cap: int) -> int:
    """Significant decimal digits on which a result at two working precisions agrees.

    ``high`` was computed with more working digits than ``low``; their relative difference bounds
    the error of ``low`` (the usual certification by two precisions). Identical values count as
    ``cap``, the smaller working precision.
    """
    if low == high:
        return cap
    if high == 0:
        return 0
    with localcontext() as ctx:
        ctx.prec = 60
        rel = abs((low - high) / high)
    digits = -math.floor(float(rel.log10())) - 1
    return max(0, min(cap, digits))


def certified_float(value: Decimal, digits: int) -> float | None:
    """``value`` correctly rounded to float64, or None when its ``digits`` do not decide it.

    The true number lies within a relative 10**-digits of ``value``; the rounding is certified
    only if both ends of that interval round to the same float64.
    """
    if value == 0:
        return 0.0
    with localcontext() as ctx:
        ctx.prec = max(60, digits + 10)
        slack = abs(value) * Decimal(10) ** (-digits)
        lo, hi = float(value - slack), float(value + slack)
    return float(value) if lo == hi else None
