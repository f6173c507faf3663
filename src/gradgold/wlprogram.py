"""Wolfram Language programs for a case, built from structure rather than pasted at call sites.

A program binds each parameter to a symbolic array of its shape, differentiates with ``D`` (which
both Mathematica and Mathics3 have; ``Grad`` is Mathematica-only), substitutes the exact rational
value of each evaluation point, and evaluates with ``N`` at two working precisions so the
generator can count the digits on which they agree. The text is self-contained: it is stored in
the golden and can be pasted into a notebook as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .cases import Case, Point
from .exact import wl_rational

__all__ = ["REAL_RULES", "Program", "build_program", "entry_symbols"]

#: Real-variable rules applied after differentiation: for real arguments Abs'[x] = Sign[x]
#: (the notebook needed this by hand for ``Norm``), and Sign is locally constant.
REAL_RULES = "{Derivative[1][Abs] -> Sign, Derivative[1][Sign] -> (0 &)}"

#: Extra digits of the second, certifying evaluation.
GUARD_DIGITS = 30

#: Seconds one case's program may run before the engine abandons it.
DEFAULT_TIMEOUT = 300


@dataclass(frozen=True)
class Program:
    """A case's program and what the generator needs to read its answer."""

    text: str
    precision: int
    n_points: int


def entry_symbols(name: str, shape: tuple[int, ...]) -> str:
    """WL text of the symbolic array bound to parameter ``name``: ``gg$W$1$2`` for W[[1, 2]]."""
    if not shape:
        return f"gg${name}"
    return _nest(name, shape, ())


def _nest(name: str, shape: tuple[int, ...], index: tuple[int, ...]) -> str:
    if len(index) == len(shape):
        return "gg$" + "$".join([name, *map(str, index)])
    inner = (_nest(name, shape, (*index, i)) for i in range(1, shape[len(index)] + 1))
    return "{" + ", ".join(inner) + "}"


def _flat_symbols(name: str, shape: tuple[int, ...]) -> list[str]:
    """The entry symbols of one parameter in row-major order (the order of torch's ``ravel``)."""
    if not shape:
        return [f"gg${name}"]
    return [
        "gg$" + "$".join([name, *map(str, (i + 1 for i in idx))])
        for idx in itertools.product(*(range(s) for s in shape))
    ]


def _rules(case: Case, point: Point) -> str:
    """Rules replacing every entry symbol by the exact rational value of the point's float."""
    pairs = []
    for p in case.params:
        symbols = _flat_symbols(p, case.shapes[p])
        values = np.asarray(point[p], dtype=np.float64).ravel()
        pairs += [f"{s} -> {wl_rational(float(v))}" for s, v in zip(symbols, values, strict=True)]
    return "{" + ", ".join(pairs) + "}"


def build_program(case: Case, points: Sequence[Point], timeout: int = DEFAULT_TIMEOUT) -> Program:
    """The program that returns, for each point, ``{value, jacobian}``, each as
    ``{N[q, p], N[q, p + 30], Precision /@ N[q, p]}`` (precision per element).

    The expression is held while parameters are replaced by symbolic arrays, so heads that evaluate
    eagerly (``Norm``) see arrays, never bare symbols. The Jacobian holds ``D[f, v]`` for all
    entries of all parameters in order: ``Map[D[f, #] &, vars]``, so its FIRST axis runs over them
    (row-major per parameter) on every engine (Mathics3 and Mathematica order ``D[list, {vars}]``
    differently).
    """
    binds = ", ".join(f"{p} -> {entry_symbols(p, case.shapes[p])}" for p in case.params)
    variables = ", ".join(s for p in case.params for s in _flat_symbols(p, case.shapes[p]))
    p, q = case.precision, case.precision + GUARD_DIGITS
    at_points = ",\n    ".join(f"ggBoth[{_rules(case, pt)}]" for pt in points)
    text = (
        "TimeConstrained[\n"
        "  Module[{ggF, ggJ, ggAt, ggBoth},\n"
        f"    ggF = ReleaseHold[Hold[{case.wolfram}] /. {{{binds}}}];\n"
        f"    ggJ = Map[D[ggF, #] &, {{{variables}}}] /. {REAL_RULES};\n"
        "    ggAt[ggQ_, ggR_] := With[{ggE = ggQ /. ggR},\n"
        f"      With[{{ggLo = N[ggE, {p}], ggHi = N[ggE, {q}]}},\n"
        "        {ggLo, ggHi, Map[Precision, ggLo, {-1}]}]];\n"
        "    ggBoth[ggR_] := {ggAt[ggF, ggR], ggAt[ggJ, ggR]};\n"
        f"    {{{at_points}}}\n"
        "  ],\n"
        f"  {timeout}, $Aborted]"
    )
    return Program(text=text, precision=p, n_points=len(points))
