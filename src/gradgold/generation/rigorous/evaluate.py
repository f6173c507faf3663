"""Evaluate a held WL tree over series-valued inputs, with WL semantics and gradgold's rewrites.

The rewrites are those the engine program applies (``wlprogram.REWRITES``), so both evaluators mean
the same mathematics at kinks: ``Max[a, b]`` is ``(a + b + Abs[a - b])/2``, ``UnitStep[x]`` is
``(1 + Sign[x])/2``, ``Ramp[x]`` is ``(x + Abs[x])/2``, ``Clip`` is ``Min[Max[x, lo], hi]``,
two-argument ``ArcTan`` the half-angle form, ``Abs' = Sign`` (so every derivative of Abs at an exact
0 is 0), and ``Piecewise``/``If`` take the branch active at the point, refusing a point within a
relative 1e-10 of a boundary. A head it does not know raises :class:`Unsupported`, naming it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from flint import acb_series, arb, arb_series

from . import arrays as A
from . import complexes as C
from .balls import (
    SPECIAL_HEADS,
    UNARY_HEADS,
    NeedPrecision,
    Refusal,
    Unsupported,
    coefficient,
    decided_sign,
    divide,
    lift,
    power,
    special,
    unary,
)
from .parser import parse
from .tree import Call, Expr, Str, Sym, full_form, heads

__all__ = ["SUPPORTED_HEADS", "Unsupported", "evaluate", "unsupported_heads"]


@dataclass(frozen=True)
class Closure:
    """A pure function ``body &`` (slots ``#1``, ``#2``...)."""

    body: Expr


#: Statements a case may put before its expression with ``;``: derivative definitions the engine
#: needs and the evaluator already knows natively (its derivatives come from the same formulas).
_KNOWN_DEFINITIONS = frozenset(
    full_form(parse(t))
    for t in (
        "Derivative[0, 1][PolyGamma] = (PolyGamma[#1 + 1, #2] &)",
        "Derivative[0, 1][BesselY] = ((BesselY[#1 - 1, #2] - BesselY[#1 + 1, #2])/2 &)",
        "Derivative[1][ExpIntegralEi] = (Exp[#1]/#1 &)",
    )
)
_PROTECTION = ("Unprotect", "Protect")

_CONSTANTS: dict[str, Callable[[], arb]] = {
    "Pi": arb.pi,
    "E": lambda: arb(1).exp(),
    "EulerGamma": arb.const_euler,
    "Degree": lambda: arb.pi() / 180,
    "GoldenRatio": lambda: (1 + arb(5).sqrt()) / 2,
    "Catalan": arb.const_catalan,
}
_MARKERS = {"All": "All", "Infinity": "Infinity", "True": True, "False": False}

_COMPARISONS: dict[str, Callable[[arb, arb], tuple[bool, bool]]] = {
    # (certainly true, certainly false)
    "Less": lambda a, b: (bool(a < b), bool(a >= b)),
    "Greater": lambda a, b: (bool(a > b), bool(a <= b)),
    "LessEqual": lambda a, b: (bool(a <= b), bool(a > b)),
    "GreaterEqual": lambda a, b: (bool(a >= b), bool(a < b)),
    "Equal": lambda a, b: (bool(a == b), bool(a != b)),
    "Unequal": lambda a, b: (bool(a != b), bool(a == b)),
}

#: Relative distance to a Piecewise/If boundary under which a point is refused (as the engine's).
BOUNDARY = arb("1e-10")


class Evaluator:
    """Evaluates one tree for one binding of the inputs (one direction of one pass)."""

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env: dict[str, Any] = dict(env)

    def eval(self, e: Expr) -> Any:
        if isinstance(e, Fraction):
            return e
        if isinstance(e, Str):
            return e.text
        if isinstance(e, Sym):
            return self.symbol(e.name)
        if isinstance(e, Call):
            if isinstance(e.head, Sym):
                name = e.head.name
                if name in _HELD:
                    return _HELD[name](self, e.args)
                if name in self.env and isinstance(self.env[name], Closure):
                    return self.apply(self.env[name], [self.eval(a) for a in e.args])
                handler = _EVALUATED.get(name)
                if handler is None:
                    raise Unsupported(name)
                return handler([self.eval(a) for a in e.args])
            head = self.eval(e.head)
            if isinstance(head, Closure):
                return self.apply(head, [self.eval(a) for a in e.args])
            raise Unsupported(full_form(e.head), "a call whose head is an expression")
        raise Unsupported(type(e).__name__)

    def symbol(self, name: str) -> Any:
        if name in self.env:
            return self.env[name]
        if name in _CONSTANTS:
            return arb_series([_CONSTANTS[name]()])
        if name in _MARKERS:
            return _MARKERS[name]
        if name in _EVALUATED:
            return name  # a head used as a value: Outer[Times, ...]
        if name == "I":
            raise Unsupported("I", "the imaginary unit in a case with real inputs and a real value")
        raise Unsupported(name, "a free symbol (not a parameter of the case)")

    def apply(self, fn: Any, args: list[Any]) -> Any:
        if isinstance(fn, Closure):
            inner = Evaluator(self.env)
            for i, a in enumerate(args, 1):
                inner.env[f"#{i}"] = a
            return inner.eval(fn.body)
        if isinstance(fn, str) and fn in _EVALUATED:
            return _EVALUATED[fn](args)
        raise Unsupported(str(fn), "applying a non-function")


def _compound(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    for statement in args[:-1]:
        ok = isinstance(statement, Call) and (
            full_form(statement) in _KNOWN_DEFINITIONS
            or (isinstance(statement.head, Sym) and statement.head.name in _PROTECTION)
        )
        if not ok:
            raise Unsupported("CompoundExpression", f"the statement {full_form(statement)[:80]}")
    return ev.eval(args[-1])


def _function(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    if len(args) != 1:
        raise Unsupported("Function", "Function with named parameters")
    return Closure(args[0])


def _map(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    fn, items = _callable(ev, args[0]), ev.eval(args[1])
    arr = A.as_array(items)
    if arr.ndim == 0:
        raise Refusal("Map over a scalar")
    return A.from_items([ev.apply(fn, [_unwrap(v)]) for v in arr])


def _apply(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    fn, items = _callable(ev, args[0]), ev.eval(args[1])
    arr = A.as_array(items)
    return ev.apply(fn, [_unwrap(v) for v in arr])


def _unwrap(v: Any) -> Any:
    return v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v


def _callable(ev: Evaluator, e: Expr) -> Any:
    if isinstance(e, Sym) and e.name in _EVALUATED:
        return e.name
    fn = ev.eval(e)
    if not isinstance(fn, Closure):
        raise Unsupported(full_form(e), "a function argument that is not a head or a pure function")
    return fn


def _iterate(ev: Evaluator, body: Expr, specs: tuple[Expr, ...]) -> list[Any]:
    """Values of ``body`` over WL iterators ``{i, n}``, ``{i, a, b}``, ``{i, a, b, step}``
    (nested: the first iterator outermost); returns nested lists."""
    if not specs:
        return ev.eval(body)  # type: ignore[no-any-return]
    spec = specs[0]
    if not (isinstance(spec, Call) and spec.head == Sym("List") and isinstance(spec.args[0], Sym)):
        raise Unsupported("Table", f"iterator {full_form(spec)}")
    var = spec.args[0].name
    bounds = [ev.eval(a) for a in spec.args[1:]]
    if not all(isinstance(b, Fraction) for b in bounds) or not 1 <= len(bounds) <= 3:
        raise Unsupported("Table", "iterator bounds that are not exact numbers")
    lo, hi, step = (
        (Fraction(1), bounds[0], Fraction(1))
        if len(bounds) == 1
        else (*bounds[:2], bounds[2] if len(bounds) == 3 else Fraction(1))
    )
    if step == 0:
        raise Refusal("Table: iterator step 0")
    out = []
    i = lo
    inner = Evaluator(ev.env)
    while (i <= hi) if step > 0 else (i >= hi):
        inner.env[var] = i
        out.append(_iterate(inner, body, specs[1:]))
        i += step
    return out


def _table(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    nested = _iterate(ev, args[0], args[1:])
    return _as_value(nested, len(args) - 1)


def _as_value(nested: Any, depth: int) -> Any:
    if depth == 0:
        return nested
    return A.from_items([_as_value(x, depth - 1) for x in nested])


def _sum(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    nested = _iterate(ev, args[0], args[1:])
    flat: list[Any] = []

    def walk(x: Any, depth: int) -> None:
        if depth == 0:
            flat.append(x)
        else:
            for y in x:
                walk(y, depth - 1)

    walk(nested, len(args) - 1)
    if not flat:
        return Fraction(0)
    out = flat[0]
    for x in flat[1:]:
        out = A.listable(A.add, out, x)
    return out


def _truth(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise Refusal(f"a condition is not True or False at this point ({v!r})")


def _condition(ev: Evaluator, e: Expr) -> bool:
    if isinstance(e, Call) and isinstance(e.head, Sym):
        name = e.head.name
        if name in _COMPARISONS:
            vals = [_value_ball(ev.eval(a)) for a in e.args]
            return all(_compare(name, a, b) for a, b in itertools.pairwise(vals))
        if name == "And":
            return all(_condition(ev, a) for a in e.args)
        if name == "Or":
            return any(_condition(ev, a) for a in e.args)
        if name == "Not":
            return not _condition(ev, e.args[0])
    return _truth(ev.eval(e))


def _value_ball(v: Any) -> arb:
    if isinstance(v, np.ndarray):
        raise Refusal("a comparison of lists is not a condition")
    if isinstance(v, acb_series):
        raise Unsupported("Less", "a comparison of complex numbers")
    return coefficient(lift(v), 0)


def _compare(name: str, a: arb, b: arb) -> bool:
    yes, no = _COMPARISONS[name](a, b)
    if yes == no:
        raise NeedPrecision(f"{name}: cannot decide {a.str(5)} against {b.str(5)}")
    return yes


_INEQUALITIES = frozenset(Sym(n) for n in ("Less", "Greater", "LessEqual", "GreaterEqual"))


def _boundaries(ev: Evaluator, conditions: list[Expr]) -> None:
    """Refuse a point within a relative 1e-10 of any inequality in the conditions (the engine's rule)."""
    for cond in conditions:
        for node in _walk(cond):
            if isinstance(node, Call) and node.head in _INEQUALITIES:
                a, b = (_value_ball(ev.eval(x)) for x in node.args[:2])
                dist = abs(a - b) / (1 + abs(a) + abs(b))
                if dist < BOUNDARY:
                    raise Refusal(
                        "the point is on or within 1e-10 of a Piecewise/If boundary, where the derivative "
                        "may not exist; move the point, or declare the expected result with expect="
                    )
                if not dist > BOUNDARY:
                    raise NeedPrecision("Piecewise boundary distance undecided")


def _walk(e: Expr) -> list[Expr]:
    out, stack = [], [e]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, Call):
            stack.extend(n.args)
    return out


def _piecewise(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    cases = args[0]
    if not (isinstance(cases, Call) and cases.head == Sym("List")):
        raise Unsupported("Piecewise", "a first argument that is not a literal list of {value, condition}")
    pairs = []
    for c in cases.args:
        if not (isinstance(c, Call) and c.head == Sym("List") and len(c.args) == 2):
            raise Unsupported("Piecewise", f"the entry {full_form(c)[:60]}")
        pairs.append((c.args[0], c.args[1]))
    default: Expr = args[1] if len(args) > 1 else Fraction(0)
    return _pick(ev, pairs, default)


def _if(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    if len(args) != 3:
        raise Unsupported("If", "If without exactly a condition and two branches")
    return _pick(ev, [(args[1], args[0])], args[2])


def _pick(ev: Evaluator, pairs: list[tuple[Expr, Expr]], default: Expr) -> Any:
    _boundaries(ev, [c for _, c in pairs])
    for value, cond in pairs:
        if _condition(ev, cond):
            return ev.eval(value)
    return ev.eval(default)


def _boole(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    return Fraction(int(_condition(ev, args[0])))


def _times(ev: Evaluator, args: tuple[Expr, ...]) -> Any:
    """``Times`` with its ``Power[b, -n]`` factors divided out at the end, as one division: so
    ``(1 - Cos[x])/x^2`` at 0 is a quotient of two series (a removable singularity), not a product
    with a pole."""
    numerators, denominators = [], []
    for a in args:
        if (
            isinstance(a, Call)
            and a.head == Sym("Power")
            and len(a.args) == 2
            and isinstance(a.args[1], Fraction)
            and a.args[1] < 0
            and a.args[1].denominator == 1
        ):
            base = ev.eval(a.args[0])
            denominators.append(A.listable(power, base, -a.args[1]))
        else:
            numerators.append(ev.eval(a))
    top = _fold("Times", numerators)
    if not denominators:
        return top
    return A.listable(divide, top, _fold("Times", denominators))


_HELD: dict[str, Callable[[Evaluator, tuple[Expr, ...]], Any]] = {
    "Times": _times,
    "CompoundExpression": _compound,
    "Function": _function,
    "Map": _map,
    "Apply": _apply,
    "Table": _table,
    "Sum": _sum,
    "Piecewise": _piecewise,
    "If": _if,
    "Boole": _boole,
}


def _fold(op: str, args: list[Any]) -> Any:
    if not args:
        return Fraction(0 if op == "Plus" else 1)
    out = args[0]
    for a in args[1:]:
        out = A.listable(A.ARITH[op], out, a)
    return out


def _max_min(sign: int) -> Callable[[list[Any]], Any]:
    """The engine's rewrite: ``Max[list]`` is ``Max @@ list``, ``Max[a, b, c]`` nests, and
    ``Max[a, b] = (a + b + Abs[a - b])/2`` (``Min`` with ``-``), threaded over lists."""

    def pair(a: Any, b: Any) -> Any:
        s, d = A.add(a, b), A.add(a, A.mul(Fraction(-1), b))
        return A.mul(Fraction(1, 2), A.add(s, A.mul(Fraction(sign), unary("Abs", d))))

    def run(args: list[Any]) -> Any:
        if len(args) == 1 and isinstance(args[0], np.ndarray):
            args = [_unwrap(v) for v in args[0]]
        if not args:
            raise Refusal("Max/Min of nothing")
        out = args[0]
        for b in args[1:]:
            out = A.listable(pair, out, b)
        return out

    return run


def _clip(args: list[Any]) -> Any:
    lo, hi = (Fraction(-1), Fraction(1)) if len(args) == 1 else tuple(_unwrap(v) for v in A.as_array(args[1]))
    return _max_min(-1)([_max_min(1)([args[0], lo]), hi])


def _arctan(args: list[Any]) -> Any:
    if len(args) == 1:
        return A.map_scalar(lambda v: unary("ArcTan", v), args[0])
    x, y = args

    def half_angle(x: Any, y: Any) -> Any:
        r = unary("Sqrt", A.add(A.mul(x, x), A.mul(y, y)))
        return A.mul(Fraction(2), unary("ArcTan", divide(y, A.add(r, x))))

    return A.listable(half_angle, x, y)


def _exact_int_fn(name: str, fn: Callable[..., Fraction]) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        if not all(isinstance(a, Fraction) for a in args):
            raise Unsupported(name, "of a quantity that depends on the inputs")
        return fn(*args)

    return run


def _log(args: list[Any]) -> Any:
    if len(args) == 2:
        return A.listable(lambda b, x: special("Log", [b, x]), args[0], args[1])
    return A.map_scalar(lambda v: unary("Log", v), args[0])


def _listable_special(name: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        if len(args) == 2:
            return A.listable(lambda a, b: special(name, [a, b]), args[0], args[1])
        if any(isinstance(a, np.ndarray) for a in args):
            raise Unsupported(name, "with list arguments")
        return special(name, args)

    return run


def _unary_head(name: str) -> Callable[[list[Any]], Any]:
    def run(args: list[Any]) -> Any:
        if len(args) != 1:
            raise Unsupported(name, f"with {len(args)} arguments")
        return A.map_scalar(lambda v: unary(name, v), args[0])

    return run


def _arg(v: Any) -> Any:
    """``Arg``: of a complex series the engine's half-angle form (:mod:`.complexes`); of a real
    one 0 or Pi by its sign (refused at 0)."""
    if isinstance(v, acb_series):
        return unary("Arg", v)
    sign = decided_sign(coefficient(lift(v), 0), "Arg")
    if sign == 0:
        raise Refusal("Arg[0] is not differentiable (the argument of 0); move the point")
    return Fraction(0) if sign > 0 else arb_series([arb.pi()])


def _dot(args: list[Any]) -> Any:
    out = args[0]
    for b in args[1:]:
        out = A.dot(out, b)
    return out


def _subtract(args: list[Any]) -> Any:
    return A.listable(A.add, args[0], A.listable(A.mul, Fraction(-1), args[1]))


def _divide(args: list[Any]) -> Any:
    return A.listable(divide, args[0], args[1])


def _flatten(args: list[Any]) -> Any:
    if len(args) != 1:
        raise Unsupported("Flatten", "with a level specification")
    return A.as_array(args[0]).ravel()


def _identity(args: list[Any]) -> Any:
    n = args[0]
    if not isinstance(n, Fraction) or n.denominator != 1 or n < 1:
        raise Refusal("IdentityMatrix[n] needs a positive integer n")
    return A.identity(int(n))


def _outer(args: list[Any]) -> Any:
    if args[0] != "Times" or len(args) != 3:
        raise Unsupported("Outer", "other than Outer[Times, a, b]")
    return A.outer_times(args[1], args[2])


def _part(args: list[Any]) -> Any:
    specs = []
    for s in args[1:]:
        if isinstance(s, np.ndarray):
            specs.append([_unwrap(v) for v in s])
        else:
            specs.append(s)
    return A.part(args[0], specs)


def _span(args: list[Any]) -> Any:
    if len(args) != 2:
        raise Unsupported("Span", "with a step")
    hi = Fraction(-1) if args[1] == "All" else args[1]
    return (args[0], hi)


def _total(args: list[Any]) -> Any:
    if len(args) == 1:
        return A.total(args[0])
    level = args[1]
    if not isinstance(level, Fraction) or level.denominator != 1:
        raise Unsupported("Total", "with a level that is not an integer")
    return A.total(args[0], int(level))


def _list(args: list[Any]) -> Any:
    return A.from_items(args)


_EVALUATED: dict[str, Callable[[list[Any]], Any]] = {
    "Plus": lambda a: _fold("Plus", a),
    "Times": lambda a: _fold("Times", a),
    "Power": lambda a: A.listable(power, a[0], a[1]),
    "Subtract": _subtract,
    "Divide": _divide,
    "Minus": lambda a: A.listable(A.mul, Fraction(-1), a[0]),
    "List": _list,
    "Dot": _dot,
    "Transpose": lambda a: A.transpose(a[0]),
    "Total": _total,
    "Tr": lambda a: A.tr(a[0]),
    "Det": lambda a: A.det(a[0]),
    "Inverse": lambda a: A.inverse(a[0]),
    "LinearSolve": lambda a: A.solve(a[0], a[1]),
    "Norm": lambda a: A.norm(a[0], a[1] if len(a) > 1 else None),
    "Part": _part,
    "Span": _span,
    "Flatten": _flatten,
    "IdentityMatrix": _identity,
    "Outer": _outer,
    "Cross": lambda a: A.cross(a[0], a[1]),
    "Max": _max_min(1),
    "Min": _max_min(-1),
    "Clip": _clip,
    "Ramp": lambda a: A.listable(
        A.mul, Fraction(1, 2), A.listable(A.add, a[0], A.map_scalar(lambda v: unary("Abs", v), a[0]))
    ),
    "UnitStep": lambda a: A.listable(
        A.mul, Fraction(1, 2), A.listable(A.add, Fraction(1), A.map_scalar(lambda v: unary("Sign", v), a[0]))
    ),
    "ArcTan": _arctan,
    "Log": _log,
    "Re": lambda a: A.map_scalar(C.real, a[0]),
    "Im": lambda a: A.map_scalar(C.imag, a[0]),
    "Conjugate": lambda a: A.map_scalar(C.conjugate, a[0]),
    "Arg": lambda a: A.map_scalar(_arg, a[0]),
    "Mod": _exact_int_fn("Mod", lambda a, b: a - b * (a // b)),
    "Ceiling": _exact_int_fn("Ceiling", lambda a: Fraction(-((-a.numerator) // a.denominator))),
    "Floor": _exact_int_fn("Floor", lambda a: Fraction(a.numerator // a.denominator)),
}
for _name in sorted(UNARY_HEADS - {"ArcTan", "Log"}):
    _EVALUATED[_name] = _unary_head(_name)
for _name in sorted(SPECIAL_HEADS):
    _EVALUATED[_name] = _listable_special(_name)
_EVALUATED["Zeta"] = lambda a: _unary_head("Zeta")(a) if len(a) == 1 else _listable_special("Zeta")(a)

#: Heads the evaluator implements (held and evaluated), plus the symbols it knows.
SUPPORTED_HEADS = frozenset(_HELD) | frozenset(_EVALUATED) | frozenset(_COMPARISONS) | {"And", "Or", "Not"}


def unsupported_heads(tree: Expr) -> list[str]:
    """The heads of ``tree`` the evaluator does not know (empty: it can try the case); the known
    derivative definitions a case may state before its expression are not evaluated, so not counted."""
    if isinstance(tree, Call) and tree.head == Sym("CompoundExpression"):
        known = [s for s in tree.args[:-1] if isinstance(s, Call) and full_form(s) in _KNOWN_DEFINITIONS]
        rest = [s for s in tree.args if s not in known]
        return sorted(
            {h for s in rest for h in unsupported_heads(s)} - set(_PROTECTION) - {"CompoundExpression"}
        )
    return sorted(h for h in heads(tree) if h not in SUPPORTED_HEADS)


def evaluate(tree: Expr, env: Mapping[str, Any]) -> Any:
    """The value of ``tree`` with parameters bound as in ``env`` (series or arrays of series)."""
    return Evaluator(env).eval(tree)
