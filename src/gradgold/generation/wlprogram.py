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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..cases import Case, Point
from ..errors import CaseError
from ..exact import wl_rational
from ..wlsource import exact_decimals

__all__ = [
    "REAL_RULES",
    "REWRITES",
    "Program",
    "bound_value",
    "build_program",
    "entry_symbols",
    "held_expression",
    "held_tree_program",
    "post_rules",
    "quantity_names",
    "resolve_strategy",
]

#: Real-variable rules applied after differentiation: for real arguments Abs'[x] = Sign[x] (the
#: notebook needed this by hand for ``Norm``), and Sign, Abs'' and beyond vanish away from 0.
REAL_RULES = (
    "{Derivative[1][Abs] -> Sign, Derivative[ggk_ /; ggk > 1][Abs] :> (0 &), "
    "Derivative[ggk_ /; ggk > 0][Sign] :> (0 &), "
    "Derivative[0, 1][PolyGamma] -> (PolyGamma[#1 + 1, #2] &), "
    "Derivative[1][ExpIntegralEi] -> (Exp[#1]/#1 &)}"
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
    if case.strategy not in ("auto", "rigorous"):
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


def bound_value(case: Case, param: str) -> str:
    """WL text of the value parameter ``param`` is bound to: its entry symbols, or for a complex
    parameter (held as shape S + (2,)) the array over S of ``re + I im`` of its real entry symbols.
    Symbols are named after the parameter's WL name (``axis_angle``: ``gg$axisAngle``)."""
    shape, name = case.shapes[param], case.wl_names[param]
    if param not in case.complex_params:
        return entry_symbols(name, shape)
    return _nest(
        name,
        shape[:-1],
        (),
        lambda idx: f"(gg${'$'.join([name, *idx, '1'])} + I gg${'$'.join([name, *idx, '2'])})",
    )


def _nest(
    name: str,
    shape: tuple[int, ...],
    index: tuple[int, ...],
    leaf: Callable[[list[str]], str] | None = None,
) -> str:
    if len(index) == len(shape):
        return leaf(list(map(str, index))) if leaf else "gg$" + "$".join([name, *map(str, index)])
    inner = (_nest(name, shape, (*index, i), leaf) for i in range(1, shape[len(index)] + 1))
    return "{" + ", ".join(inner) + "}"


def _flat_symbols(name: str, shape: tuple[int, ...]) -> list[str]:
    """The entry symbols of one parameter in row-major order (the order of torch's ``ravel``)."""
    if not shape:
        return [f"gg${name}"]
    return [
        "gg$" + "$".join([name, *map(str, (i + 1 for i in idx))])
        for idx in itertools.product(*(range(s) for s in shape))
    ]


def held_expression(case: Case) -> str:
    """WL text of the case's held, bound expression: ``Hold[text] /. {param -> entry symbols}``,
    the text with its decimal literals made exact. Every program starts from it (then rewrites and
    evaluates it), and :func:`held_tree_program` asks an engine for it as it is."""
    binds = ", ".join(f"{case.wl_names[p]} -> {bound_value(case, p)}" for p in case.params)
    return f"Hold[{exact_decimals(case.wolfram)}] /. {{{binds}}}"


def held_tree_program(case: Case) -> str:
    """A program whose answer is the FullForm text of :func:`held_expression`: the engine's own
    reading of the case's text, which nothing evaluates, to compare with gradgold's parse
    (``rigorous.crosstree``). The same session as the numeric programs answers it."""
    return f"ToString[FullForm[{held_expression(case)}]]"


def _rules(case: Case, point: Point) -> str:
    """Rules replacing every entry symbol by the exact rational value of the point's float."""
    pairs = []
    for p, w in case.wl_names.items():
        symbols = _flat_symbols(w, case.shapes[p])
        values = np.asarray(point[p], dtype=np.float64).ravel()
        pairs += [f"{s} -> {wl_rational(float(v))}" for s, v in zip(symbols, values, strict=True)]
    return "{" + ", ".join(pairs) + "}"


def _wl_matrix(rows: np.ndarray) -> str:
    return "{" + ", ".join("{" + ", ".join(wl_rational(float(x)) for x in r) + "}" for r in rows) + "}"


#: Rewrites of the held, bound expression so it means the same on Mathematica and Mathics3 and
#: differentiates on both (engines.md lists Mathics3's gaps): kinks become Abs, whose derivative
#: the real-variable rules give; two-argument ArcTan a half-angle form; Norm of a matrix (WL's
#: spectral norm, which Mathics3 gets wrong and nobody can differentiate symbolically) is refused.
#: Every left side is a HoldPattern: a rule's left side evaluates, and ``Norm[x_]`` evaluates.
_REWRITE_RULES = (
    "HoldPattern[Norm[ggm_?MatrixQ]] :> ggUnsupported[\"Norm[matrix] is WL's spectral norm, which has "
    'no usable symbolic derivative; write Norm[m, \\"Frobenius\\"] or a closed form"]',
    "HoldPattern[Max[ggl_List]] :> Max @@ ggl",
    "HoldPattern[Min[ggl_List]] :> Min @@ ggl",
    "HoldPattern[Max[gga_, ggb_, ggc__]] :> Max[Max[gga, ggb], ggc]",
    "HoldPattern[Min[gga_, ggb_, ggc__]] :> Min[Min[gga, ggb], ggc]",
    "HoldPattern[Max[gga_, ggb_]] :> (gga + ggb + Abs[gga - ggb])/2",
    "HoldPattern[Min[gga_, ggb_]] :> (gga + ggb - Abs[gga - ggb])/2",
    "HoldPattern[UnitStep[ggx_]] :> (1 + Sign[ggx])/2",
    "HoldPattern[Ramp[ggx_]] :> (ggx + Abs[ggx])/2",
    "HoldPattern[Clip[ggx_]] :> Clip[ggx, {-1, 1}]",
    "HoldPattern[Clip[ggx_, {gga_, ggb_}]] :> Min[Max[ggx, gga], ggb]",
    "HoldPattern[ArcTan[ggx_, ggy_]] :> 2 ArcTan[ggy/(Sqrt[ggx^2 + ggy^2] + ggx)]",
)
REWRITES = "{" + ", ".join(_REWRITE_RULES) + "}"

#: Relative distance to a Piecewise/If boundary under which a point is refused.
BOUNDARY_TOLERANCE = "10^-10"

_BRANCHES = (
    "    ggPick[ggC_, ggDef_, ggR_] := Module[{ggM, ggK},\n"
    "      ggM = Cases[ggC[[All, 2]], (Less | Greater | LessEqual | GreaterEqual)[ggA_, ggB_] :>\n"
    "        (Abs[ggA - ggB]/(1 + Abs[ggA] + Abs[ggB]) /. ggR), {0, Infinity}];\n"
    "      ggK = Select[Range[Length[ggC]], TrueQ[ggC[[#, 2]] /. ggR] &];\n"
    f"      If[Length[ggM] > 0 && Min[ggM] < {BOUNDARY_TOLERANCE},\n"
    '        ggUnsupported["the point is on or within 1e-10 of a Piecewise/If boundary, where the '
    'derivative may not exist; move the point, or declare the expected result with expect="],\n'
    "        If[ggK === {}, ggDef, ggC[[First[ggK], 1]]]]];\n"
    "    ggActive[ggR_] := ReleaseHold[ggH /. {Piecewise[ggC_List, ggDef_: 0] :> ggPick[ggC, ggDef, ggR],\n"
    "      If[ggc_, ggt_, ggf_] :> ggPick[{{ggt, ggc}}, ggf, ggR]}];\n"
)

_BRANCHING = re.compile(r"\b(Piecewise|If)\[")
_HYPERGEOMETRIC = re.compile(r"\bHypergeometric2F1\[")

#: For an expression with Hypergeometric2F1: Mathics3 crashes differentiating it in z (its rule
#: goes through HypergeometricPFQ), and evaluates it to 4 digits labelled 50 at an exact z, though
#: correctly at a high-precision z. So it is held as ggF21 while D runs, whose z-derivatives are
#: d^k/dz^k 2F1(a, b; c; z) = (a)_k (b)_k / (c)_k 2F1(a + k, b + k; c + k; z), and it becomes
#: Hypergeometric2F1 only once z is a number of the working precision (N reaches it first).
_F21 = (
    "    ggF21[gga_, ggb_, ggc_, ggz_?InexactNumberQ] := Hypergeometric2F1[gga, ggb, ggc, ggz];\n"
    "    ggH = ggH //. HoldPattern[Hypergeometric2F1[gga_, ggb_, ggc_, ggz_]] :> ggF21[gga, ggb, ggc, ggz];\n"
)
_F21_RULE = (
    "Derivative[0, 0, 0, ggk_][ggF21] :> (Pochhammer[#1, ggk] Pochhammer[#2, ggk]/Pochhammer[#3, ggk] "
    "ggF21[#1 + ggk, #2 + ggk, #3 + ggk, #4] &)"
)


def post_rules(case: Case) -> str:
    """The rules applied after each ``D``: :data:`REAL_RULES`, plus the z-derivative of
    Hypergeometric2F1 where the expression uses it (other programs keep their exact text)."""
    if not _HYPERGEOMETRIC.search(case.wolfram):
        return REAL_RULES
    return REAL_RULES[:-1] + ", " + _F21_RULE + "}"


#: For a complex case: every parameter's entries are real symbols (a complex input is re + I im), so
#: D differentiates along real and imaginary parts. Heads that are not holomorphic (Conjugate, Re,
#: Im, Arg, and Abs and Sign of a complex argument) are rewritten, innermost first and before
#: anything evaluates (Mathics3 turns Abs[z]^2 into z^2), into holomorphic expressions of the
#: argument w and its conjugate, obtained by conjugating w's complex constants: conj(f(w)) =
#: f(conj w) for the functions of real coefficients WL has, away from their branch cuts. (Mathics3's
#: own ComplexExpand leaves Arg unexpanded and leaks a Python ``atan2`` into Sqrt.)
_COMPLEX = (
    "    SetAttributes[{ggCx, ggNH}, HoldAll];\n"
    "    ggCx[ggE_] := !FreeQ[Unevaluated[ggE], _Complex | HoldPattern[I]];\n"
    "    ggNH[ggE_] := !FreeQ[Unevaluated[ggE], Conjugate[_] | Re[_] | Im[_] | Arg[_] | "
    "Abs[ggu_ /; ggCx[ggu]] | Sign[ggu_ /; ggCx[ggu]]];\n"
    "    ggCj[ggW_] := ggW /. ggc_Complex :> Conjugate[ggc];\n"
    "    ggH = ggH //. {HoldPattern[Conjugate[ggw_]] /; !ggNH[ggw] :> ggCj[ggw],\n"
    "      HoldPattern[Re[ggw_]] /; !ggNH[ggw] :> (ggw + ggCj[ggw])/2,\n"
    "      HoldPattern[Im[ggw_]] /; !ggNH[ggw] :> (ggw - ggCj[ggw])/(2 I),\n"
    "      HoldPattern[Abs[ggw_]] /; ggCx[ggw] && !ggNH[ggw] :> Sqrt[ggw ggCj[ggw]],\n"
    "      HoldPattern[Sign[ggw_]] /; ggCx[ggw] && !ggNH[ggw] :> ggw/Sqrt[ggw ggCj[ggw]],\n"
    "      HoldPattern[Arg[ggw_]] /; !ggNH[ggw] :> With[{ggr = (ggw + ggCj[ggw])/2, "
    "ggi = (ggw - ggCj[ggw])/(2 I)},\n"
    "        2 ArcTan[ggi/(Sqrt[ggr^2 + ggi^2] + ggr)]]};\n"
    "    ggRI[ggL_List] := Map[ggRI, ggL]; ggRI[ggX_] := {Re[ggX], Im[ggX]};\n"
)

#: For a complex case: the arguments of functions with branch cuts, and whether a point puts one on
#: (or within 1e-10 of) its cut, where the function is discontinuous and has no complex derivative;
#: such a point is refused, as a Piecewise boundary is. Principal branches as in WL and torch.
_CUTS = (
    '    ggCuts = Join[Cases[ggH, HoldPattern[Log[gga_]] :> {"Log", gga}, {0, Infinity}],\n'
    '      Cases[ggH, HoldPattern[Sqrt[gga_]] :> {"Sqrt", gga}, {0, Infinity}],\n'
    '      Cases[ggH, HoldPattern[Power[gga_, ggb_ /; NumberQ[ggb] && !IntegerQ[ggb]]] :> {"Power", gga},\n'
    "        {0, Infinity}],\n"
    "      Flatten[Table[With[{ggf = ggh}, Cases[ggH, HoldPattern[ggf[gga_]] :> {ToString[ggf], gga},\n"
    "        {0, Infinity}]],\n"
    "        {ggh, {ArcSin, ArcCos, ArcTan, ArcSinh, ArcCosh, ArcTanh}}], 1]];\n"
    "    ggOnCut[ggk_, ggu_] := With[{ggn = N[ggu, 30]}, With[{ggre = Re[ggn], ggim = Im[ggn],\n"
    "        ggtol = 10^-10 (1 + Abs[ggn])}, Which[\n"
    '      MemberQ[{"Log", "Sqrt", "Power"}, ggk], Abs[ggim] <= ggtol && ggre <= ggtol,\n'
    '      MemberQ[{"ArcSin", "ArcCos", "ArcTanh"}, ggk], Abs[ggim] <= ggtol && Abs[ggre] >= 1 - ggtol,\n'
    '      ggk === "ArcCosh", Abs[ggim] <= ggtol && ggre <= 1 + ggtol,\n'
    '      MemberQ[{"ArcTan", "ArcSinh"}, ggk], Abs[ggre] <= ggtol && Abs[ggim] >= 1 - ggtol,\n'
    "      True, False]]];\n"
)


def build_program(case: Case, points: Sequence[Point], timeout: int = DEFAULT_TIMEOUT) -> Program:
    """The program returning, for each point, one ``{N[q, p], N[q, p + 30], Precision /@ N[q, p],
    exactly-zero flags}`` answer per quantity of :func:`quantity_names`.

    The expression is held while parameters are replaced by symbolic arrays and ``REWRITES`` apply,
    so heads that evaluate eagerly (``Norm``) see arrays. An expression with ``Piecewise`` or ``If``
    is resolved per point to the branch active there (Mathics3 cannot differentiate either), and a
    point near a branch boundary is refused.
    """
    strategy = resolve_strategy(case)
    names = case.wl_names
    variables = ", ".join(s for p in case.params for s in _flat_symbols(names[p], case.shapes[p]))
    p, q = case.precision, case.precision + GUARD_DIGITS
    branching = bool(_BRANCHING.search(case.wolfram))
    hypergeometric = bool(_HYPERGEOMETRIC.search(case.wolfram))
    f_at = "ggActive[ggR]" if branching else "ggF"
    split = "ggRI" if case.is_complex else ""
    if strategy == "symbolic":
        body = _symbolic(case, p, q, f_at, split)
    else:
        body = _substituted(case, p, q, f_at, split)
    at = "ggChecked" if split else "ggPoint"
    at_points = ",\n    ".join(f"{at}[{_rules(case, pt)}]" for pt in points)
    text = (
        "TimeConstrained[\n"
        "  Module[{ggH, ggF, ggV, ggDirs, ggQ, ggQs, ggAt, ggPick, ggActive, ggPoint, ggT, ggZ"
        + (", ggCx, ggNH, ggCj, ggRI, ggCuts, ggOnCut, ggChecked" if split else "")
        + (", ggF21" if hypergeometric else "")
        + "},\n"
        f"    ggH = {held_expression(case)} //. {REWRITES};\n"
        + (_COMPLEX + _CUTS + _checked(case) if split else "")
        + (_F21 if hypergeometric else "")
        + ("" if branching else "    ggF = ReleaseHold[ggH];\n")
        + f"    ggV = {{{variables}}};\n"
        f"    ggDirs = {_wl_matrix(case.directions())};\n"
        + "    ggZ[ggL_List] := Map[ggZ, ggL]; ggZ[ggX_] := ggX === 0;\n"
        + (_BRANCHES if branching else "")
        + f"{body}"
        f"    {{{at_points}}}\n"
        "  ],\n"
        f"  {timeout}, $Aborted]"
    )
    return Program(
        text=text, precision=p, n_points=len(points), strategy=strategy, quantities=quantity_names(case)
    )


def _answers(exact: str) -> str:
    """Per quantity: both precisions, the precision of each element, and which elements are exactly
    zero in ``exact`` (a computed 0. may hide a value below the working precision)."""
    return (
        f"Table[{{ggLo[[ggI]], ggHi[[ggI]], Map[Precision, ggLo[[ggI]], {{-1}}], ggZ[{exact}]}}, "
        "{ggI, Length[ggLo]}]"
    )


def _checked(case: Case) -> str:
    """``ggChecked[rules]``: the point's answer, or a refusal of every quantity when the point is on
    a branch cut (see ``_CUTS``)."""
    n = len(quantity_names(case))
    reason = (
        '"the point is on or within 1e-10 of the branch cut of " <> ggBad[[1, 1]] <> ", where the '
        "function has no complex derivative; move the point off the cut (Log, Sqrt and fractional "
        'powers: the negative real axis; Abs and Sign of a complex w are Sqrt[w Conjugate[w]]: w = 0)"'
    )
    return (
        "    ggChecked[ggR_] := With[{ggBad = Select[ggCuts, TrueQ[ggOnCut[#[[1]], #[[2]] /. ggR]] &]},\n"
        f"      If[ggBad === {{}}, ggPoint[ggR], With[{{ggU = ggUnsupported[{reason}]}},\n"
        f"        Table[{{ggU, ggU, ggU, False}}, {{{n}}}]]]];\n"
    )


def _wrap(head: str, expr: str) -> str:
    """``head[expr]``, or ``expr`` itself when there is no head."""
    return f"{head}[{expr}]" if head else expr


def _symbolic(case: Case, p: int, q: int, f_at: str, split: str = "") -> str:
    """Quantities as exact expressions in the entry symbols; the point goes in before ``N``.
    ``split`` ("ggRI" for a complex case) turns each number into its real and imaginary parts."""
    rules = post_rules(case)
    lines, parts = [], ["ggFx"]
    if case.full_jacobian:
        previous = "ggFx"
        for k in range(1, case.order + 1):
            lines.append(f"ggD{k} = Map[D[{previous}, #] &, ggV] /. {rules}; ")
            parts.append(f"ggD{k}")
            previous = f"ggD{k}"
    if case.projections:
        if case.full_jacobian:
            parts.append("ggDirs . ggD1")
            if case.order >= 2:
                parts.append("Map[# . (# . ggD2) &, ggDirs]")
        else:  # exact in t: one univariate derivative per direction
            along = "ggFx /. Thread[ggV -> ggV + ggT #]"
            parts.append(f"Map[(D[{along}, ggT] /. {rules}) &, ggDirs]")
            if case.order >= 2:
                parts.append(f"Map[(D[{along}, {{ggT, 2}}] /. {rules}) &, ggDirs]")
    locals_ = ", ".join(f"ggD{k}" for k in range(1, case.order + 1))
    quantities = (
        f"    ggQs[ggFx_] := Module[{{{locals_}}},\n      {''.join(lines)}\n      {{{', '.join(parts)}}}];\n"
    )
    shared = "" if f_at != "ggF" else "    ggQ = ggQs[ggF];\n"
    expr = "ggQ" if f_at == "ggF" else f"ggQs[{f_at}]"
    point = (
        f"    ggPoint[ggR_] := With[{{ggE = {expr} /. ggR /. ggT -> 0}},\n"
        f"      With[{{ggLo = {_wrap(split, f'N[ggE, {p}]')}, ggHi = {_wrap(split, f'N[ggE, {q}]')}}}, "
        f"{_answers(_wrap(split, 'ggE[[ggI]]'))}]];\n"
    )
    return quantities + shared + point


def _substituted(case: Case, p: int, q: int, f_at: str, split: str = "") -> str:
    """Quantities at ``N[x0, P]`` for each working precision P: derivatives along ``t``."""
    rules = post_rules(case)
    along = "ggFx /. Thread[ggV -> ggX + ggT #]"
    exact_value = _wrap(split, f"{f_at} /. ggR")
    parts = ["N[ggFx /. ggR, ggP]"]
    if case.full_jacobian:
        parts.append(f"Map[(D[{along}, ggT] /. {rules} /. ggT -> 0) &, IdentityMatrix[Length[ggV]]]")
    if case.projections:
        parts.append(f"Map[(D[{along}, ggT] /. {rules} /. ggT -> 0) &, ggDirs]")
        if case.order >= 2:
            parts.append(f"Map[(D[{along}, {{ggT, 2}}] /. {rules} /. ggT -> 0) &, ggDirs]")
    return (
        "    ggAt[ggFx_, ggR_, ggP_] := With[{ggX = N[ggV /. ggR, ggP]},\n"
        f"      {{{', '.join(parts)}}}];\n"
        f"    ggPoint[ggR_] := With[{{ggLo = {_wrap(split, f'ggAt[{f_at}, ggR, {p}]')}, "
        f"ggHi = {_wrap(split, f'ggAt[{f_at}, ggR, {q}]')}}},\n"
        f"      {_answers(f'If[ggI == 1, {exact_value}, ggLo[[ggI]]]')}];\n"
    )
