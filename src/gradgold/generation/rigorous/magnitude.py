"""Per-element magnitudes of terms, computed by the rigorous evaluator in a second pass.

The checker's absolute allowance of an element is a multiple of its *magnitude of terms*
(:mod:`gradgold.golden`, :mod:`gradgold.compare`): floating point rounds a cancelling sum to about
``eps * sum |terms|``, however small its exact value. This module computes, for every quantity at
every point, the same derivative with every sum replaced by the sum of absolute values: a
*majorant* evaluation of the case's tree.

Every value is carried as a pair (:class:`Majorant`): its true Taylor series along the pass's
direction (which decides signs, branches and pivots, exactly as the reference pass does) and a
majorant series with nonnegative coefficients. The majorant of

- an input ``x0 + u t`` is ``|x0| + |u| t``; of a constant ``c``, ``|c|``;
- ``a + b`` and ``a - b`` is ``M(a) + M(b)``; of ``a * b``, ``M(a) M(b)``;
- ``f(s)`` for any head (``Exp``, ``Log``, ``Abs``, a Bessel function...) and for ``1/s`` is
  ``sum_k |f^(k)(s0)/k!| (M(s) - M0(s))^k``: ``|f(s0)|`` for the value, ``|f'(s0)| M1(s)`` for a first
  derivative (the chain rule with absolute values).

Each rule is a polynomial operation with nonnegative coefficients that do not depend on the
direction, so the majorant along a line is the restriction of one multivariate majorant: the
polarization that turns directional coefficients into Hessian entries (:mod:`.derivatives`) gives
its (nonnegative) mixed coefficients exactly. Every coefficient bounds the absolute value of the
true one (``M >= |true|``), with equality where nothing cancels. A projection ``<grad f, v>`` takes
the majorant along ``|v|``.

Only a case that asks (``magnitudes=True``) gets them: the majorant follows the sums of the
``wolfram=`` text, and where that text mirrors a formula whose cancellation torch should avoid
(``x - Tanh[x]``, a quotient rule), a magnitude would hide the bug the case records (the whole
suite regenerated with magnitudes turned 16 recorded failures into passes, bench/TOLERANCE.md).
The stored number is the ball's upper bound rounded up to :data:`DIGITS` significant digits, and a
quantity gets one only where some element's magnitude exceeds :data:`MATERIAL` times ``|ref|``
(elsewhere ``|ref|`` is the checker's magnitude already; the golden stays small). Where the pass
cannot be made (a removable singularity, a quotient whose denominator may be 0, a precision cap),
the case gets no magnitudes and the checker uses ``|ref|``: never a wrong magnitude, only a missing
one. Only the rigorous path computes magnitudes; a case the engine generates stores none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import arb, arb_series, ctx

from ...cases import Case, Point
from . import arrays as A
from .balls import NeedPrecision, Refusal, coefficient, const, lift
from .derivatives import NeedTerms, Passes, quantity_balls
from .evaluate import Unsupported, evaluate
from .rounding import to_fraction
from .tree import Expr

__all__ = ["DIGITS", "MATERIAL", "MagnitudeUnavailable", "Majorant", "magnitudes", "round_up"]

#: Significant digits of a stored magnitude (rounded up).
DIGITS = 3

#: A quantity stores magnitudes only where some element's exceeds this multiple of its ``|ref|``.
MATERIAL = 4.0

#: Working precision of the majorant pass, in bits, and the cap it may be doubled to.
_START_BITS, _MAX_BITS = 128, 2048


class MagnitudeUnavailable(ArithmeticError):
    """The majorant pass cannot be made at this point (a quotient whose denominator may be 0)."""


Number = arb_series | arb | Fraction | int


def _abs_series(s: arb_series) -> arb_series:
    """The coefficient-wise absolute value of a series (a constant's majorant)."""
    return arb_series([abs(coefficient(s, k)) for k in range(int(ctx.cap))])


def _tail(m: arb_series) -> arb_series:
    """``m - m0``: the part of a majorant that vanishes at t = 0."""
    return arb_series([arb(0), *[coefficient(m, k) for k in range(1, int(ctx.cap))]])


class Majorant:
    """A value's true series ``s`` and its majorant series ``m`` (module docstring)."""

    __slots__ = ("m", "s")

    def __init__(self, s: arb_series, m: arb_series) -> None:
        self.s, self.m = s, m

    @staticmethod
    def of(x: Any) -> Majorant:
        """A majorant pair for any scalar the evaluator handles (constants: their absolute value)."""
        if isinstance(x, Majorant):
            return x
        if isinstance(x, (Fraction, int)):
            s = const(Fraction(x))
        elif isinstance(x, arb):
            s = arb_series([x])
        elif isinstance(x, arb_series):
            s = x
        else:
            raise TypeError(f"no majorant for {type(x).__name__}")
        return Majorant(s, _abs_series(s))

    # --- what the evaluator reads of a series
    def __getitem__(self, k: int) -> arb:
        """The true k-th coefficient (``balls.coefficient``): decisions follow the true value."""
        return coefficient(self.s, k)

    @property
    def prec(self) -> int:
        return int(self.s.prec)

    # --- arithmetic: sums add majorants, products multiply them
    def __add__(self, other: Any) -> Majorant:
        o = Majorant.of(other)
        return Majorant(self.s + o.s, self.m + o.m)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Majorant:
        o = Majorant.of(other)
        return Majorant(self.s - o.s, self.m + o.m)

    def __rsub__(self, other: Any) -> Majorant:
        return Majorant.of(other) - self

    def __neg__(self) -> Majorant:
        return Majorant(-self.s, self.m)

    def __pos__(self) -> Majorant:
        return self

    def __mul__(self, other: Any) -> Majorant:
        o = Majorant.of(other)
        return Majorant(self.s * o.s, self.m * o.m)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Majorant:
        o = Majorant.of(other)
        quotient = self.s / o.s  # raises as a series division does: balls._divide decides why
        return Majorant(quotient, self.m * o.gradgold_apply(lambda u: 1 / u).m)

    def __rtruediv__(self, other: Any) -> Majorant:
        return Majorant.of(other) / self

    def __pow__(self, e: Any) -> Majorant:
        if isinstance(e, int) and e >= 0:
            return Majorant(self.s**e, self.m**e)
        if isinstance(e, Majorant):
            return (e * self.log()).exp()
        return self.gradgold_apply(lambda u: u**e)

    # --- every function of one argument: |f^(k)(s0)/k!| composed with the majorant's tail
    def gradgold_apply(self, fn: Callable[[arb_series], Any]) -> Majorant:
        """``fn`` of this value: the true series from ``fn(s)``, the majorant from the absolute
        Taylor coefficients of ``fn`` at the true ``s0`` (``balls.unary`` and ``balls.special`` hand
        every head here)."""
        true = lift(fn(self.s))
        c0 = coefficient(self.s, 0)
        try:
            taylor = lift(fn(arb_series([c0, arb(1)])))
        except (ZeroDivisionError, ValueError, NeedTerms) as exc:
            raise MagnitudeUnavailable(f"no Taylor expansion at {c0.str(5)}") from exc
        out = arb_series([abs(coefficient(taylor, int(ctx.cap) - 1))])
        tail = _tail(self.m)
        for k in range(int(ctx.cap) - 2, -1, -1):
            out = out * tail + abs(coefficient(taylor, k))
        return Majorant(true, out)

    # the series functions ``balls`` calls on a value
    def exp(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.exp())

    def log(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.log())

    def sin(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.sin())

    def cos(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.cos())

    def tan(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.tan())

    def atan(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.atan())

    def asin(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.asin())

    def acos(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.acos())

    def sqrt(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.sqrt())

    def rsqrt(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.rsqrt())

    def erf(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.erf())

    def erfc(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.erfc())

    def gamma(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.gamma())

    def lgamma(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.lgamma())

    def zeta(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.zeta())

    def ei(self) -> Majorant:
        return self.gradgold_apply(lambda u: u.ei())


class _MajorantPasses(Passes):
    """:class:`Passes` whose inputs are majorant pairs and whose coefficients are the majorant's."""

    majorant = True  # gradients and Hessians in one pass: derivatives.jet_tensors

    def _run(self, u: tuple[float, ...], order: int) -> tuple[tuple[int, ...], list[Any]]:
        ctx.cap = order + 1 + self.guard
        env: dict[str, Any] = {}
        start = 0
        for p in self.case.params:
            shape = tuple(self.case.shapes[p])
            size = math.prod(shape)
            items = [
                Majorant(
                    arb_series([arb(x), arb(abs(d))]) if d else arb_series([arb(x)]),
                    arb_series([abs(arb(x)), arb(abs(d))]),
                )
                for x, d in zip(self.x0[start : start + size], u[start : start + size], strict=True)
            ]
            env[self.case.wl_names[p]] = items[0] if not shape else A.obj_array(items, shape)
            start += size
        value = evaluate(self.tree, env)
        if isinstance(value, (str, bool)):
            raise Refusal(f"the expression evaluates to {value!r}, not a number")
        arr = A.as_array(value)
        return arr.shape, [Majorant.of(v) for v in arr.ravel()]

    def coefficients(self, u: tuple[float, ...], k: int, order: int | None = None) -> list[arb]:
        shape, pairs = self.run(tuple(abs(x) for x in u), order if order is not None else k)
        self.out_shape = shape
        out = []
        for item in pairs:
            pair = Majorant.of(item)  # every item of this runner's passes is one
            if pair.s.prec <= k:
                raise NeedTerms()
            out.append(coefficient(pair.m, k))
        return out


def round_up(ball: arb) -> float:
    """The ball's upper bound rounded up to :data:`DIGITS` significant digits, as the float64 at or
    above that decimal (so it is never below the true magnitude)."""
    hi = to_fraction(ball.upper())
    if hi <= 0:
        return 0.0
    with localcontext() as dc:
        dc.prec, dc.rounding = DIGITS, ROUND_CEILING
        d = Decimal(hi.numerator) / Decimal(hi.denominator)
    f = float(d)
    return f if Fraction(f) >= Fraction(d) else math.nextafter(f, math.inf)


Magnitudes = dict[str, npt.NDArray[np.float64]]


def _at_point(tree: Expr, case: Case, point: Point) -> tuple[Magnitudes, Magnitudes]:
    """(magnitudes, the same where the ball is certainly positive, else 0): a ball around 0 is an
    exact zero's rounding noise (a zero Hessian cross term out of polarization), never material."""
    bits, guard = _START_BITS, 0
    old_prec, old_cap = ctx.prec, ctx.cap
    try:
        while True:
            ctx.prec = bits
            try:
                balls = quantity_balls(tree, case, point, guard, passes=_MajorantPasses)
                out, positive = {}, {}
                for name, (shape, items) in balls.items():
                    values = [round_up(b) for b in items]
                    if not all(math.isfinite(v) for v in values):
                        raise MagnitudeUnavailable(f"quantity {name}: an infinite magnitude")
                    out[name] = np.array(values, dtype=np.float64).reshape(shape)
                    sure = [v if b > 0 else 0.0 for v, b in zip(values, items, strict=True)]
                    positive[name] = np.array(sure, dtype=np.float64).reshape(shape)
                return out, positive
            except NeedTerms:
                if guard >= 4:
                    raise MagnitudeUnavailable("a removable singularity") from None
                guard += 1
            except NeedPrecision as exc:
                if bits >= _MAX_BITS:
                    raise MagnitudeUnavailable(str(exc)) from None
                bits *= 2
    finally:
        ctx.prec, ctx.cap = old_prec, old_cap


def magnitudes(
    tree: Expr, case: Case, unique: Sequence[Point], numbers: Sequence[Mapping[str, npt.NDArray[np.float64]]]
) -> tuple[list[str], list[dict[str, npt.NDArray[np.float64]]]]:
    """(quantities that store a magnitude, per unique point their magnitudes): ``numbers`` are the
    rounded references at the same points. Empty unless the case asks (``magnitudes=True``), or
    when the majorant pass cannot be made at some point."""
    if not case.magnitudes:
        return [], []
    try:
        both = [_at_point(tree, case, p) for p in unique]
    except (MagnitudeUnavailable, Refusal, Unsupported, ZeroDivisionError, ValueError):
        return [], []
    per_point = [mags for mags, _ in both]
    material = []
    for name in per_point[0] if per_point else []:
        for (_, positive), refs in zip(both, numbers, strict=True):
            if np.any(positive[name] > MATERIAL * np.abs(refs[name])):
                material.append(name)
                break
    # never below the rounded reference (the loader's rule): the float64 reference may round up
    fixed = [
        {q: np.maximum(mags[q], np.abs(refs[q])) for q in material}
        for mags, refs in zip(per_point, numbers, strict=True)
    ]
    return material, fixed
