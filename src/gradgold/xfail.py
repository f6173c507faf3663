"""Recorded torch bugs (a case's ``xfail=``): which checks, and which quantities of them, must fail.

A key names what the bug covers, its parts joined by ``-`` in this order, each optional:
``<dtype>-<mode>-<quantity>``. ``"*"`` (or a plain string as ``xfail=``) covers every check;
``"float32"``, ``"forward"``, ``"float32-forward"`` cover whole checks, as pytest ids name them;
a key ending in a quantity covers only that quantity of those checks: ``"forward-hessian"`` is the
Hessian in forward mode in every dtype, ``"hessian"`` the Hessian in every mode. Quantities are
``value``, ``grad`` (every parameter's gradient) or ``grad/<param>``, ``hessian``, ``d3``, ``d4``,
``proj/grad`` and ``proj/hess``.

A check with a quantity-keyed expected failure passes when that quantity fails and every other
quantity passes; it fails when another quantity fails (an unrecorded bug) and when the recorded
quantity passes (torch was fixed: strict, as every expected failure). So one case of order 2 can
record a second-derivative bug while its first derivatives stay checked.

Torch-free: the pytest plugin imports it to mark its items.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exact import COMPLEX_PARTS, GRID_NAMES
from .modes import MODES
from .schema import DERIVATIVE_TENSORS, PROJECTIONS, quantity_shapes

__all__ = ["ExpectedFailure", "expected_failure", "xfail_key_problem"]

_DTYPES = (*GRID_NAMES, *COMPLEX_PARTS)


@dataclass(frozen=True)
class ExpectedFailure:
    """Why torch is expected to fail one check, and the quantities that failure is confined to
    (empty: the whole check). False when nothing is expected to fail."""

    reason: str = ""
    quantities: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.reason)

    def covers(self, quantity: str) -> bool:
        """Whether a mismatch of ``quantity`` is the recorded failure (``grad`` covers ``grad/x``)."""
        if not self.reason:
            return False
        return not self.quantities or any(
            quantity == q or quantity.startswith(q + "/") for q in self.quantities
        )


@dataclass(frozen=True)
class _Key:
    dtype: str | None = None
    mode: str | None = None
    quantity: str | None = None


def _parse(key: str) -> _Key:
    """Split a key into its parts (unknown words are taken as a quantity; validation says which)."""
    if key == "*":
        return _Key()
    dtype = mode = quantity = None
    parts = key.split("-")
    if parts and parts[0] in _DTYPES:
        dtype = parts.pop(0)
    if parts and parts[0] in MODES:
        mode = parts.pop(0)
    if parts:
        quantity = "-".join(parts)
    return _Key(dtype, mode, quantity)


def expected_failure(case: Any, dtype: str, mode: str) -> ExpectedFailure:
    """What ``case``'s ``xfail=`` records for its check in ``dtype`` and ``mode``.

    A key covering the whole check wins, the most specific first (``"<dtype>-<mode>"``, the mode,
    the dtype, ``"*"``); otherwise every quantity key that applies, their reasons joined.
    """
    reasons: Mapping[str, str] = getattr(case, "xfail", {}) or {}
    applying = [
        (key, str(reason))
        for raw, reason in reasons.items()
        if reason
        for key in (_parse(raw),)
        if key.dtype in (None, dtype) and key.mode in (None, mode)
    ]
    whole = [(k, r) for k, r in applying if k.quantity is None]
    if whole:
        best = max(whole, key=lambda kr: (kr[0].mode is not None, kr[0].dtype is not None))
        return ExpectedFailure(best[1])
    scoped = [(k, r) for k, r in applying if k.quantity is not None]
    if not scoped:
        return ExpectedFailure()
    reason = "; ".join(dict.fromkeys(r for _, r in scoped))
    quantities = tuple(dict.fromkeys(str(k.quantity) for k, _ in scoped))
    return ExpectedFailure(reason, quantities)


def xfail_key_problem(key: str, params: Sequence[str], order: int, projections: int) -> str:
    """Why ``key`` cannot be an ``xfail=`` key of a case with these ``params``, ``order`` and
    ``projections`` ("" if it can): a key that names nothing the case checks would never match."""
    parsed = _parse(key)
    if parsed.quantity is None:
        return ""
    known = ("value", "grad", *(f"grad/{p}" for p in params), *DERIVATIVE_TENSORS, *PROJECTIONS)
    words = parsed.quantity.split("-")
    for word in words:
        if word not in (*_DTYPES, *MODES, *known):
            close = difflib.get_close_matches(word, [*_DTYPES, *MODES, *known], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return (
                f"has {word!r}, which is neither a dtype, a mode nor a quantity of the case; {hint}write "
                f"{_GRAMMAR}"
            )
    if len(words) > 1 or words[0] not in known:
        return f"has its parts out of order; write {_GRAMMAR}"
    if parsed.quantity in _quantities(params, order, projections):
        return ""
    needs = (
        f"order={DERIVATIVE_TENSORS[parsed.quantity]} or more"
        if parsed.quantity in DERIVATIVE_TENSORS
        else f"projections=k > 0 and order={PROJECTIONS[parsed.quantity]} or more"
    )
    return f"names quantity {parsed.quantity!r}, which this case does not check (it needs {needs})"


_GRAMMAR = (
    "'<dtype>-<mode>-<quantity>', each part optional but in that order, e.g. 'float32', 'forward', "
    "'float32-forward', 'forward-hessian', 'grad/x'"
)


def _quantities(params: Sequence[str], order: int, projections: int) -> set[str]:
    """The quantities a case checks: its value, gradients, full derivatives and projections."""
    return {"grad", *quantity_shapes(tuple((p, ()) for p in params), (), order, projections)}
