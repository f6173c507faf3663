"""Wolfram Language programs for a case, built from structure rather than pasted at call sites.

A program binds each parameter to a symbolic array of its shape, computes each quantity the
golden holds (value, derivative tensors, directional projections), substitutes the exact rational
value of each evaluation point, and evaluates at two working precisions so the generator can
count the digits on which they agree. The text is self-contained: it is stored in the golden and
can be pasted into a notebook as it is.

Two strategies compute derivatives (``resolve_strategy`` picks one):

- symbolic: ``D`` over every input entry (``Map[D[f, #] &, vars]``, so the variable axis comes
  first on every engine: Mathics3 and Mathematica order ``D[list, {vars}]`` differently), then the
  exact point, then ``N``. Exact until the last step; cost grows fast with the number of inputs.
- substituted: the point as ``N[x0, P]`` first, then one derivative in ``t`` of ``f(x0 + t e_k)``
  per input (or per projection direction). Several times cheaper for many inputs on Mathics3;
  the two precisions each substitute their own ``N[x0, P]``, so the certification still holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .cases import Case, Point
from .errors import CaseError
from .exact import wl_rational

__all__ = ["REAL_RULES", "Program", "build_program", "entry_symbols", "quantity_names", "resolve_strategy"]

#: Real-variable rules applied after differentiation: for real arguments Abs'[x] = Sign[x] (the
#: notebook needed this by hand for ``Norm``), and Sign, Abs'' and beyond vanish away from 0.
REAL_RULES = (
    "{Derivative[1][Abs] -> Sign, Derivative[ggk_ /; ggk > 1][Abs] :> (0 &), "
    "Derivative[ggk_ /; ggk > 0][Sign] :> (0 &)}"
)

#: Extra digits of the second, certifying evaluation.
GUARD_DIGITS = 30

#: Seconds one case's program may run before the engine abandons it.
DEFAULT_TIMEOUT = 300

#: Beyond this many scalar inputs, "auto" substitutes numbers before differentiating.
SYMBOLIC_MAX_VARS = 8

_DERIVATIVES = ("d1", "d2", "d3", "d4")


@dataclass(frozen=True)
class Program:
    """A case's program and what the generator needs to read its answer."""

    text: str
    precision: int
    n_points: int
    strategy: str
    quantities: tuple[str, ...]


def resolve_strategy(case: Case) -> str:
    """The strategy a case's program uses ("symbolic" or "substituted")."""
    full_high_order = case.full_jacobian and case.order >= 2
    if case.strategy == "substituted" and full_high_order:
        raise CaseError(
            f"{case.source}: case {case.id}: strategy='substituted' computes first derivatives and "
            "projections only; use strategy='symbolic' (or 'auto') for full Hessians"
        )
    if case.strategy != "auto":
        return case.strategy
    return "symbolic" if full_high_order or case.n_vars <= SYMBOLIC_MAX_VARS else "substituted"


def quantity_names(case: Case) -> tuple[str, ...]:
    """What the program returns per point, in order: ``value``, ``d1``.. (variable axes first),
    ``proj/grad``, ``proj/hess``."""
    names = ["value"]
    if case.full_jacobian:
        names += list(_DERIVATIVES[: case.order])
    if case.projections:
        names.append("proj/grad")
        if case.order >= 2:
            names.append("proj/hess")
    return tuple(names)


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


def _wl_matrix(rows: np.ndarray) -> str:
    return "{" + ", ".join("{" + ", ".join(wl_rational(float(x)) for x in r) + "}" for r in rows) + "}"


def build_program(case: Case, points: Sequence[Point], timeout: int = DEFAULT_TIMEOUT) -> Program:
    """The program returning, for each point, one ``{N[q, p], N[q, p + 30], Precision /@ N[q, p]}``
    triple per quantity of :func:`quantity_names`.

    The expression is held while parameters are replaced by symbolic arrays, so heads that evaluate
    eagerly (``Norm``) see arrays, never bare symbols.
    """
    strategy = resolve_strategy(case)
    binds = ", ".join(f"{p} -> {entry_symbols(p, case.shapes[p])}" for p in case.params)
    variables = ", ".join(s for p in case.params for s in _flat_symbols(p, case.shapes[p]))
    p, q = case.precision, case.precision + GUARD_DIGITS
    body = _symbolic(case, p, q) if strategy == "symbolic" else _substituted(case, p, q)
    at_points = ",\n    ".join(f"ggPoint[{_rules(case, pt)}]" for pt in points)
    text = (
        "TimeConstrained[\n"
        "  Module[{ggF, ggV, ggDirs, ggQ, ggAt, ggG, ggPoint, ggT, ggD1, ggD2, ggD3, ggD4},\n"
        f"    ggF = ReleaseHold[Hold[{case.wolfram}] /. {{{binds}}}];\n"
        f"    ggV = {{{variables}}};\n"
        f"    ggDirs = {_wl_matrix(case.directions())};\n"
        f"{body}"
        f"    {{{at_points}}}\n"
        "  ],\n"
        f"  {timeout}, $Aborted]"
    )
    return Program(
        text=text, precision=p, n_points=len(points), strategy=strategy, quantities=quantity_names(case)
    )


_TRIPLES = "Table[{ggLo[[ggI]], ggHi[[ggI]], Map[Precision, ggLo[[ggI]], {-1}]}, {ggI, Length[ggLo]}]"


def _symbolic(case: Case, p: int, q: int) -> str:
    """Quantities as exact expressions in the entry symbols; the point goes in before ``N``."""
    lines, parts = [], ["ggF"]
    if case.full_jacobian:
        previous = "ggF"
        for k in range(1, case.order + 1):
            lines.append(f"    ggD{k} = Map[D[{previous}, #] &, ggV] /. {REAL_RULES};\n")
            parts.append(f"ggD{k}")
            previous = f"ggD{k}"
    if case.projections:
        if case.full_jacobian:
            parts.append("ggDirs . ggD1")
            if case.order >= 2:
                parts.append("Map[# . (# . ggD2) &, ggDirs]")
        else:  # exact in t: one univariate derivative per direction
            lines.append("    ggG[ggW_] := ggF /. Thread[ggV -> ggV + ggT ggW];\n")
            parts.append(f"Map[(D[ggG[#], ggT] /. {REAL_RULES}) &, ggDirs]")
            if case.order >= 2:
                parts.append(f"Map[(D[ggG[#], {{ggT, 2}}] /. {REAL_RULES}) &, ggDirs]")
    lines.append(f"    ggQ = {{{', '.join(parts)}}};\n")
    point = (
        "    ggPoint[ggR_] := With[{ggE = ggQ /. ggR /. ggT -> 0},\n"
        f"      With[{{ggLo = N[ggE, {p}], ggHi = N[ggE, {q}]}}, {_TRIPLES}]];\n"
    )
    return "".join(lines) + point


def _substituted(case: Case, p: int, q: int) -> str:
    """Quantities at ``N[x0, P]`` for each working precision P: derivatives along ``t``."""
    parts = ["N[ggF /. ggR, ggP]"]
    along = f"(D[ggG[ggX, #], ggT] /. {REAL_RULES} /. ggT -> 0) &"
    if case.full_jacobian:
        parts.append(f"Map[{along}, IdentityMatrix[Length[ggV]]]")
    if case.projections:
        parts.append(f"Map[{along}, ggDirs]")
        if case.order >= 2:
            parts.append(f"Map[(D[ggG[ggX, #], {{ggT, 2}}] /. {REAL_RULES} /. ggT -> 0) &, ggDirs]")
    return (
        "    ggG[ggX_, ggW_] := ggF /. Thread[ggV -> ggX + ggT ggW];\n"
        "    ggAt[ggR_, ggP_] := With[{ggX = N[ggV /. ggR, ggP]},\n"
        f"      {{{', '.join(parts)}}}];\n"
        f"    ggPoint[ggR_] := With[{{ggLo = ggAt[ggR, {p}], ggHi = ggAt[ggR, {q}]}}, {_TRIPLES}];\n"
    )
