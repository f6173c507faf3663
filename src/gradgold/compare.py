"""Comparing what torch computed with the exact reference, and saying how they differ.

Every element is judged on its own scale, never on its neighbours'. Tolerances are in units of the
checked dtype's machine epsilon ``eps`` (ULPs at 1.0). Element i passes when

    |got_i - ref_i| <= eps * (rtol_ulps * (|ref_i| + cond_i) + atol_ulps * mag_i)

``cond_i`` is what the exact element would move by if each input x_j moved by a relative eps:
``sum_j |x_j| |d ref_i / d x_j|``, from the golden's next derivative order (the gradient for the
value, the Hessian for the gradient, ...). Rounding errors inside a computation act like such
input perturbations, so the allowance grows where the element is ill-conditioned (a value near a
zero made by cancellation) and nowhere else, and one ``rtol_ulps`` serves every dtype. Where the
golden holds no next order (the highest order it stores), ``cond_i`` is 0.

``mag_i`` is the element's magnitude of terms, stored with the golden where the generator computed
one (:mod:`gradgold.golden`): a cancelling sum (a reduction, a matrix product, a softmax gradient)
is rounded to about ``eps * sum |terms|`` however small its exact value. Without a stored
magnitude, ``mag_i = |ref_i|``. So a gradient wrong by 100 % at an element a million times
smaller than its neighbour fails (the rule before 2026-11 shared ``max|ref|`` across elements and
passed it). Below the dtype's range the allowance never falls under ``rtol_ulps`` subnormal
spacings. Calibration and evidence: ``bench/TOLERANCE.md`` (``bench/tolerance.py``).

The report follows torch.testing: mismatched elements k / n, greatest absolute, relative and ULP
difference with their index, the allowance there, then a short table of the worst elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .exact import grid_of

__all__ = [
    "DEFAULT_ATOL_ULPS",
    "DEFAULT_RTOL_ULPS",
    "Comparison",
    "compare",
    "compare_exact",
    "eps_of",
    "ulps",
]

#: Machine epsilon (spacing at 1.0) and smallest normal of each dtype the checker runs.
_FLOAT_INFO: dict[str, tuple[float, float]] = {
    "float64": (2.0**-52, 2.0**-1022),
    "float32": (2.0**-23, 2.0**-126),
    "float16": (2.0**-10, 2.0**-14),
    "bfloat16": (2.0**-7, 2.0**-126),
}

#: Default relative tolerance, in ULPs of the dtype. Calibration: bench/TOLERANCE.md. float16 and
#: bfloat16 are tighter in ULPs than float64/float32 because each torch op there rounds once from a
#: float32 computation (errors of a few ULPs per op), and 16 bfloat16 ULPs (12.5 %) would hide a
#: gradient wrong by 10 %.
DEFAULT_RTOL_ULPS: dict[str, float] = {
    "float64": 64.0,
    "float32": 64.0,
    "float16": 8.0,
    "bfloat16": 8.0,
}
#: Default absolute part, in ULPs of each element's magnitude of terms (its own ``|ref|`` where the
#: golden stores no magnitude).
DEFAULT_ATOL_ULPS: dict[str, float] = {
    "float64": 16.0,
    "float32": 16.0,
    "float16": 4.0,
    "bfloat16": 4.0,
}

_TABLE_ROWS = 8


def eps_of(dtype: str) -> float:
    return _FLOAT_INFO[grid_of(dtype)][0]


def ulps(diff: npt.NDArray[np.float64], ref: npt.NDArray[np.float64], dtype: str) -> npt.NDArray[np.float64]:
    """``diff`` in units in the last place of ``ref`` in ``dtype`` (subnormal spacing below tiny)."""
    eps, tiny = _FLOAT_INFO[grid_of(dtype)]
    _, exp = np.frexp(np.maximum(np.abs(ref), tiny))
    spacing = eps * np.ldexp(1.0, exp - 1)
    return np.asarray(np.abs(diff) / spacing, dtype=np.float64)


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
    and ``magnitude`` (same shape, >= 0) are the conditioning and the magnitude of terms of the
    module docstring (None: 0, and ``|ref|``)."""
    dtype = grid_of(dtype)  # a complex dtype is compared part by part, in the dtype of its parts
    eps = eps_of(dtype)
    rtol = (DEFAULT_RTOL_ULPS[dtype] if rtol_ulps is None else rtol_ulps) * eps
    atol = (DEFAULT_ATOL_ULPS[dtype] if atol_ulps is None else atol_ulps) * eps
    extra = np.zeros_like(ref) if cond is None else np.abs(np.broadcast_to(cond, ref.shape))
    mag = (
        np.abs(ref)
        if magnitude is None
        else np.maximum(np.abs(np.broadcast_to(magnitude, ref.shape)), np.abs(ref))
    )
    # Below the dtype's range the best torch can return is the subnormal nearest the truth (or 0):
    # the allowance never falls under R subnormal spacings.
    relative = rtol * (np.abs(ref) + extra + _FLOAT_INFO[dtype][1])
    allowed = relative + atol * mag
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - ref)
        bad = ~(diff <= allowed)  # NaN compares False: a mismatch
        absolute_used = int(np.count_nonzero(~bad & (diff > relative)))
        rel = np.where(
            ref != 0, diff / np.abs(np.where(ref != 0, ref, 1.0)), np.where(diff == 0, 0.0, np.inf)
        )
        in_ulps = ulps(diff, ref, dtype)
    # Worst element: the one furthest beyond its allowance (NaN counts as infinitely far).
    excess = np.where(np.isnan(diff), np.inf, diff / (allowed + 1e-300))
    flat = int(np.argmax(excess)) if ref.size else 0
    worst = tuple(int(i) for i in np.unravel_index(flat, ref.shape)) if ref.shape else ()
    return Comparison(
        passed=not bool(np.any(bad)),
        n=int(ref.size),
        mismatched=int(np.count_nonzero(bad)),
        max_abs_err=float(np.max(diff)) if np.all(np.isfinite(diff)) else float("nan"),
        max_rel_err=float(np.max(rel)) if np.all(np.isfinite(diff)) else float("nan"),
        max_ulp_err=float(np.max(in_ulps)) if np.all(np.isfinite(diff)) else float("nan"),
        worst_index=worst,
        allowed_abs=float(allowed.flat[flat]) if ref.size else 0.0,
        allowed_rel=rtol,
        table=_table(got, ref, diff, in_ulps, np.where(bad, excess, -np.inf), allowed) if np.any(bad) else "",
        absolute_used=absolute_used,
        worst_err=float(diff.flat[flat]) if ref.size else 0.0,
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
    in_ulps: npt.NDArray[np.float64],
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
            f"{diff.flat[k]:>10.3g} {allowed.flat[k]:>10.3g} {in_ulps.flat[k]:>9.3g}"
        )
    return "\n".join(rows)
