"""A case's golden from the rigorous evaluator: every quantity at every point as a proven ball,
rounded to float64 only where the rounding is proven, with the working precision raised (up to a
cap) until it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flint
import numpy as np
from flint import ctx

from ...cases import Case, Point
from ...errors import EvaluationError
from ...metadata import case_metadata, case_quantity_shapes
from ...schema import EngineStamp, Metadata
from ...wlsource import exact_decimals
from .balls import NeedPrecision, Pole, Refusal
from .derivatives import NeedTerms, quantity_balls
from .evaluate import Unsupported, unsupported_heads
from .magnitude import magnitudes
from .parser import WLSyntaxError, parse
from .rounding import round_ball
from .tree import Expr, full_form

__all__ = [
    "EVALUATOR",
    "MAX_BITS",
    "RigorousUnsupported",
    "held_tree",
    "rigorous_golden",
    "rigorous_golden_of",
    "support_problem",
]

#: The name goldens record for this evaluator (metadata ``evaluator``).
EVALUATOR = "rigorous"

#: The highest working precision, in bits, before a quantity is refused.
MAX_BITS = 8192

#: Terms a removable singularity may consume before the point counts as a pole.
MAX_GUARD = 4


class RigorousUnsupported(EvaluationError):
    """The case uses something the rigorous evaluator does not implement (by name): another
    evaluator (the engine) must compute it."""


def held_tree(case: Case) -> Expr:
    """The held tree of the case's ``wolfram=`` text, or :class:`RigorousUnsupported`."""
    where = f"{case.source}: case {case.id}"
    try:  # the very text the engine gets: decimal literals as exact rationals (wlsource)
        tree = parse(exact_decimals(case.wolfram))
    except WLSyntaxError as exc:
        raise RigorousUnsupported(f"{where}: the rigorous evaluator cannot parse wolfram=: {exc}") from exc
    return tree


def support_problem(case: Case) -> str:
    """Why the rigorous evaluator cannot take the case ("" when it can try)."""
    try:
        tree = held_tree(case)
    except RigorousUnsupported as exc:
        return str(exc)
    unknown = unsupported_heads(tree)
    if unknown:
        return f"the rigorous evaluator does not implement {', '.join(unknown)}"
    return ""


def quantity_names(case: Case) -> list[str]:
    """The quantities a golden of the case holds (as :func:`.derivatives.quantity_balls` names them),
    in the golden schema's order."""
    return list(case_quantity_shapes(case))


def _undeclared(case: Case, u: int, index: dict[str, list[int]]) -> str:
    """ "" when every case point evaluated at unique point ``u`` states with ``expect=`` the result of
    every quantity (so a pole there needs no reference); else the fix a pole there must name."""
    points = sorted({j for idx in index.values() for j, k in enumerate(idx) if k == u})
    for j in points:
        missing = [q for q in quantity_names(case) if q not in case.expect.get(j, {})]
        if missing:
            shown = ", ".join(f"{q!r}: ..." for q in missing)
            return (
                f"move the point, or state what torch must give there for every quantity the golden "
                f"holds (then compared exactly) with expect={{{j}: {{{shown}}}}}"
            )
    return "" if points else "move the point"


def _pole(here: str, what: str, fix: str) -> None:
    """A pole at the point: None (no reference) where the case declares every result, else refused."""
    if fix:
        raise EvaluationError(f"{here}: the expression has a pole here ({what}); {fix}")


def _placeholders(found: list[dict[str, Any] | None], where: str) -> list[dict[str, Any]]:
    """Each declared pole (None) as a placeholder the checker never reads (it compares the declared
    results): 0.0 with digits "0" and 0 certified digits, which claims nothing."""
    template = next((q for q in found if q is not None), None)
    if template is None:
        raise EvaluationError(f"{where}: every point is a pole; add a point where the expression is finite")
    blank = {
        name: (np.zeros_like(f), np.full(f.shape, "0", dtype=np.str_), np.zeros(f.shape, dtype=np.int16))
        for name, (f, _, _) in template.items()
    }
    return [q if q is not None else blank for q in found]


def _start_bits(case: Case) -> int:
    return int(case.precision * 3.33) + 64


def rigorous_golden(
    case: Case,
    unique: Sequence[Point],
    index: dict[str, list[int]],
    on_point: Callable[[int, int], None] | None = None,
) -> tuple[Metadata, Any]:
    """(metadata, grids) of the case's golden; raises :class:`RigorousUnsupported` or
    :class:`EvaluationError` (a refusal naming point, quantity and fix). ``on_point(done, total)``
    hears of each point evaluated (generation's progress)."""
    from ..generate import Quantity, _grid_data, _point_text

    where = f"{case.source}: case {case.id}"
    problem = support_problem(case)
    if problem:
        raise RigorousUnsupported(f"{where}: {problem}")
    tree = held_tree(case)
    found: list[dict[str, Quantity] | None] = []
    for i, point in enumerate(unique):
        here = f"{where}, evaluation point {i} ({_point_text(point)})"
        found.append(_at_point(tree, case, point, here, _undeclared(case, i, index)))
        if on_point is not None:
            on_point(i + 1, len(unique))
    per_point = _placeholders(found, where)
    out_shape = per_point[0]["value"][0].shape
    grids = {grid: _grid_data(case, list(unique), per_point, idx) for grid, idx in index.items()}
    # The majorant pass is over finite real series: a complex case, or one whose reference
    # overflows somewhere, stores no magnitudes (the checker then uses |ref|, as for an engine
    # golden: never a wrong magnitude, only a missing one).
    overflows = any(not np.all(np.isfinite(q[0])) for pt in per_point for q in pt.values())
    stored, mags = (
        ([], [])
        if case.is_complex or overflows
        else magnitudes(tree, case, unique, [{q: v[0] for q, v in pt.items()} for pt in per_point])
    )
    if stored:  # each grid's magnitudes at its own points, in the case's point order
        grids = {
            grid: dataclasses.replace(
                grids[grid], magnitudes={q: np.stack([mags[i][q] for i in idx]) for q in stored}
            )
            for grid, idx in index.items()
        }
    meta = case_metadata(
        case,
        engine=EngineStamp("gradgold-rigorous", f"python-flint {flint.__version__}"),
        out_shape=tuple(out_shape),
        program=full_form(tree),
        evaluator=EVALUATOR,
        magnitudes=tuple(stored),
    )
    return meta, grids


def rigorous_golden_of(case: Case, on_point: Callable[[int, int], None] | None = None) -> Any:
    """The case's :class:`~gradgold.golden.Golden` computed by the rigorous evaluator alone."""
    from ...golden import Golden
    from ..generate import evaluation_points

    unique, index = evaluation_points(case)
    meta, grids = rigorous_golden(case, unique, index, on_point)
    return Golden(meta=meta, grids=grids, directions=case.directions() if case.projections else None)


def _at_point(tree: Expr, case: Case, point: Point, here: str, pole: str) -> dict[str, Any] | None:
    """The rounded quantities at one point; None at a pole the case declares with expect= (``pole``
    is "" then, else the fix to name when the point is a pole)."""
    bits, guard = _start_bits(case), 0
    old_prec, old_cap = ctx.prec, ctx.cap
    last = ""
    try:
        while True:
            ctx.prec = bits
            try:
                balls = quantity_balls(tree, case, point, guard)
                return _rounded(case, balls, here)
            except NeedTerms:
                if guard >= MAX_GUARD:
                    _pole(here, "a division by 0 that is not a removable singularity (a pole)", pole)
                    return None
                guard += 1
            except Pole as exc:
                _pole(here, str(exc), pole)
                return None
            except NeedPrecision as exc:
                last = str(exc)
                if bits >= MAX_BITS:
                    raise EvaluationError(
                        f"{here}: {last}, even at {MAX_BITS} bits of working precision; the value is "
                        "too close to a float64 rounding boundary, a branch boundary or 0 to decide; "
                        "move the point, or rewrite the expression in a stable form"
                    ) from None
                bits *= 2
            except Refusal as exc:
                raise EvaluationError(f"{here}: {exc}") from None
            except Unsupported as exc:
                detail = f" ({exc.detail})" if exc.detail else ""
                raise RigorousUnsupported(
                    f"{here}: the rigorous evaluator does not implement {exc.head}{detail}"
                ) from None
            except (ZeroDivisionError, ValueError) as exc:
                raise EvaluationError(f"{here}: {exc}; move the point") from None
    finally:
        ctx.prec, ctx.cap = old_prec, old_cap


def _rounded(case: Case, balls: dict[str, tuple[tuple[int, ...], list[Any]]], here: str) -> dict[str, Any]:
    out = {}
    for name, (shape, items) in balls.items():
        floats, digits, certified = [], [], []
        for k, ball in enumerate(items):
            idx = tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()
            f, d, n = round_ball(ball, case.precision, f"{here}, quantity {name}, index {idx}")
            if n < case.min_digits:
                raise NeedPrecision(f"{here}, quantity {name}, index {idx}: only {n} digits certified")
            floats.append(f)
            digits.append(d)
            certified.append(n)
        out[name] = (
            np.array(floats, dtype=np.float64).reshape(shape),
            np.array(digits, dtype=np.str_).reshape(shape),
            np.array(certified, dtype=np.int16).reshape(shape),
        )
    return out
