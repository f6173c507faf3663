"""Comparing what torch computed with the exact reference, and saying how they differ.

Every element is judged on its own scale, never on its neighbours', by the rule of
:mod:`gradgold.tolerance` (its one owner: R and A per dtype, conditioning, magnitudes of terms).
An infinite reference (the rounding of an exact value beyond the float64 range) is matched
exactly: only the same infinity passes.

The report follows torch.testing: mismatched elements k / n, greatest absolute, relative and ULP
difference with their index, the allowance there, then a short table of the worst elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .tolerance import allowance, spacing

__all__ = ["Comparison", "Criterion", "compare", "compare_exact", "criterion", "judge"]

_TABLE_ROWS = 8


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one quantity at one point."""

    passed: bool
    n: int
    mismatched: int
    max_abs_err: float
    max_rel_err: float
    max_ulp_err: float
    worst_index: tuple[int, ...]
    allowed_abs: float
    allowed_rel: float
    table: str
    #: Elements that passed only thanks to the absolute (magnitude) part of their allowance.
    absolute_used: int = 0
    #: |got - ref| at the worst element, and the allowance there.
    worst_err: float = 0.0

    def summary(self) -> str:
        """The torch.testing-style lines of a mismatch."""
        pct = 100.0 * self.mismatched / max(self.n, 1)
        return (
            f"Mismatched elements: {self.mismatched} / {self.n} ({pct:.1f}%)\n"
            f"Worst element (furthest beyond its allowance): index {self.worst_index}, difference "
            f"{self.worst_err:.6g}, allowed {self.allowed_abs:.3g}\n"
            f"Greatest absolute difference: {self.max_abs_err:.6g}\n"
            f"Greatest relative difference: {self.max_rel_err:.6g} (up to {self.allowed_rel:.3g} allowed)\n"
            f"Greatest difference in ULPs: {self.max_ulp_err:.4g}\n"
            f"{self.table}"
        )


@dataclass(frozen=True)
class Criterion:
    """What one quantity at one point must meet, prepared once from its reference: every array of
    :func:`compare` that does not depend on torch's result. The checks of every execution mode
    judge the same reference, so the checker prepares it once per golden, dtype, point and quantity
    (:func:`criterion`) and only the part that reads torch's result runs per mode (:func:`judge`)."""

    ref: npt.NDArray[np.float64]
    #: Each element's allowance: ``total`` (capped at the largest float64, 0 at an infinite
    #: reference), its ``relative`` part (R: conditioning and subnormal floor included), and
    #: ``total`` plus 1e-300 (the denominator that ranks elements by how far beyond it they are).
    allowed: npt.NDArray[np.float64]
    relative: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    #: Where the reference is infinite (matched exactly), or None where no element is.
    infinite: npt.NDArray[np.bool_] | None
    rtol: float
    #: The unit in the last place of each reference element in the dtype (:func:`tolerance.spacing`).
    ulp: npt.NDArray[np.float64]
    #: ``|ref|``.
    size: npt.NDArray[np.float64]


def criterion(
    ref: npt.NDArray[np.float64],
    dtype: str,
    rtol_ulps: float | None = None,
    atol_ulps: float | None = None,
    cond: npt.NDArray[np.float64] | None = None,
    magnitude: npt.NDArray[np.float64] | None = None,
) -> Criterion:
    """The :class:`Criterion` of a reference checked in ``dtype``: ``cond`` and ``magnitude`` (same
    shape, >= 0) are the conditioning and the magnitude of terms of :mod:`gradgold.tolerance`
    (None: 0, and ``|ref|``)."""
    allow = allowance(ref, dtype, rtol_ulps, atol_ulps, cond, magnitude)
    relative = allow.relative
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # (an infinite allowance, from an overflowing conditioning, still never passes an infinity)
        allowed = np.minimum(allow.total, np.finfo(np.float64).max)
        infinite = np.isinf(ref)
        if infinite.any():
            # An infinite reference (an exact value beyond the float64 range) is matched exactly.
            allowed = np.where(infinite, 0.0, allowed)
            relative = np.where(infinite, 0.0, relative)
        denominator = allowed + 1e-300
        ulp = spacing(ref, dtype)
    hits = infinite if infinite.any() else None
    return Criterion(ref, allowed, relative, denominator, hits, allow.rtol, ulp, np.abs(ref))


def compare(
    got: npt.NDArray[np.float64],
    ref: npt.NDArray[np.float64],
    dtype: str,
    rtol_ulps: float | None = None,
    atol_ulps: float | None = None,
    cond: npt.NDArray[np.float64] | None = None,
    magnitude: npt.NDArray[np.float64] | None = None,
) -> Comparison:
    """Compare ``got`` (torch's result, as float64) with the reference of the same shape; ``cond``
    and ``magnitude`` (same shape, >= 0) are the conditioning and the magnitude of terms of
    :mod:`gradgold.tolerance` (None: 0, and ``|ref|``). A complex dtype is compared part by part,
    in the dtype of its parts."""
    return judge(got, criterion(ref, dtype, rtol_ulps, atol_ulps, cond, magnitude))


def judge(got: npt.NDArray[np.float64], crit: Criterion) -> Comparison:
    """Compare ``got`` (torch's result, as float64, the reference's shape) with a prepared
    :class:`Criterion`: :func:`compare`'s outcome, for the part of the work that reads ``got``."""
    ref, allowed, relative = crit.ref, crit.allowed, crit.relative
    if not ref.size:
        return Comparison(True, 0, 0, 0.0, 0.0, 0.0, (), 0.0, crit.rtol, "")
    # One pass of numpy calls, each over the whole array: the checker compares every quantity at
    # every point in every mode, so this function's constant cost is most of the checker's own.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(got - ref)
        if crit.infinite is not None:
            diff = np.where(crit.infinite, np.where(got == ref, 0.0, np.inf), diff)
        ok = diff <= allowed  # NaN compares False: a mismatch
        mismatched = ref.size - int(np.count_nonzero(ok))
        absolute_used = int(np.count_nonzero(ok & (diff > relative)))
        max_abs = float(diff.max())  # NaN if any element is (max propagates NaN), else the max
        finite = math.isfinite(max_abs)
        # Worst element: the one furthest beyond its allowance (NaN counts as infinitely far).
        excess = diff / crit.denominator
        if not finite:
            excess = np.where(np.isnan(diff), np.inf, excess)
        flat = int(np.argmax(excess))
        ulp_diff = diff / crit.ulp  # diff >= 0 (or NaN): it is its own absolute value
        if finite:
            # diff / |ref|, 0 where diff is 0 and infinite where ref alone is 0.
            rel = np.divide(diff, crit.size, out=np.zeros_like(diff), where=diff != 0)
            max_rel, max_ulp = float(rel.max()), float(ulp_diff.max())
        else:
            max_abs = max_rel = max_ulp = float("nan")
    worst = tuple(int(i) for i in np.unravel_index(flat, ref.shape)) if ref.shape else ()
    return Comparison(
        passed=not mismatched,
        n=int(ref.size),
        mismatched=mismatched,
        max_abs_err=max_abs,
        max_rel_err=max_rel,
        max_ulp_err=max_ulp,
        worst_index=worst,
        allowed_abs=float(allowed.flat[flat]),
        allowed_rel=crit.rtol,
        table=_table(got, ref, diff, ulp_diff, np.where(ok, -np.inf, excess), allowed) if mismatched else "",
        absolute_used=absolute_used,
        worst_err=float(diff.flat[flat]),
    )


def compare_exact(got: npt.NDArray[np.float64], expected: npt.NDArray[np.float64]) -> Comparison:
    """Exact equality, NaN equal to NaN: for results a case declares at a point where the derivative
    does not exist (a NaN, an infinity, a chosen subgradient), where no tolerance makes sense."""
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    bad = ~same
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(got - expected))
    diff = np.where(np.isnan(diff), np.inf, diff)
    flat = int(np.argmax(np.where(bad, 1.0, 0.0))) if expected.size else 0
    worst = tuple(int(i) for i in np.unravel_index(flat, expected.shape)) if expected.shape else ()
    return Comparison(
        passed=not bool(np.any(bad)),
        n=int(expected.size),
        mismatched=int(np.count_nonzero(bad)),
        max_abs_err=float(np.max(diff)) if diff.size else 0.0,
        max_rel_err=float("nan"),
        max_ulp_err=float("nan"),
        worst_index=worst,
        allowed_abs=0.0,
        allowed_rel=0.0,
        table=_table(
            got, expected, diff, np.zeros_like(diff), np.where(bad, diff, -np.inf), np.zeros_like(diff)
        ),
        worst_err=float(diff.flat[flat]) if expected.size else 0.0,
    )


def _table(
    got: npt.NDArray[np.float64],
    ref: npt.NDArray[np.float64],
    diff: npt.NDArray[np.float64],
    ulp_diff: npt.NDArray[np.float64],
    excess: npt.NDArray[np.float64],
    allowed: npt.NDArray[np.float64],
) -> str:
    """The mismatched elements (``excess`` is -inf elsewhere), furthest beyond their allowance
    first, each with its own allowance."""
    order = [k for k in np.argsort(-excess.ravel(), kind="stable")[:_TABLE_ROWS] if excess.flat[k] > -np.inf]
    rows = [f"  {'index':<12} {'obtained':>24} {'expected':>24} {'abs diff':>10} {'allowed':>10} {'ULPs':>9}"]
    for k in order:
        idx = tuple(int(i) for i in np.unravel_index(int(k), ref.shape)) if ref.shape else ()
        rows.append(
            f"  {idx!s:<12} {float(got.flat[k])!r:>24} {float(ref.flat[k])!r:>24} "
            f"{diff.flat[k]:>10.3g} {allowed.flat[k]:>10.3g} {ulp_diff.flat[k]:>9.3g}"
        )
    return "\n".join(rows)
