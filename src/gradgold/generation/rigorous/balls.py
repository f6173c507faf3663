"""Scalar functions on truncated Taylor series of balls (python-flint's ``arb_series``).

Every value the evaluator handles is a series ``c0 + c1 t + ... + cK t^K`` along one direction
``t``, each coefficient an Arb ball proven to contain the exact coefficient; ``c0`` is the value
and ``k! ck`` the k-th directional derivative. Functions python-flint has as series (exp, log, sin,
erf, gamma, zeta...) are used directly; the others are composed from their derivatives at ``c0``,
``f(c0 + h) = sum f^(k)(c0)/k! h^k``, which are closed forms here (Bessel recurrences, polygamma
from the series of lgamma, the inverse error function by series reversion).

Where a result is not a real number (Log of a negative), :class:`Refusal` says so; where the
ball is too wide to decide something (a sign, a branch), :class:`NeedPrecision` asks the caller
to raise the working precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any, cast

from flint import acb, acb_series, arb, arb_series, ctx, fmpq

__all__ = [
    "NeedPrecision",
    "NeedTerms",
    "Pole",
    "Refusal",
    "Unsupported",
    "coefficient",
    "const",
    "decided_sign",
    "lift",
    "power",
    "special",
    "unary",
]


class NeedPrecision(ArithmeticError):
    """A ball is too wide to decide a sign, a branch or a pivot: raise the working precision."""


class NeedTerms(ArithmeticError):
    """A removable singularity (0/0 at the point) consumed series terms: evaluate with more."""


class Refusal(ArithmeticError):
    """The exact result is not a finite real number, or is undefined (a pole, a complex value)."""


class Pole(Refusal):
    """The expression is infinite at the point (a pole, a logarithmic singularity): refused unless
    the case states with ``expect=`` what torch must give there (:mod:`.reference`)."""


class Unsupported(LookupError):
    """The tree uses a head (or a construct) the rigorous evaluator does not implement."""

    def __init__(self, head: str, detail: str = "") -> None:
        super().__init__(head)
        self.head, self.detail = head, detail


#: A scalar: an exact rational, or a series of real (``arb_series``) or complex (``acb_series``,
#: complex cases only: :mod:`.complexes`) balls.
Scalar = arb_series | acb_series | Fraction


def const(q: Fraction | int) -> arb_series:
    """An exact rational as a constant series (a ball around it at the working precision)."""
    q = Fraction(q)
    if q.denominator == 1:
        return arb_series([arb(q.numerator)])
    return arb_series([arb(fmpq(q.numerator, q.denominator))])


def lift(x: Scalar) -> arb_series:
    """A scalar as a series (exact rationals become constant series; a magnitude pass's pair,
    :class:`~.magnitude.Majorant`, and a complex case's ``acb_series`` stay as they are: typed as
    the real series, whose interface they share)."""
    return const(x) if isinstance(x, (Fraction, int)) else cast(arb_series, x)


def coefficient(s: arb_series, k: int) -> arb:
    """The k-th Taylor coefficient (python-flint drops trailing zeros from ``coeffs()``); an
    ``acb`` of an ``acb_series`` (typed as ``arb``, as :func:`lift`)."""
    c: arb = s[k]  # 0 beyond the stored terms
    return c


def decided_sign(x: arb, what: str) -> int:
    """-1, 0 or 1 for a ball that decides it (0 only for an exact zero)."""
    if x.is_zero():
        return 0
    if x > 0:
        return 1
    if x < 0:
        return -1
    if not x.is_finite():
        raise Refusal(f"{what}: the argument is not a finite number")
    raise NeedPrecision(f"{what}: the sign of {x.str(5)} is not decided")


def _shift(s: Any) -> tuple[Any, Any]:
    """``c0`` and ``s - c0`` (the part that vanishes at t = 0)."""
    c0 = coefficient(s, 0)
    return c0, s - c0


def compose(s: arb_series, derivs: list[arb]) -> arb_series:
    """``sum derivs[k] (s - c0)^k``: f(s) from f's Taylor coefficients ``f^(k)(c0)/k!`` at ``c0``
    (real or complex balls)."""
    _, h = _shift(s)
    out: arb_series = (acb_series if isinstance(derivs[-1], acb) else arb_series)([derivs[-1]])
    for d in reversed(derivs[:-1]):
        out = out * h + d
    return out


def _order() -> int:
    return int(ctx.cap) - 1


def _taylor(c0: arb, series_fn: Callable[[arb_series], arb_series], extra: int = 0) -> list[arb]:
    """Taylor coefficients at ``c0`` of a function python-flint has as a series."""
    old = ctx.cap
    ctx.cap = old + extra
    try:
        s = series_fn(arb_series([c0, 1]))
        return [coefficient(s, k) for k in range(old + extra)]
    finally:
        ctx.cap = old


def _real(x: arb, what: str) -> arb:
    if not x.is_finite():
        raise Refusal(f"{what}: not a finite real number here")
    return x


def _domain(c0: arb, what: str, low: float | None = None, high: float | None = None, *, open_: bool) -> None:
    """Refuse an argument outside a real function's domain, ask for precision when undecided."""
    for bound, inside in (
        (low, lambda b: c0 > b if open_ else c0 >= b),
        (high, lambda b: c0 < b if open_ else c0 <= b),
    ):
        if bound is None:
            continue
        b = arb(bound)
        if inside(b):  # type: ignore[no-untyped-call]
            continue
        outside = (c0 <= b if open_ else c0 < b) if bound == low else (c0 >= b if open_ else c0 > b)
        if outside:
            side = "above" if bound == low else "below"
            raise Refusal(
                f"{what} is not real (or not defined) at {c0.mid().str(12)}: its real domain lies "
                f"{side} {bound}; move the point, or write the expression for the real branch you mean"
            )
        raise NeedPrecision(f"{what}: {c0.str(5)} straddles the domain boundary {bound}")


def _sinh_cosh(s: arb_series, cosh: bool) -> arb_series:
    c0, _ = _shift(s)
    sh, ch = c0.sinh(), c0.cosh()
    first, second = (ch, sh) if cosh else (sh, ch)
    return compose(s, [(first if k % 2 == 0 else second) / math.factorial(k) for k in range(_order() + 1)])


def _via_derivative(s: arb_series, value: arb, derivative: Callable[[arb_series], arb_series]) -> arb_series:
    """f(s) from f(c0) and a series for f' (integrated): for f without a series in python-flint."""
    c0 = coefficient(s, 0)
    d = derivative(arb_series([c0, 1]))
    taylor = d.integral() + value
    return compose(s, [coefficient(taylor, k) for k in range(_order() + 1)])


def _tanh(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    if _order() > 4:
        return _via_derivative(s, c0.tanh(), lambda u: 4 / ((u.exp() + (-u).exp()) ** 2))
    t = c0.tanh()
    d = 1 - t * t  # tanh' = 1 - tanh^2, and the next derivatives are polynomials in tanh
    derivs = [t, d, -t * d, d * (6 * t * t - 2) / 6, d * (16 * t - 24 * t * t * t) / 24]
    return compose(s, derivs[: _order() + 1])


def _asinh(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    return _via_derivative(s, c0.asinh(), lambda u: (1 + u * u).rsqrt())


def _acosh(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    _domain(c0, "ArcCosh", 1, None, open_=_order() > 0)
    return _via_derivative(s, c0.acosh(), lambda u: ((u - 1) * (u + 1)).rsqrt())


def _atanh(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    _domain(c0, "ArcTanh", -1, 1, open_=True)
    return _via_derivative(s, c0.atanh(), lambda u: 1 / (1 - u * u))


def _log(s: arb_series) -> arb_series:
    _domain(coefficient(s, 0), "Log", 0, None, open_=True)
    return s.log()


def _sqrt(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    if c0.is_zero() and _order() == 0:
        return arb_series([arb(0)])
    _domain(c0, "Sqrt", 0, None, open_=True)
    return s.sqrt()


def _asin(s: arb_series, name: str) -> arb_series:
    _domain(coefficient(s, 0), name, -1, 1, open_=_order() > 0)
    return s.asin() if name == "ArcSin" else s.acos()


def _erfinv(s: arb_series) -> arb_series:
    """InverseErf by series reversion: erf(y0 + u(t)) = x0 + t."""
    c0 = coefficient(s, 0)
    _domain(c0, "InverseErf", -1, 1, open_=True)
    y0 = c0.erfinv()
    g = arb_series([y0, 1]).erf() - c0
    g = arb_series([arb(0), *[coefficient(g, k) for k in range(1, _order() + 1)]])
    u = g.reversion() if _order() > 0 else arb_series([arb(0)])
    return compose(s, [y0, *[coefficient(u, k) for k in range(1, _order() + 1)]])


def _lgamma(s: arb_series) -> arb_series:
    _domain(coefficient(s, 0), "LogGamma (real only for positive arguments)", 0, None, open_=True)
    return s.lgamma()


def _gamma(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    if c0.contains_integer() and c0 <= 0.5:
        if c0.is_exact():
            raise Pole(f"Gamma has a pole at {c0.mid().str(12)}")
        raise NeedPrecision("Gamma: the argument may be a pole")
    return s.gamma()


def _log_abs_gamma(u: arb_series) -> arb_series:
    g = u.gamma()
    return (g * decided_sign(coefficient(g, 0), "Gamma")).log()


def _logistic(s: arb_series) -> arb_series:
    return 1 / (1 + (-s).exp())


def _exp_integral_ei(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    if c0.is_zero():
        raise Pole("ExpIntegralEi has a logarithmic singularity at 0")
    if c0.contains(0):
        raise NeedPrecision("ExpIntegralEi: the argument may be 0")
    return s.ei()


_UNARY: dict[str, Callable[[arb_series], arb_series]] = {
    "Exp": lambda s: s.exp(),
    "Log": _log,
    "Sin": lambda s: s.sin(),
    "Cos": lambda s: s.cos(),
    "Tan": lambda s: s.tan(),
    "Sinh": lambda s: _sinh_cosh(s, False),
    "Cosh": lambda s: _sinh_cosh(s, True),
    "Tanh": _tanh,
    "ArcSin": lambda s: _asin(s, "ArcSin"),
    "ArcCos": lambda s: _asin(s, "ArcCos"),
    "ArcTan": lambda s: s.atan(),
    "ArcSinh": _asinh,
    "ArcCosh": _acosh,
    "ArcTanh": _atanh,
    "Sqrt": _sqrt,
    "Erf": lambda s: s.erf(),
    "Erfc": lambda s: s.erfc(),
    "InverseErf": _erfinv,
    "InverseErfc": lambda s: _erfinv(1 - s),
    "Gamma": _gamma,
    "LogGamma": _lgamma,
    "Zeta": lambda s: _zeta(s),
    "ExpIntegralEi": _exp_integral_ei,
    "LogisticSigmoid": _logistic,
}

UNARY_HEADS = frozenset(_UNARY) | {"Abs", "Sign"}


def _zeta(s: arb_series) -> arb_series:
    c0 = coefficient(s, 0)
    if c0.is_exact() and c0 == 1:
        raise Pole("Zeta has a pole at 1")
    if c0.contains(1):
        raise NeedPrecision("Zeta: the argument may be the pole at 1")
    return s.zeta()


def unary(name: str, x: Scalar) -> arb_series:
    """``name[x]`` for a real scalar series (a complex one: :func:`.complexes.cunary`); a
    non-finite result is refused by name."""
    over = getattr(x, "gradgold_apply", None)
    if over is not None:  # a magnitude pass (magnitude.py): f's Taylor coefficients, made absolute
        return over(lambda u: unary(name, u))  # type: ignore[no-any-return]
    s = lift(x)
    if isinstance(s, acb_series):
        from .complexes import cunary

        try:
            return lift(cunary(name, cast(acb_series, s)))
        except KeyError:
            raise Unsupported(name, "of a complex argument") from None
    if name == "Abs":
        sign = decided_sign(coefficient(s, 0), "Abs")
        # The engine's convention (REAL_RULES): Abs' = Sign, so every derivative is 0 at 0.
        return s * sign if sign else arb_series([arb(0)])
    if name == "Sign":
        return arb_series([arb(decided_sign(coefficient(s, 0), "Sign"))])
    out = _UNARY[name](s)
    _real(coefficient(out, 0), f"{name}[{coefficient(s, 0).mid().str(12)}]")
    return out


def power(base: Scalar, exponent: Scalar) -> Scalar:
    """``base^exponent`` with WL's real semantics: integer powers of anything, other powers of
    positive bases; an exact zero base with a negative power is a pole. A complex base or
    exponent: :func:`.complexes.cpower`."""
    if isinstance(base, acb_series) or isinstance(exponent, acb_series):
        from .complexes import cpower

        return cpower(base, exponent)
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
        if base == 0 and exponent < 0:
            raise Pole("Power: 1/0 (a pole)")
        return base**exponent.numerator
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        b = lift(base)
        n = exponent.numerator
        if n >= 0:
            return b**n
        return _divide(arb_series([arb(1)]), b**-n)
    b, e = lift(base), lift(exponent)
    c0 = coefficient(b, 0)
    if isinstance(exponent, Fraction) and exponent == Fraction(1, 2):
        return unary("Sqrt", b)
    if c0.is_zero() and isinstance(exponent, Fraction) and exponent > 0 and _order() == 0:
        return arb_series([arb(0)])
    _domain(c0, "Power (a non-integer power of a negative or zero base)", 0, None, open_=True)
    if isinstance(exponent, Fraction):
        return b ** arb(fmpq(exponent.numerator, exponent.denominator))
    return (e * b.log()).exp()


def _divide(a: arb_series, b: arb_series) -> arb_series:
    """``a / b``; a removable singularity (both vanish at t = 0, exactly) cancels the common
    factor of t and leaves a shorter series; a pole is refused."""
    try:
        return a / b
    except (ValueError, ZeroDivisionError) as exc:
        b0 = coefficient(b, 0)
        if not b0.is_zero():
            raise NeedPrecision("division: the denominator may be 0") from exc
        a0 = coefficient(a, 0)
        if a0.is_zero():  # 0/0: as a limit along the direction, with more terms of both series
            raise NeedTerms() from exc
        if a0.contains(0):
            raise NeedPrecision("division by 0: whether the numerator vanishes too is undecided") from exc
        raise Pole("division by 0 (a pole)") from exc


def divide(a: Scalar, b: Scalar) -> Scalar:
    """``a / b`` for scalars (exact when both are)."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if b == 0:
            raise Pole("division by 0 (a pole)")
        return a / b
    return _divide(lift(a), lift(b))


def _bessel_terms(kind: str, nu: arb, x0: arb, k: int) -> arb:
    """The k-th derivative of a Bessel function of order ``nu`` at ``x0`` (DLMF 10.6.7, 10.29.5)."""
    fn = {"BesselJ": arb.bessel_j, "BesselY": arb.bessel_y, "BesselI": arb.bessel_i, "BesselK": arb.bessel_k}[
        kind
    ]
    sign = {"BesselJ": -1, "BesselY": -1, "BesselI": 1, "BesselK": 1}[kind]
    total = arb(0)
    for j in range(k + 1):
        total += math.comb(k, j) * sign**j * fn(x0, nu - k + 2 * j)
    total = total / 2**k
    out: arb = -total if kind == "BesselK" and k % 2 else total
    return out


def special(name: str, args: list[Scalar]) -> arb_series:
    """Functions of several arguments whose leading arguments are constants here (orders,
    parameters): Bessel functions, PolyGamma, Hypergeometric2F1, Beta, Log[b, x]."""
    over = getattr(args[-1], "gradgold_apply", None)
    if over is not None and name not in ("Beta", "Log"):  # a magnitude pass, as in unary
        return over(lambda u: special(name, [*args[:-1], u]))  # type: ignore[no-any-return]
    if any(isinstance(a, acb_series) for a in args):
        raise Unsupported(name, "of a complex argument")
    if name in ("BesselJ", "BesselY", "BesselI", "BesselK"):
        nu = _constant(args[0], f"{name}: the order")
        s = lift(args[1])
        x0 = coefficient(s, 0)
        if name in ("BesselY", "BesselK"):
            _domain(x0, name, 0, None, open_=True)
        derivs = [_bessel_terms(name, nu, x0, k) / math.factorial(k) for k in range(_order() + 1)]
        return _checked(name, compose(s, derivs))
    if name == "PolyGamma":
        n = args[0]
        if not isinstance(n, Fraction) or n.denominator != 1 or n < 0:
            raise Refusal("PolyGamma[n, x] needs a constant integer n >= 0")
        s = lift(args[1])
        x0 = coefficient(s, 0)
        if x0.contains_integer() and x0 <= 0.5:
            raise (
                NeedPrecision("PolyGamma: the argument may be a pole")
                if not x0.is_exact()
                else Pole(f"PolyGamma has a pole at {x0.mid().str(12)}")
            )
        m = int(n)
        # c_j = psi^(j-1)(x0)/j!, from the series of log|Gamma| (lgamma is real only for x0 > 0)
        coeffs = _taylor(x0, lambda u: u.lgamma() if x0 > 0 else _log_abs_gamma(u), extra=m + 1)
        derivs = [
            coeffs[m + 1 + k] * math.factorial(m + 1 + k) / math.factorial(k) for k in range(_order() + 1)
        ]
        return _checked(name, compose(s, derivs))
    if name == "Hypergeometric2F1":
        a, b, c = (_constant(v, f"Hypergeometric2F1: parameter {i}") for i, v in enumerate(args[:3], 1))
        s = lift(args[3])
        z0 = coefficient(s, 0)
        derivs = []
        for k in range(_order() + 1):
            scale = a.rising(k) * b.rising(k) / c.rising(k) / math.factorial(k)
            derivs.append(scale * z0.hypgeom_2f1(a + k, b + k, c + k))
        return _checked(name, compose(s, derivs))
    if name == "Zeta":  # Hurwitz zeta in its second argument: d/da Zeta[s, a] = -s Zeta[s + 1, a]
        s_ = _constant(args[0], "Zeta[s, a]: s")
        shift = lift(args[1])
        a0 = coefficient(shift, 0)
        _domain(a0, "Zeta[s, a]", 0, None, open_=True)
        derivs = [
            (-1) ** k * s_.rising(k) * (s_ + k).zeta(a0) / math.factorial(k) for k in range(_order() + 1)
        ]
        return _checked(name, compose(shift, derivs))
    if name == "Beta":
        x, y = lift(args[0]), lift(args[1])
        return unary("Gamma", x) * unary("Gamma", y) / unary("Gamma", x + y)
    if name == "Log":  # Log[b, x]
        return _divide(unary("Log", args[1]), unary("Log", args[0]))
    raise KeyError(name)


SPECIAL_HEADS = frozenset(
    {"BesselJ", "BesselY", "BesselI", "BesselK", "PolyGamma", "Hypergeometric2F1", "Beta"}
)


def _constant(x: Scalar, what: str) -> arb:
    if isinstance(x, Fraction):
        return coefficient(const(x), 0)
    x = lift(x)
    if any(not coefficient(x, k).is_zero() for k in range(1, _order() + 1)):
        raise Refusal(f"{what} must not depend on the inputs (derivatives in it are not supported)")
    return coefficient(x, 0)


def _checked(name: str, out: arb_series) -> arb_series:
    _real(coefficient(out, 0), name)
    return out
