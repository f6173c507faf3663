"""Gradients and Hessians in one pass: every value carries its gradient and Hessian over all inputs.

The directional passes of :mod:`.derivatives` take one pass per input for a gradient and one per
pair of inputs for a Hessian (polarization: 14,365 passes for 169 inputs). Here a value is a
:class:`Jet` ``(v, g, H)``: a ball, the ball vector of its gradient and the ball matrix of its
Hessian over all ``N`` scalar inputs (``arb_mat``, whose arithmetic runs in C). The rules are the
exact product and chain rules, in ball arithmetic, so every entry is a proven enclosure:

- ``(a + b)``: ``v + v', g + g', H + H'``; ``a b``: ``v v', v g' + v' g, v H' + v' H + g'g'^T + g'^T g``
  (outer products of the gradients);
- ``f(a)`` for any head: ``f(v), f'(v) g, f'(v) H + f''(v) g^T g``, with ``f, f', f''/2`` the Taylor
  coefficients at ``v`` of the very series function the directional passes use
  (``balls.unary``/``balls.special`` hand every head to :meth:`Jet.gradgold_apply`), so both paths
  mean the same mathematics at kinks (``Abs' = Sign``) and branches.

What a Jet cannot do (a removable singularity, where the value's denominator contains 0; a
parameter that must be constant; a complex case) raises :class:`JetUnavailable`, and the caller
evaluates by directional passes instead: never a different answer, only a slower one.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, Self

from flint import arb, arb_mat, arb_series, ctx

from .balls import NeedTerms, coefficient, const

__all__ = ["Jet", "JetUnavailable", "MajorantJet", "SparseRow"]


class JetUnavailable(ArithmeticError):
    """This evaluation needs directional Taylor passes (see the module docstring)."""


class SparseRow:
    """A gradient row over all N inputs holding only its nonzero entries (index -> ball): for a
    first-order pass, where no Hessian needs the dense row. ``f(x_i)`` then carries one entry instead
    of N, so a gradient over N inputs of an expression whose every term involves a few inputs
    (``Total[Sin[x]]``, ``x . x``) costs O(N) balls where a dense row costs O(N^2) (bench/RIGOROUS.md:
    10^4 inputs in seconds and megabytes instead of gigabytes). The entries are the dense row's,
    ball for ball: an absent entry is an exact 0, which adds and scales exactly."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict[int, arb]) -> None:
        self.entries = entries

    def __add__(self, other: SparseRow) -> SparseRow:
        big, small = (self, other) if len(self.entries) >= len(other.entries) else (other, self)
        out = dict(big.entries)
        for k, v in small.entries.items():
            out[k] = out[k] + v if k in out else v
        return SparseRow(out)

    def __mul__(self, c: arb) -> SparseRow:
        return SparseRow({k: v * c for k, v in self.entries.items()})

    def __getitem__(self, at: tuple[int, int]) -> arb:
        """Entry ``[0, e]``, as an ``arb_mat`` row is read."""
        found = self.entries.get(at[1])
        return found if found is not None else arb(0)


Matrix = arb_mat | SparseRow | None  # None: exactly zero


def _add(a: Matrix, b: Matrix) -> Matrix:
    if a is None:
        return b
    if b is None:
        return a
    out: arb_mat | SparseRow = a + b  # type: ignore[operator]  # both dense or both sparse
    return out


def _scale(a: Matrix, c: arb) -> Matrix:
    if a is None or c.is_zero():
        return None
    out: arb_mat | SparseRow = a * c
    return out


def _outer(g: Matrix, h: Matrix) -> Matrix:
    """``g^T h + h^T g`` (symmetric) for row gradients ``g``, ``h`` (dense: a second-order pass)."""
    if g is None or h is None:
        return None
    if not (isinstance(g, arb_mat) and isinstance(h, arb_mat)):
        raise JetUnavailable("a Hessian needs dense gradient rows")
    gt_h: arb_mat = g.transpose() * h
    return gt_h + gt_h.transpose()


def _product_rule(av: arb, ag: Matrix, ah: Matrix, bv: arb, bg: Matrix, bh: Matrix) -> tuple[Matrix, Matrix]:
    """Gradient and Hessian of ``a b``: ``v g' + v' g`` and ``v H' + v' H + g'^T g + g^T g'``."""
    g = _add(_scale(bg, av), _scale(ag, bv))
    h = _add(_add(_scale(bh, av), _scale(ah, bv)), _outer(ag, bg)) if Jet.second else None
    return g, h


def _chain_rule(g: Matrix, h: Matrix, f1: arb, f2: arb) -> tuple[Matrix, Matrix]:
    """Gradient and Hessian of ``f(a)`` from ``f'`` and ``f''/2`` at its value:
    ``f' g`` and ``f' H + f'' g^T g`` (``f''/2 (2 g^T g)``)."""
    hessian = _add(_scale(h, f1), _scale(_outer(g, g), f2)) if Jet.second else None
    return _scale(g, f1), hessian


class _Heads:
    """The elementary heads the evaluator calls as methods, each through ``gradgold_apply`` (the
    chain rule of the subclass)."""

    __slots__ = ()

    def gradgold_apply(self, fn: Callable[[arb_series], Any]) -> Self:
        raise NotImplementedError

    def exp(self) -> Self:
        return self.gradgold_apply(lambda u: u.exp())

    def log(self) -> Self:
        return self.gradgold_apply(lambda u: u.log())

    def sqrt(self) -> Self:
        return self.gradgold_apply(lambda u: u.sqrt())

    def rsqrt(self) -> Self:
        return self.gradgold_apply(lambda u: u.rsqrt())

    def sin(self) -> Self:
        return self.gradgold_apply(lambda u: u.sin())

    def cos(self) -> Self:
        return self.gradgold_apply(lambda u: u.cos())

    def atan(self) -> Self:
        return self.gradgold_apply(lambda u: u.atan())


class Jet(_Heads):
    """A value, its gradient (1 x N) and, for order 2, its Hessian (N x N) over all inputs."""

    __slots__ = ("g", "h", "v")

    #: Whether Hessians are carried (order 2) in the pass being evaluated.
    second = True

    def __init__(self, v: arb, g: Matrix = None, h: Matrix = None) -> None:
        self.v, self.g, self.h = v, g, h

    @staticmethod
    def of(x: Any) -> Jet:
        """A constant (an exact rational, a ball, a constant series) as a Jet."""
        if isinstance(x, Jet):
            return x
        if isinstance(x, (Fraction, int)):
            return Jet(coefficient(const(Fraction(x)), 0))
        if isinstance(x, arb):
            return Jet(x)
        if isinstance(x, arb_series) and all(coefficient(x, k).is_zero() for k in range(1, x.length())):
            return Jet(coefficient(x, 0))
        raise JetUnavailable(f"no jet for {type(x).__name__}")

    # --- what the evaluator reads of a series: only the value decides signs and branches
    def __getitem__(self, k: int) -> arb:
        if k == 0:
            return self.v
        raise JetUnavailable("a Taylor coefficient beyond the value (a parameter that must be constant)")

    # --- arithmetic
    def __add__(self, other: Any) -> Jet:
        o = Jet.of(other)
        return Jet(self.v + o.v, _add(self.g, o.g), _add(self.h, o.h))

    __radd__ = __add__

    def __neg__(self) -> Jet:
        return self * arb(-1)

    def __pos__(self) -> Jet:
        return self

    def __sub__(self, other: Any) -> Jet:
        return self + (-Jet.of(other))

    def __rsub__(self, other: Any) -> Jet:
        return Jet.of(other) + (-self)

    def __mul__(self, other: Any) -> Jet:
        o = Jet.of(other)
        return Jet(self.v * o.v, *_product_rule(self.v, self.g, self.h, o.v, o.g, o.h))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Jet:
        return self * Jet.of(other).gradgold_apply(lambda u: 1 / u)

    def __rtruediv__(self, other: Any) -> Jet:
        return Jet.of(other) / self

    def __pow__(self, e: Any) -> Jet:
        if isinstance(e, int) and e >= 0:
            out = Jet.of(1)
            for _ in range(e):
                out = out * self
            return out
        if isinstance(e, Jet):
            return (e * self.log()).exp()
        return self.gradgold_apply(lambda u: u**e)

    @staticmethod
    def gradgold_sum(items: list[Jet]) -> Jet:
        """``items[0] + items[1] + ...`` (``arrays._sum``): the additions of the left fold, in its
        order, but sparse gradient rows accumulated in one dict instead of copied at every step
        (linear instead of quadratic in the number of terms). Dense rows and Hessians: the fold."""
        if Jet.second or not all(it.g is None or isinstance(it.g, SparseRow) for it in items):
            out = items[0]
            for it in items[1:]:
                out = out + it
            return out
        v, any_row = items[0].v, False
        acc: dict[int, arb] = {}
        for i, it in enumerate(items):
            v = v + it.v if i else v
            if isinstance(it.g, SparseRow):
                any_row = True
                for k, x in it.g.entries.items():
                    acc[k] = acc[k] + x if k in acc else x
        return Jet(v, SparseRow(acc) if any_row else None)

    # --- every function of one argument, by its Taylor coefficients at the value
    def gradgold_apply(self, fn: Callable[[arb_series], Any]) -> Jet:
        """``fn`` of this value by the chain rule (``balls.unary``/``balls.special`` call this)."""
        f0, f1, f2 = _taylor(fn, self.v)
        return Jet(f0, *_chain_rule(self.g, self.h, f1, f2))


class MajorantJet(_Heads):
    """The magnitude pass's pair (:class:`.magnitude.Majorant`) as a jet: the true value ``t``
    (which decides signs, branches and pivots) and the majorant's value, gradient and Hessian over
    all inputs, nonnegative: sums add majorants, products multiply them, and ``f(a)`` is
    ``|f(t)|, |f'(t)| g, |f'(t)| H + |f''(t)| g^T g`` (the chain rule with absolute values). The
    mixed coefficients of the multivariate majorant are what the polarization of directional
    majorant passes gives, in one pass."""

    __slots__ = ("g", "h", "t", "v")

    def __init__(self, t: arb, v: arb, g: Matrix = None, h: Matrix = None) -> None:
        self.t, self.v, self.g, self.h = t, v, g, h

    @staticmethod
    def of(x: Any) -> MajorantJet:
        if isinstance(x, MajorantJet):
            return x
        c = Jet.of(x).v  # a constant (anything else is refused as Jet.of refuses it)
        return MajorantJet(c, abs(c))

    def __getitem__(self, k: int) -> arb:
        if k == 0:
            return self.t
        raise JetUnavailable("a Taylor coefficient beyond the value (a parameter that must be constant)")

    def __add__(self, other: Any) -> MajorantJet:
        o = MajorantJet.of(other)
        return MajorantJet(self.t + o.t, self.v + o.v, _add(self.g, o.g), _add(self.h, o.h))

    __radd__ = __add__

    def __neg__(self) -> MajorantJet:
        return MajorantJet(-self.t, self.v, self.g, self.h)

    def __pos__(self) -> MajorantJet:
        return self

    def __sub__(self, other: Any) -> MajorantJet:
        return self + (-MajorantJet.of(other))

    def __rsub__(self, other: Any) -> MajorantJet:
        return MajorantJet.of(other) + (-self)

    def __mul__(self, other: Any) -> MajorantJet:
        o = MajorantJet.of(other)
        return MajorantJet(self.t * o.t, self.v * o.v, *_product_rule(self.v, self.g, self.h, o.v, o.g, o.h))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> MajorantJet:
        return self * MajorantJet.of(other).gradgold_apply(lambda u: 1 / u)

    def __rtruediv__(self, other: Any) -> MajorantJet:
        return MajorantJet.of(other) / self

    def __pow__(self, e: Any) -> MajorantJet:
        if isinstance(e, int) and e >= 0:
            out = MajorantJet.of(1)
            for _ in range(e):
                out = out * self
            return out
        if isinstance(e, MajorantJet):
            return (e * self.log()).exp()
        return self.gradgold_apply(lambda u: u**e)

    def gradgold_apply(self, fn: Callable[[arb_series], Any]) -> MajorantJet:
        true, c1, c2 = _taylor(fn, self.t)
        return MajorantJet(true, abs(true), *_chain_rule(self.g, self.h, abs(c1), abs(c2)))


def _taylor(fn: Callable[[arb_series], Any], at: arb) -> tuple[arb, arb, arb]:
    """``f(at), f'(at), f''(at)/2`` of a series function, or :class:`JetUnavailable`."""
    old = ctx.cap
    ctx.cap = 3
    try:
        taylor = fn(arb_series([at, arb(1)]))
    except (ZeroDivisionError, ValueError, NeedTerms) as exc:
        raise JetUnavailable(f"no Taylor expansion at {at.str(5)}") from exc
    finally:
        ctx.cap = old
    if isinstance(taylor, Fraction):
        return Jet.of(taylor).v, arb(0), arb(0)
    f0, f1, f2 = (coefficient(taylor, k) for k in range(3))
    if not (f0.is_finite() and f1.is_finite() and f2.is_finite()):
        raise JetUnavailable(f"a non-finite Taylor coefficient at {at.str(5)}")
    return f0, f1, f2
