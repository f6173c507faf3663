"""Complex functions on truncated Taylor series of complex balls (python-flint's ``acb_series``).

A complex case binds each complex input ``z = x + i y`` to ``z0 + (u_x + i u_y) t`` with ``t``
*real*: the coefficients of ``f(z(t))`` are complex, their real and imaginary parts are the
Taylor coefficients of ``Re f`` and ``Im f`` along the real direction ``(u_x, u_y)``, which is
the real Jacobian the golden holds (see :mod:`gradgold.golden`). Because ``t`` is real, the
functions that are not holomorphic act coefficient by coefficient: ``Conjugate`` conjugates
every coefficient, ``Re``/``Im`` take their parts, and ``Abs``/``Arg`` of a complex series are
real series of those parts (``Sqrt[Re^2 + Im^2]``, the half-angle ``ArcTan`` of the engine's
rewrite), never derivatives of a non-analytic function.

Branch cuts are refused as the engine program refuses them (``wlprogram._CUTS``): a point on or
within a relative 1e-10 of the cut of Log, Sqrt, a fractional power or an inverse trigonometric
function, and Abs, Sign or Arg of a complex argument within that tolerance of 0, where the
function has no complex derivative. Principal branches as in WL and torch.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, cast

from flint import acb, acb_series, arb, arb_series, ctx, fmpq

from .balls import NeedPrecision, Refusal, Scalar, coefficient, compose, lift

__all__ = ["COMPLEX_HEADS", "conjugate", "cpower", "cunary", "imag", "is_complex", "real"]

#: Relative distance to a branch cut under which a point is refused (as the engine's).
CUT = arb("1e-10")

_CUT_FIX = (
    "move the point off the cut (Log, Sqrt and fractional powers: the negative real axis; Abs and "
    "Sign of a complex w are Sqrt[w Conjugate[w]]: w = 0)"
)


def is_complex(x: object) -> bool:
    return isinstance(x, acb_series)


def ccoef(s: acb_series, k: int) -> acb:
    """The k-th Taylor coefficient of a complex series (0 beyond the stored terms)."""
    c: acb = s[k]
    return c


def _order() -> int:
    return int(ctx.cap) - 1


def real(s: Scalar | acb_series) -> Scalar:
    """``Re`` of a scalar series (a real one is its own real part)."""
    if not isinstance(s, acb_series):
        return s
    return arb_series([ccoef(s, k).real for k in range(_order() + 1)])


def imag(s: Scalar | acb_series) -> Scalar:
    """``Im`` of a scalar series (0 for a real one)."""
    if not isinstance(s, acb_series):
        return Fraction(0)
    return arb_series([ccoef(s, k).imag for k in range(_order() + 1)])


def conjugate(s: Scalar | acb_series) -> Scalar | acb_series:
    """``Conjugate``, coefficient by coefficient (the direction ``t`` is real)."""
    if not isinstance(s, acb_series):
        return s
    return acb_series([ccoef(s, k).conjugate() for k in range(_order() + 1)])


def _decide(yes: bool, no: bool, what: str) -> bool:
    if yes:
        return True
    if no:
        return False
    raise NeedPrecision(f"{what}: whether the point is on the branch cut is undecided")


def _le(a: arb, b: arb, what: str) -> bool:
    return _decide(bool(a <= b), bool(a > b), what)


def _ge(a: arb, b: arb, what: str) -> bool:
    return _decide(bool(a >= b), bool(a < b), what)


def _cut(name: str, w: acb) -> None:
    """Refuse a point on (or within 1e-10 of) the branch cut of ``name`` at argument ``w``."""
    re, im, tol = w.real, w.imag, CUT * (1 + abs(w))
    tests: list[Callable[[], bool]]
    if name in ("Log", "Sqrt", "Power"):
        tests = [lambda: _le(abs(im), tol, name), lambda: _le(re, tol, name)]
    elif name in ("ArcSin", "ArcCos", "ArcTanh"):
        tests = [lambda: _le(abs(im), tol, name), lambda: _ge(abs(re), 1 - tol, name)]
    elif name == "ArcCosh":
        tests = [lambda: _le(abs(im), tol, name), lambda: _le(re, 1 + tol, name)]
    elif name in ("ArcTan", "ArcSinh"):
        tests = [lambda: _le(abs(re), tol, name), lambda: _ge(abs(im), 1 - tol, name)]
    else:
        return
    if all(t() for t in tests):
        raise Refusal(
            f"the point is on or within 1e-10 of the branch cut of {name} (argument {w.mid().str(12)}), "
            f"where the function has no complex derivative; {_CUT_FIX}"
        )


def _modulus_squared(s: acb_series) -> arb_series:
    """``Re^2 + Im^2`` as a real series, refusing a point within the engine's tolerance of 0 (its
    rewrite is Sqrt[w Conjugate[w]], whose cut there is this)."""
    re, im = lift(real(s)), lift(imag(s))
    m2 = re * re + im * im
    m0 = coefficient(m2, 0)
    if _le(m0, CUT * (1 + m0), "Abs"):
        raise Refusal(
            "the point is on or within 1e-10 of the branch cut of Sqrt (Abs, Sign or Arg of a complex "
            f"argument at {ccoef(s, 0).mid().str(12)}), where the function has no complex "
            f"derivative; {_CUT_FIX}"
        )
    return m2


def _abs(s: acb_series) -> arb_series:
    return _modulus_squared(s).sqrt()


def _sign(s: acb_series) -> acb_series:
    return s * _modulus_squared(s).rsqrt()


def _arg(s: acb_series) -> arb_series:
    """The engine's rewrite: ``2 ArcTan[Im/(Abs + Re)]`` (the principal argument)."""
    re, im = lift(real(s)), lift(imag(s))
    root = _modulus_squared(s).sqrt()
    try:
        quotient = im / (root + re)
    except (ValueError, ZeroDivisionError) as exc:
        raise Refusal(
            f"Arg at {ccoef(s, 0).mid().str(12)}: on the negative real axis, where the argument "
            "jumps from Pi to -Pi; move the point"
        ) from exc
    return 2 * quotient.atan()


def _via_derivative(s: acb_series, value: acb, derivative: Callable[[acb_series], acb_series]) -> acb_series:
    """f(s) from f(c0) and a series for f' (integrated) at c0, composed with s."""
    c0 = ccoef(s, 0)
    d = derivative(acb_series([c0, 1]))
    taylor = d.integral() + value
    coeffs: list[Any] = [ccoef(taylor, k) for k in range(_order() + 1)]
    out: Any = compose(cast(Any, s), coeffs)  # compose works on complex series alike
    return cast(acb_series, out)


def _i() -> acb:
    return acb(0, 1)


def _checked_cut(name: str, fn: Callable[[acb_series], acb_series]) -> Callable[[acb_series], acb_series]:
    def run(s: acb_series) -> acb_series:
        _cut(name, ccoef(s, 0))
        return fn(s)

    return run


def _asin(s: acb_series) -> acb_series:
    return _via_derivative(s, ccoef(s, 0).asin(), lambda u: (1 - u * u).rsqrt())


def _acosh(s: acb_series) -> acb_series:
    return _via_derivative(s, ccoef(s, 0).acosh(), lambda u: ((u - 1).sqrt() * (u + 1).sqrt()).inv())


_UNARY: dict[str, Callable[[acb_series], acb_series]] = {
    "Exp": lambda s: s.exp(),
    "Log": _checked_cut("Log", lambda s: s.log()),
    "Sqrt": _checked_cut("Sqrt", lambda s: s.sqrt()),
    "Sin": lambda s: s.sin(),
    "Cos": lambda s: s.cos(),
    "Tan": lambda s: s.tan(),
    "Sinh": lambda s: (s.exp() - (-s).exp()) / 2,
    "Cosh": lambda s: (s.exp() + (-s).exp()) / 2,
    "Tanh": lambda s: -_i() * (_i() * s).tan(),
    "ArcSin": _checked_cut("ArcSin", _asin),
    "ArcCos": _checked_cut("ArcCos", lambda s: arb.pi() / 2 - _asin(s)),
    "ArcTan": _checked_cut("ArcTan", lambda s: s.atan()),
    "ArcSinh": _checked_cut("ArcSinh", lambda s: -_i() * _asin(_i() * s)),
    "ArcCosh": _checked_cut("ArcCosh", _acosh),
    "ArcTanh": _checked_cut("ArcTanh", lambda s: -_i() * (_i() * s).atan()),
    "Erf": lambda s: s.erf(),
    "Erfc": lambda s: s.erfc(),
    "LogisticSigmoid": lambda s: (1 + (-s).exp()).inv(),
}

#: Heads of a complex argument the evaluator implements (others are handed to the engine, by name).
COMPLEX_HEADS = frozenset(_UNARY) | {"Abs", "Sign", "Arg", "Re", "Im", "Conjugate"}


def cunary(name: str, s: acb_series) -> Scalar | acb_series:
    """``name[s]`` for a complex series; :class:`KeyError` for a head without a complex version."""
    if name == "Abs":
        return _abs(s)
    if name == "Sign":
        return _sign(s)
    if name == "Arg":
        return _arg(s)
    out = _UNARY[name](s)
    c0 = ccoef(out, 0)
    if not c0.is_finite():
        raise Refusal(f"{name}[{ccoef(s, 0).mid().str(12)}]: not a finite complex number here")
    return out


def cpower(base: Scalar | acb_series, exponent: Scalar | acb_series) -> acb_series:
    """``base^exponent`` with a complex base or exponent (a non-integer exponent: the principal
    branch, ``Exp[exponent Log[base]]``, refused on the base's cut)."""
    b = base if isinstance(base, acb_series) else acb_series(lift(base))
    if isinstance(exponent, Fraction) and exponent.denominator == 1:
        n = exponent.numerator
        return b**n if n >= 0 else (b ** (-n)).inv()
    _cut("Power", ccoef(b, 0))
    if isinstance(exponent, Fraction):
        return b ** acb(fmpq(exponent.numerator, exponent.denominator))
    out: acb_series = (exponent * b.log()).exp()
    return out
