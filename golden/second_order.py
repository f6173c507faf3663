"""Second derivatives (order 2) of elementwise and activation functions at their hard points.

The cases of elementwise.py, activations.py and special.py hold the Hessian at each of their points
(order 2 by default), with a second-order bug recorded by quantity (``xfail={"hessian": ...}``).
Users hit second-order bugs in saturated tails, at tiny arguments where a factor such as
1 - 2 sigmoid(x) cancels, and at huge arguments where a backward squares or cubes an intermediate
result that underflows. Each case here is the
Hessian (with value and gradient) at such points, in every mode: reverse-over-reverse
(``reverse``, ``double_backward``), forward-over-reverse (``func``: ``jacfwd(jacrev)``) and
forward-over-forward (``forward``: nested ``jvp``).

Each function's hard points that torch gets right are one case (``<name>``); those where its second
derivative is wrong are a separate expected failure (``<name>-saturation``, ``-tiny``, ``-large``
...), so a recorded failure never hides the points that pass; each records its Hessian only (value and
gradient stay checked in every mode). Points where the first derivative
is already recorded as wrong (sigmoid at 40, tanh at 15, expm1 at -30 ...) are left to their
first-order cases: an order-2 case there would repeat that failure.
Piecewise-linear functions (relu, hardtanh, ...) are left out: their second derivative is 0 at
every point off a kink, which their cases in activations.py already check. ``<name>-extreme``
cases hold float64-only arguments (beyond float32's range, or whose derivatives leave it).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

import gradgold as gg

Fn = Callable[[torch.Tensor], torch.Tensor]


def _hessian(xfail: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """A recorded failure confined to the Hessian: value and gradient stay checked in every mode."""
    if xfail is None:
        return None
    if isinstance(xfail, str):
        return {"hessian": xfail}
    return {f"{key}-hessian": reason for key, reason in xfail.items()}


def d2(
    name: str,
    wl: str,
    fn: Fn,
    points: Sequence[float],
    *,
    extreme: Sequence[float] = (),
    xfail: str | Mapping[str, str] | None = None,
    extreme_xfail: str | Mapping[str, str] | None = None,
    precision: int = 60,
    **kw: Any,
) -> None:
    """``<name>``: order 2 at ``points`` (float32 grid, both dtypes); ``<name>-extreme``: order 2
    at ``extreme`` (unrounded, float64 only)."""
    if points:
        gg.unary(name, wl, fn, points, order=2, precision=precision, xfail=_hessian(xfail), **kw)
    if extreme:
        gg.case(
            wolfram=wl,
            points=[{"x": float(v)} for v in extreme],
            name=f"{name}-extreme",
            dtypes=("float64",),
            order=2,
            precision=precision,
            xfail=_hessian(extreme_xfail),
            **kw,
        )(fn)


# --- exponentials and logarithms -----------------------------------------------------------------
d2("exp", "Exp[x]", torch.exp, [-85.0, 85.0, 1e-20], extreme=[-700.0, 700.0, 1e-300])
d2("exp2", "2^x", torch.exp2, [-120.0, 120.0, 1e-20], extreme=[-1000.0, 1000.0])
d2("expm1", "Exp[x] - 1", torch.expm1, [1e-6, -3e-8, 1e-20, 80.0], extreme=[-1e-20, 700.0], precision=80)
d2("log", "-Log[1/x]", torch.log, [1e-15, 1e15, 1 + 2**-20], extreme=[1e-150, 1e150])
d2("log1p", "Log[1 + x]", torch.log1p, [1e-7, -0.99999994, 1e15], extreme=[-1e-20, 1e150], precision=80)
d2("log2", "-Log[2, 1/x]", torch.log2, [1e-15, 1e15, 1 + 2**-20], extreme=[1e-150, 1e150])
d2("log10", "-Log[10, 1/x]", torch.log10, [1e-15, 1e15, 1 + 2**-20], extreme=[1e-150, 1e150])
d2("sqrt", "Sqrt[x]", torch.sqrt, [1e-20, 1e20], extreme=[1e-200, 1e200])
d2("rsqrt", "1/Sqrt[x]", torch.rsqrt, [1e-10, 1e10], extreme=[1e-100, 1e100])
d2("reciprocal", "1/x", torch.reciprocal, [1e-10, -1e10], extreme=[1e-100, -1e100])

# --- trigonometric and hyperbolic ----------------------------------------------------------------
d2("sin", "Sin[x]", torch.sin, [1e-20, 3.1415927, 1e4], extreme=[1e22, 1e-300])
d2("cos", "Cos[x]", torch.cos, [1e-20, 1.5707964, 1e4], extreme=[1e22, 1.5707963267948966])
d2("tan", "Tan[x]", torch.tan, [1e-20, 1.5707964, 1e4], extreme=[1.5707963267948966])
d2("asin", "ArcSin[x]", torch.asin, [1e-20, 0.99999994, -0.99999994], extreme=[1 - 2**-53])
d2("acos", "ArcCos[x]", torch.acos, [1e-20, 0.99999994, -0.99999994], extreme=[1 - 2**-53])
d2("atan", "ArcTan[x]", torch.atan, [1e-20, 1e8, -1e10], extreme=[-1e30])
# The double backward squares the backward's 1/(1 + x^2): 1e-200 squared is 0 at x = 1e100, although
# -2 x/(1 + x^2)^2 = -2e-300 is representable; func and forward mode are right.
d2(
    "atan-huge",
    "ArcTan[x]",
    torch.atan,
    [],
    extreme=[1e100],
    extreme_xfail={
        f"float64-{m}": "double backward squares 1/(1 + x^2): 0 once it underflows, for |x| > 1e77 "
        "(upstream issue not identified)"
        for m in ("reverse", "double_backward")
    },
)
d2("sinh", "Sinh[x]", torch.sinh, [1e-20, 2e-4, -80.0, 80.0], extreme=[700.0, -1e-300])
d2("cosh", "Cosh[x]", torch.cosh, [1e-20, 2e-4, 80.0], extreme=[-700.0])
d2("tanh", "Tanh[x]", torch.tanh, [1e-20, 2e-4, -3.0], extreme=[1e-300])
d2("asinh", "ArcSinh[x]", torch.asinh, [1e-20, 2e-4, -1e10], extreme=[-1e-300])
# asinh'' = -x/(1 + x^2)^(3/2) and acosh'' = -x/(x^2 - 1)^(3/2) are computed through the cube of the
# backward's 1/sqrt(x^2 +- 1), which underflows: at 1e15 (float32) 1e-45 is subnormal, at 1e120
# (float64) 1e-360 is 0, although -1/x^2 (-1e-30, -1e-240) is representable. Every mode.
CUBE = (
    "second derivative cubes 1/sqrt(x^2 +- 1), which underflows for large x (upstream issue not identified)"
)
d2(
    "asinh-large",
    "ArcSinh[x]",
    torch.asinh,
    [1e15],
    xfail={"float32": CUBE},
    extreme=[1e120],
    extreme_xfail=CUBE,
)
d2("acosh", "ArcCosh[x]", torch.acosh, [1 + 2**-20, 1 + 2**-23], extreme=[1 + 2**-50])
d2(
    "acosh-large",
    "ArcCosh[x]",
    torch.acosh,
    [1e15],
    xfail={"float32": CUBE},
    extreme=[1e120],
    extreme_xfail=CUBE,
)
d2("atanh", "ArcTanh[x]", torch.atanh, [1e-20, 2e-4, 0.99999994, -0.99999994], extreme=[1 - 2**-53])
d2("logit", "-Log[(1 - x)/x]", torch.logit, [1e-15, 0.99999994], extreme=[1e-100])
# At 0.50000012 logit'' = (2x - 1)/(x (1 - x))^2 = 3.8e-6: reverse and double backward are off by 512
# float64 ULPs (1.1e-13 relative), func and forward mode are right (the input is exact in both dtypes).
d2(
    "logit-near_half",
    "-Log[(1 - x)/x]",
    torch.logit,
    [0.5000001],
    xfail={
        f"float64-{m}": "double backward loses 512 ULPs near 1/2 where func and forward mode are right "
        "(upstream issue not identified)"
        for m in ("reverse", "double_backward")
    },
)

# --- error functions -----------------------------------------------------------------------------
d2("erf", "Erf[x]", torch.erf, [1e-20, 5.0, -6.0], extreme=[1e-300, 25.0])
d2("erfc", "Erfc[x]", torch.erfc, [1e-20, 9.0, -5.0], extreme=[26.0])
d2("erfinv", "InverseErf[x]", torch.erfinv, [1e-20, 0.99999994, -0.99999994], extreme=[1 - 2**-53])

# --- activations ---------------------------------------------------------------------------------
d2("sigmoid", "1/(1 + Exp[-x])", torch.sigmoid, [-20.0, -40.0, -80.0])
# sigmoid'' = y (1 - y) (1 - 2y): 1 - 2y cancels for tiny x (exact -x/8: -1.25e-21 at 1e-20; torch 0).
d2(
    "sigmoid-tiny",
    "1/(1 + Exp[-x])",
    torch.sigmoid,
    [1e-20],
    xfail="second derivative y (1 - y) (1 - 2y): 1 - 2y cancels for tiny x (upstream issue not identified)",
)
d2("logsigmoid", "-Log[1 + Exp[-x]]", F.logsigmoid, [1e-20, -20.0, -50.0])
# (z - 1) z with z = sigmoid(x): 3.6e-8 relative at 20 (float64), 0 at 50; float32 0 at both.
d2(
    "logsigmoid-right_tail",
    "-Log[1 + Exp[-x]]",
    F.logsigmoid,
    [20.0, 50.0],
    xfail="double backward (z - 1) z cancels once sigmoid(x) saturates (pytorch/pytorch#195530)",
)
d2("softplus", "Log[1 + Exp[x]]", F.softplus, [1e-20, -20.0, -30.0])
# softplus'' = s (1 - s): at x = 15 (below threshold=20) 2.2e-10 relative (float64), 17% (float32).
d2(
    "softplus-saturation",
    "Log[1 + Exp[x]]",
    F.softplus,
    [15.0],
    xfail="second derivative s (1 - s) cancels as sigmoid saturates (upstream issue not identified)",
)
d2("gelu", "x (1 + Erf[x/Sqrt[2]])/2", F.gelu, [1e-20, -3.0, 5.0, 8.0])
d2(
    "gelu-tanh",
    "x (1 + Tanh[Sqrt[2/Pi] (x + 44715/1000000 x^3)])/2",
    lambda x: F.gelu(x, approximate="tanh"),
    [1e-20, -2.0],
)
# In the right tail 1 - tanh(u)^2 cancels: at x = 5, 1e-11 relative (float64), 3.4% (float32).
d2(
    "gelu-tanh-right_tail",
    "x (1 + Tanh[Sqrt[2/Pi] (x + 44715/1000000 x^3)])/2",
    lambda x: F.gelu(x, approximate="tanh"),
    [5.0],
    xfail="second derivative through 1 - tanh(u)^2 cancels in the right tail (upstream issue not identified)",
)
d2("silu", "x/(1 + Exp[-x])", F.silu, [1e-20, -20.0, -40.0])
# silu'' = s (1 - s) (2 + x (1 - 2 s)): 1 - s cancels: 3.6e-8 relative at 20 (float64), 0 at 40.
d2(
    "silu-saturation",
    "x/(1 + Exp[-x])",
    F.silu,
    [20.0, 40.0],
    xfail="second derivative through 1 - sigmoid(x) cancels as sigmoid saturates "
    "(upstream issue not identified)",
)
d2("mish", "x Tanh[Log[1 + Exp[x]]]", F.mish, [1e-20, -20.0])
# Through 1 - tanh(softplus(x))^2: 1.2e-12 relative at 6 (float64), 0 at 20.
d2(
    "mish-saturation",
    "x Tanh[Log[1 + Exp[x]]]",
    F.mish,
    [6.0, 20.0],
    xfail="second derivative through 1 - tanh(softplus(x))^2 cancels as tanh saturates "
    "(upstream issue not identified)",
)
d2("elu", "Exp[x] - 1", F.elu, [-1e-6, -30.0, -80.0])
d2("celu", "2 (Exp[x/2] - 1)", lambda x: F.celu(x, alpha=2.0), [-1e-6, -30.0, -80.0])
SELU = "(10507009873554804934193349852946/10^31) (16732632423543772848170429916717/10^31)"
d2("selu", f"{SELU} (Exp[x] - 1)", F.selu, [-1e-6, -30.0, -80.0])
d2(
    "softsign", "x/(1 + Abs[x])", F.softsign, [1e-20, -100.0, 1e-3]
)  # (1e4 fails at first order: softsign-large)
d2("tanhshrink", "x - Tanh[x]", F.tanhshrink, [-1.25, 3.0])
# tanhshrink'' = -2 tanh(x) (1 - tanh(x)^2) goes through tanh's backward: 9e-9 relative at 10 (float64).
d2(
    "tanhshrink-saturation",
    "x - Tanh[x]",
    F.tanhshrink,
    [10.0],
    xfail="second derivative through tanh's backward 1 - tanh(x)^2, which cancels near saturation "
    "(pytorch/pytorch#195685)",
)
d2("hardswish", "x (x + 3)/6", F.hardswish, [1e-20, -2.75, 2.5])
