"""The tolerance rule: how far torch may be from the exact reference, element by element.

This module is the one owner of the rule; the checker (:mod:`gradgold.check`), the comparison
(:mod:`gradgold.compare`), the case validation, the report and the benchmarks read it, and nothing
else holds a tolerance number. Tolerances are in units of the checked dtype's machine epsilon
``eps`` (ULPs at 1.0). Element i passes when

    |got_i - ref_i| <= eps * (R * (|ref_i| + cond_i) + A * mag_i)

``cond_i`` (:func:`conditioning`) is what the exact element would move by if each input x_j moved
by a relative eps: ``sum_j |x_j| |d ref_i / d x_j|``, from the golden's next derivative order (the
gradient for the value, the Hessian for the gradient, ...). Rounding errors inside a computation act
like such input perturbations, so the allowance grows where the element is ill-conditioned (a value
near a zero made by cancellation) and nowhere else, and one R serves every dtype. Where the golden
holds no next order (the highest order it stores), ``cond_i`` is 0.

``mag_i`` (:func:`magnitude`) is the element's magnitude of terms, stored with the golden where the
generator computed one: a cancelling sum (a reduction, a matrix product, a softmax gradient) is
rounded to about ``eps * sum |terms|`` however small its exact value. Without a stored magnitude,
``mag_i = |ref_i|``; a ``normwise=`` case (a result of a normwise backward-stable algorithm) uses
the quantity's largest ``|ref|`` instead. So a gradient wrong by 100 % at an element a million
times smaller than its neighbour fails. Below the dtype's range the allowance never falls under R
subnormal spacings. A case's ``rtol_ulps={dtype: R}`` overrides R for that dtype
(:func:`check_overrides` refuses a key that is not a dtype, with the closest name).

Calibration and evidence: ``bench/TOLERANCE.md`` (``bench/tolerance.py``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import CaseError
from .exact import grid_of

__all__ = [
    "DEFAULT_ATOL_ULPS",
    "DEFAULT_RTOL_ULPS",
    "TOLERANCES",
    "Allowance",
    "DtypeTolerance",
    "allowance",
    "check_overrides",
    "conditioning",
    "eps_of",
    "magnitude",
    "rtol_override",
    "spacing",
    "ulps",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DtypeTolerance:
    """The numbers of the rule for one float grid: its machine epsilon (spacing at 1.0), smallest
    normal, and default R and A in ULPs."""

    eps: float
    tiny: float
    rtol_ulps: float
    atol_ulps: float


#: The rule's numbers per float grid (a complex dtype uses the grid of its parts). float16 and
#: bfloat16 are tighter in ULPs than float64/float32 because each torch op there rounds once from
#: a float32 computation (errors of a few ULPs per op), and 16 bfloat16 ULPs (12.5 %) would hide a
#: gradient wrong by 10 %. Calibration: bench/TOLERANCE.md.
TOLERANCES: Mapping[str, DtypeTolerance] = {
    "float64": DtypeTolerance(2.0**-52, 2.0**-1022, rtol_ulps=64.0, atol_ulps=16.0),
    "float32": DtypeTolerance(2.0**-23, 2.0**-126, rtol_ulps=64.0, atol_ulps=16.0),
    "float16": DtypeTolerance(2.0**-10, 2.0**-14, rtol_ulps=8.0, atol_ulps=4.0),
    "bfloat16": DtypeTolerance(2.0**-7, 2.0**-126, rtol_ulps=8.0, atol_ulps=4.0),
}
#: Default relative tolerance R, in ULPs of each grid (a view of :data:`TOLERANCES`).
DEFAULT_RTOL_ULPS: Mapping[str, float] = {g: t.rtol_ulps for g, t in TOLERANCES.items()}
#: Default absolute part A, in ULPs of each element's magnitude of terms.
DEFAULT_ATOL_ULPS: Mapping[str, float] = {g: t.atol_ulps for g, t in TOLERANCES.items()}


def tolerance_of(dtype: str) -> DtypeTolerance:
    """The rule's numbers for ``dtype`` (a complex dtype: those of its parts' grid)."""
    return TOLERANCES[grid_of(dtype)]


def eps_of(dtype: str) -> float:
    """Machine epsilon of ``dtype`` (of its parts, for a complex dtype)."""
    return tolerance_of(dtype).eps


def ulps(diff: Array, ref: Array, dtype: str) -> Array:
    """``diff`` in units in the last place of ``ref`` in ``dtype`` (subnormal spacing below tiny)."""
    return np.asarray(np.abs(diff) / spacing(ref, dtype), dtype=np.float64)


def spacing(ref: Array, dtype: str) -> Array:
    """The unit in the last place of each element of ``ref`` in ``dtype`` (subnormal spacing below
    tiny): what :func:`ulps` divides by, apart so that a reference's spacing is computed once."""
    t = tolerance_of(dtype)
    _, exp = np.frexp(np.maximum(np.abs(ref), t.tiny))
    return np.asarray(t.eps * np.ldexp(1.0, exp - 1), dtype=np.float64)


@dataclass(frozen=True)
class Allowance:
    """What each element of one comparison may differ by: ``relative`` (the R part, conditioning
    and subnormal floor included) and ``total`` (with the A part); ``rtol`` is R * eps."""

    relative: Array
    total: Array
    rtol: float


def allowance(
    ref: Array,
    dtype: str,
    rtol_ulps: float | None = None,
    atol_ulps: float | None = None,
    cond: Array | None = None,
    magnitude: Array | None = None,
) -> Allowance:
    """The per-element allowance of the module docstring for a reference ``ref`` checked in
    ``dtype``; ``cond`` and ``magnitude`` (same shape, >= 0) default to 0 and ``|ref|``."""
    t = tolerance_of(dtype)
    rtol = (t.rtol_ulps if rtol_ulps is None else rtol_ulps) * t.eps
    atol = (t.atol_ulps if atol_ulps is None else atol_ulps) * t.eps
    size = np.abs(ref)
    extra = 0.0 if cond is None else np.abs(np.broadcast_to(cond, ref.shape))
    mag = size if magnitude is None else np.maximum(np.abs(np.broadcast_to(magnitude, ref.shape)), size)
    # Below the dtype's range the best torch can return is the subnormal nearest the truth (or 0):
    # the allowance never falls under R subnormal spacings.
    relative = rtol * (size + extra + t.tiny)
    return Allowance(relative, relative + atol * mag, rtol)


def magnitude(stored: Array | None, ref: Array, normwise: bool) -> Array | None:
    """Each element's magnitude of terms: the golden's where it stores one; for a ``normwise=``
    case the largest ``|ref|`` of the quantity at the point; else None (each element's ``|ref|``)."""
    if stored is not None:
        return np.asarray(stored, dtype=np.float64)
    if normwise and ref.size:
        return np.full(ref.shape, float(np.max(np.abs(ref))))
    return None


def conditioning(
    quantity: str,
    x: Array,
    numbers: Mapping[str, Array],
    shapes: Mapping[str, tuple[int, ...]],
    directions: Array | None = None,
) -> Array | None:
    """``sum_j |x_j| |d q / d x_j|`` for ``quantity`` from the golden's next order, or None where
    it holds none (the allowance is then the plain ULP rule).

    ``x`` is the point's variables, flattened in parameter order; ``numbers`` the golden's
    quantities at the point; ``shapes`` each parameter's shape, in parameter order; ``directions``
    the golden's projection directions (rows), if any.
    """
    ax = np.abs(x)
    if quantity == "value":
        jac = _flat_jacobian(numbers, shapes)
        return None if jac is None else np.asarray(np.abs(jac) @ ax)
    if quantity.startswith("grad/") and "hessian" in numbers:
        cond = np.abs(numbers["hessian"]) @ ax  # (*out, N)
        return _part(cond, shapes, quantity.removeprefix("grad/"))
    nxt = {"hessian": "d3", "d3": "d4"}.get(quantity)
    if nxt and nxt in numbers:
        return np.asarray(np.abs(numbers[nxt]) @ ax)
    if directions is None:
        return None
    if quantity == "proj/grad" and "hessian" in numbers:  # J v: |x| . |H v|
        hv = np.einsum("...ij,kj->k...i", numbers["hessian"], directions)
        return np.asarray(np.abs(hv) @ ax)
    if quantity == "proj/hess" and "d3" in numbers:  # v'Hv: |x| . |d3 v v|
        t = np.einsum("...abj,ka,kb->k...j", numbers["d3"], directions, directions)
        return np.asarray(np.abs(t) @ ax)
    return None


def _flat_jacobian(numbers: Mapping[str, Array], shapes: Mapping[str, tuple[int, ...]]) -> Array | None:
    """The Jacobian over the flattened variables, ``(*out, N)``, if the golden holds every part."""
    grads = [f"grad/{p}" for p in shapes]
    if not all(g in numbers for g in grads):
        return None
    out_shape = numbers["value"].shape
    return np.concatenate([numbers[g].reshape(*out_shape, -1) for g in grads], axis=-1)


def _part(flat: Array, shapes: Mapping[str, tuple[int, ...]], param: str) -> Array:
    """The slice of a trailing flattened-variables axis that belongs to ``param``, in its shape."""
    start = 0
    for p, shape in shapes.items():
        size = math.prod(shape)
        if p == param:
            return flat[..., start : start + size].reshape(flat.shape[:-1] + tuple(shape))
        start += size
    raise KeyError(param)


def rtol_override(overrides: Mapping[str, float], dtype: str) -> float | None:
    """The case's R for ``dtype`` (its ``rtol_ulps=`` entry), or None for the default."""
    found = overrides.get(dtype)
    return None if found is None else float(found)


def check_overrides(where: str, overrides: Mapping[str, float], dtypes: Sequence[str]) -> None:
    """Each ``rtol_ulps=`` key must be one of ``dtypes`` and widen by a positive finite number of
    ULPs: a misspelt dtype (``"flaot32"``) would otherwise never apply, silently."""
    for key, value in overrides.items():
        if key not in dtypes:
            close = difflib.get_close_matches(str(key), dtypes, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CaseError(
                f"{where}: rtol_ulps key {key!r} is not a dtype; {hint}use one of {', '.join(dtypes)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
            raise CaseError(
                f"{where}: rtol_ulps[{key!r}]={value!r}; give a positive number of {key} ULPs, "
                f"e.g. {tolerance_of(key).rtol_ulps:g}"
            )
