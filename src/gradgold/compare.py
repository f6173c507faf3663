"""Comparing what torch computed with the exact reference, and saying how they differ.

Tolerances are in units of the checked dtype's machine epsilon (ULPs at 1.0): an element passes
when ``|got - ref| <= rtol * |ref| + atol * max|ref|``, with ``rtol = rtol_ulps * eps`` and
``atol = atol_ulps * eps``. The ``max|ref|`` term is the absolute floor of a quantity, so an
element that is zero in exact arithmetic may carry the rounding error its neighbours do. The
report follows torch.testing: mismatched elements k / n, greatest absolute, relative and ULP
difference with their index, then a short table of the worst elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_ATOL_ULPS", "DEFAULT_RTOL_ULPS", "Comparison", "compare", "eps_of", "ulps"]

#: Machine epsilon (spacing at 1.0) and smallest normal of each dtype the checker runs.
_FLOAT_INFO: dict[str, tuple[float, float]] = {
    "float64": (2.0**-52, 2.0**-1022),
    "float32": (2.0**-23, 2.0**-126),
    "float16": (2.0**-10, 2.0**-14),
    "bfloat16": (2.0**-7, 2.0**-126),
}

#: Default relative tolerance, in ULPs of the dtype. Calibration: see README "Tolerances".
DEFAULT_RTOL_ULPS: dict[str, float] = {
    "float64": 64.0,
    "float32": 64.0,
    "float16": 16.0,
    "bfloat16": 16.0,
}
#: Default absolute floor, in ULPs of the quantity's largest reference element.
DEFAULT_ATOL_ULPS: dict[str, float] = {
    "float64": 16.0,
    "float32": 16.0,
    "float16": 4.0,
    "bfloat16": 4.0,
}

_TABLE_ROWS = 8


def eps_of(dtype: str) -> float:
    return _FLOAT_INFO[dtype][0]


def ulps(diff: npt.NDArray[np.float64], ref: npt.NDArray[np.float64], dtype: str) -> npt.NDArray[np.float64]:
    """``diff`` in units in the last place of ``ref`` in ``dtype`` (subnormal spacing below tiny)."""
    eps, tiny = _FLOAT_INFO[dtype]
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

    def summary(self) -> str:
        """The torch.testing-style lines of a mismatch."""
        pct = 100.0 * self.mismatched / max(self.n, 1)
        return (
            f"Mismatched elements: {self.mismatched} / {self.n} ({pct:.1f}%)\n"
            f"Greatest absolute difference: {self.max_abs_err:.6g} at index {self.worst_index} "
            f"(up to {self.allowed_abs:.3g} allowed)\n"
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
) -> Comparison:
    """Compare ``got`` (torch's result, as float64) with the reference of the same shape."""
    eps = eps_of(dtype)
    rtol = (DEFAULT_RTOL_ULPS[dtype] if rtol_ulps is None else rtol_ulps) * eps
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    atol = (DEFAULT_ATOL_ULPS[dtype] if atol_ulps is None else atol_ulps) * eps * scale
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(got - ref)
        bad = ~(diff <= atol + rtol * np.abs(ref))  # NaN compares False: a mismatch
        rel = np.where(
            ref != 0, diff / np.abs(np.where(ref != 0, ref, 1.0)), np.where(diff == 0, 0.0, np.inf)
        )
        in_ulps = ulps(diff, ref, dtype)
    # Worst element: the one furthest beyond its allowance (NaN counts as infinitely far).
    excess = np.where(np.isnan(diff), np.inf, diff / (atol + rtol * np.abs(ref) + 1e-300))
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
        allowed_abs=atol + rtol * (abs(float(ref.flat[flat])) if ref.size else 0.0),
        allowed_rel=rtol,
        table=_table(got, ref, diff, in_ulps, np.where(bad, excess, -np.inf)),
    )


def _table(
    got: npt.NDArray[np.float64],
    ref: npt.NDArray[np.float64],
    diff: npt.NDArray[np.float64],
    in_ulps: npt.NDArray[np.float64],
    excess: npt.NDArray[np.float64],
) -> str:
    """The mismatched elements (``excess`` is -inf elsewhere), furthest beyond their allowance first."""
    order = [k for k in np.argsort(-excess.ravel(), kind="stable")[:_TABLE_ROWS] if excess.flat[k] > -np.inf]
    rows = [f"  {'index':<12} {'obtained':>24} {'expected':>24} {'abs diff':>10} {'ULPs':>9}"]
    for k in order:
        idx = tuple(int(i) for i in np.unravel_index(int(k), ref.shape)) if ref.shape else ()
        rows.append(
            f"  {idx!s:<12} {float(got.flat[k])!r:>24} {float(ref.flat[k])!r:>24} "
            f"{diff.flat[k]:>10.3g} {in_ulps.flat[k]:>9.3g}"
        )
    return "\n".join(rows)
