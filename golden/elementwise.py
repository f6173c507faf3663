"""Elementwise operations: exact references for torch's pointwise functions and their derivatives.

Each operation has a case at ordinary points and hard points in one list (both dtypes, all points
exact in float32), and, where float32 cannot hold the hard arguments, an ``_extreme`` case checked
in float64 only. Hard points: tails where results underflow, arguments near 0 where formulas cancel,
large arguments, and the neighbourhoods of singularities and branch points.

Mathics3 returns Indeterminate for ``Log`` of a tiny rational that is not a power of two
(``Log[3/2^100]``), so logarithms are written ``-Log[1/x]``, which it evaluates right.

WL references are closed forms Mathics3 evaluates and differentiates (see shared/notes/engines.md):
``Log[2, x]`` for log2, ``ArcTan[y/x]`` (plus Pi on the left half plane) for atan2, whose
two-argument ``ArcTan`` Mathics cannot differentiate, and the active branch for piecewise functions.
"""

import functools

import torch

import gradgold as gg

unary = functools.partial(gg.unary, precision=50)


def const(x: torch.Tensor, value: float) -> torch.Tensor:
    """A constant of ``x``'s dtype (not differentiated)."""
    return torch.tensor(value, dtype=x.dtype)


# --- exponentials and logarithms -----------------------------------------------------------------
# A ``-tiny`` case (order 1, "f32 range" below) is an argument where the exact Hessian is beyond
# float32's range (3.4e38): the Hessian does not exist in float32 (torch gives inf or NaN, as it must),
# so the point is checked to first order in both dtypes; the main case holds the Hessian at every other
# point, and second_order.py at tiny arguments in float64 and at ones whose Hessian float32 can hold.
unary("exp", "Exp[x]", torch.exp, [-1.25, 0.5, 3.0, -85.0, 85.0], extreme=[-700.0, 700.0, 1e-300])
unary("exp2", "2^x", torch.exp2, [-1.25, 0.5, 3.0, -120.0, 120.0], extreme=[-1000.0, 1000.0])
unary(
    "expm1",
    "Exp[x] - 1",
    torch.expm1,
    [-1.25, 0.5, 3.0, 1e-6, -3e-8],
    extreme=[-1e-20, 700.0],
    precision=80,
)
# expm1's derivative is exp(x), but torch computes it as result + 1 (derivatives.yaml), which cancels
# in the left tail: at x = -30 float64 keeps 4 digits (relative error 1.7e-4) and float32 returns 0
# for 9.36e-14. exp(x) is perfectly conditioned there (relative condition |x| = 30).
EXPM1_BUG = "backward computes exp(x) as expm1(x) + 1: cancels for x << 0 (pytorch/pytorch#192406)"
unary(
    "expm1-left_tail",
    "Exp[x] - 1",
    torch.expm1,
    [-30.0, -20.0],
    extreme=[-60.0],
    precision=80,
    xfail=EXPM1_BUG,
    extreme_xfail=EXPM1_BUG,
)
unary("log", "-Log[1/x]", torch.log, [0.25, 1.5, 40.0, 1 + 2**-20, 1e30], extreme=[1e-300, 1e300])
unary("log-tiny", "-Log[1/x]", torch.log, [1e-30], order=1)  # f32 range: log'' = -1e60
unary(
    "log1p",
    "Log[1 + x]",
    torch.log1p,
    [-0.5, 0.25, 3.0, 1e-7, -0.99999994, 1e30],
    extreme=[-1e-20, 1e300],
    precision=80,
)
unary("log2", "-Log[2, 1/x]", torch.log2, [0.25, 1.5, 40.0, 1 + 2**-20, 1e30], extreme=[1e-300])
unary("log2-tiny", "-Log[2, 1/x]", torch.log2, [1e-30], order=1)  # f32 range: -1.4e60
unary("log10", "-Log[10, 1/x]", torch.log10, [0.25, 1.5, 40.0, 1 + 2**-20, 1e30], extreme=[1e-300])
unary("log10-tiny", "-Log[10, 1/x]", torch.log10, [1e-30], order=1)  # f32 range: -4.3e59
unary("sqrt", "Sqrt[x]", torch.sqrt, [0.25, 1.5, 40.0, 1e30], extreme=[1e-300, 1e300])
unary("sqrt-tiny", "Sqrt[x]", torch.sqrt, [1e-30], order=1)  # f32 range: -2.5e44
unary("rsqrt", "1/Sqrt[x]", torch.rsqrt, [0.25, 1.5, 40.0, 1e20], extreme=[1e-200, 1e200])
unary("rsqrt-tiny", "1/Sqrt[x]", torch.rsqrt, [1e-20], order=1)  # f32 range: 7.5e49
unary("reciprocal", "1/x", torch.reciprocal, [-1.25, 0.5, 3.0, -1e15], extreme=[1e-150])
unary("reciprocal-tiny", "1/x", torch.reciprocal, [1e-15], order=1)  # f32 range: 2e45
unary("square", "x^2", torch.square, [-1.25, 0.5, 3.0, 1e-15, 1e15])
unary("pow-2_5", "x^(5/2)", lambda x: torch.pow(x, 2.5), [0.25, 1.5, 40.0, 1e-10, 1e10])
unary("pow-neg_1_5", "x^(-3/2)", lambda x: torch.pow(x, -1.5), [0.25, 1.5, 40.0, 1e-10, 1e10])
unary("pow-3_zero_base", "x^3", lambda x: torch.pow(x, 3), [-1.25, 0.5, 0.0, 3.0])
unary("pow-cbrt", "x^(1/3)", lambda x: torch.pow(x, 1 / 3), [0.25, 1.5, 40.0, 1e30])
unary("pow-cbrt-tiny", "x^(1/3)", lambda x: torch.pow(x, 1 / 3), [1e-30], order=1)  # f32 range: -2.2e49
unary("pow-scalar_base", "(3/2)^x", lambda x: torch.pow(1.5, x), [-1.25, 0.5, 3.0, -150.0, 150.0])
unary("float_power", "x^(5/2)", lambda x: torch.float_power(x, 2.5), [0.25, 1.5, 1e-10], dtypes=("float64",))

gg.case(
    wolfram="x^y",
    points=[{"x": a, "y": b} for a, b in [(0.5, 1.5), (2.0, -0.75), (1.0, 3.0), (10.0, 30.0), (1e-3, 0.125)]],
    name="pow-tensor",
    precision=50,
)(lambda x, y: torch.pow(x, y))


H2_POW_ZERO_BASE_TENSOR_EXPONENT = (
    "the double backward of pow(0, y) gives NaN at every point (float64 and float32); func and forward "
    "give the golden (issue #13 item 2)"
)


@gg.case(
    wolfram="0 y",
    points=[{"y": v} for v in gg.f32(0.5, 2.0, 3.0)],
    name="pow-zero_base_tensor_exponent",
    xfail={
        "reverse-hessian": H2_POW_ZERO_BASE_TENSOR_EXPONENT,
        "double_backward-hessian": H2_POW_ZERO_BASE_TENSOR_EXPONENT,
    },
)
def pow_zero_base(y):  # 0^y for y > 0 is identically 0, so d/dy = 0 (torch masks log(0) there)
    return torch.pow(torch.zeros_like(y), y)


# --- trigonometric ----------------------------------------------------------------------------
unary("sin", "Sin[x]", torch.sin, [-1.25, 0.5, 3.0, 1e-20, 3.1415927, 1e4], extreme=[1e22, 1e-300])
unary(
    "cos", "Cos[x]", torch.cos, [-1.25, 0.5, 3.0, 1e-20, 1.5707964, 1e4], extreme=[1e22, 1.5707963267948966]
)
unary("tan", "Tan[x]", torch.tan, [-1.25, 0.5, 3.0, 1e-20, 1.5707964, 1e4], extreme=[1.5707963267948966])
unary("asin", "ArcSin[x]", torch.asin, [-0.75, 0.25, 0.5, 1e-20, 0.99999994, -0.99999994])
unary("acos", "ArcCos[x]", torch.acos, [-0.75, 0.25, 0.5, 1e-20, 0.99999994, -0.99999994])
unary("atan", "ArcTan[x]", torch.atan, [-1.25, 0.5, 3.0, 1e-20, 1e10, -1e15], extreme=[-1e30])
unary("deg2rad", "x Pi/180", torch.deg2rad, [-1.25, 0.5, 300.0])
unary("rad2deg", "x 180/Pi", torch.rad2deg, [-1.25, 0.5, 300.0])

# At (y, x) = (1e10, 1) float32's reverse-over-reverse Hessian gets d2/dy dx = 1e-20 with relative
# error 1.1e-5 (132 ULPs) in reverse, double_backward and func (jacfwd over jacrev); forward-over-forward
# gets it from the same golden, and float64 passes in every mode.
H2_ATAN2 = (
    "float32 double backward of atan2 loses 132 ULPs of d2/dy dx at (1e10, 1) where forward mode is right "
    "(upstream issue not identified)"
)
gg.case(
    wolfram="ArcTan[y/x]",  # right half plane (x > 0): atan2 is ArcTan[y/x]
    points=[{"y": a, "x": b} for a, b in [(0.5, 1.5), (-2.0, 0.75), (1e-20, 1.0), (1e10, 1.0), (1.0, 1e-10)]],
    name="atan2",
    precision=50,
    xfail={f"float32-{m}-hessian": H2_ATAN2 for m in ("reverse", "double_backward", "func")},
)(lambda y, x: torch.atan2(y, x))
gg.case(
    wolfram="ArcTan[y/x] + Pi",  # second quadrant (x < 0 < y), near the branch cut y -> 0+
    points=[{"y": a, "x": b} for a, b in [(0.5, -1.5), (2.0, -0.75), (1e-20, -1.0)]],
    name="atan2-second_quadrant",
    precision=50,
)(lambda y, x: torch.atan2(y, x))
# hypot's d2/dx2 = y^2/r^3 comes out through 1 - (x/r)^2, which cancels when |y| << |x|: at (1, 1e-10)
# torch gives 0 for 1e-20 in every mode, float64 and float32 (relative error 1).
gg.case(
    wolfram="Sqrt[x^2 + y^2]",
    points=[
        {"x": a, "y": b} for a, b in [(0.5, 1.5), (-2.0, 0.75), (1e-30, 1e-30), (1e30, 3e29), (1.0, 1e-10)]
    ],
    name="hypot",
    precision=50,
    xfail={
        "hessian": "second derivative y^2/r^3 through 1 - (x/r)^2 cancels for |y| << |x|: 0 for 1e-20 "
        "(upstream issue not identified)"
    },
)(lambda x, y: torch.hypot(x, y))

# --- hyperbolic -------------------------------------------------------------------------------
unary("sinh", "Sinh[x]", torch.sinh, [-1.25, 0.5, 3.0, 1e-20, 2e-4, -80.0], extreme=[700.0, -1e-300])
unary("cosh", "Cosh[x]", torch.cosh, [-1.25, 0.5, 3.0, 1e-20, 80.0], extreme=[-700.0])
unary("tanh", "Tanh[x]", torch.tanh, [-1.25, 0.5, 2.0, 1e-20, 2e-4])
# tanh's backward is 1 - y^2 with y = tanh(x) rounded: it cancels as tanh saturates (float64 at x = 9:
# relative error 8.5e-10; at -15 and beyond it returns 0), although sech^2 is perfectly conditioned.
TANH_BUG = "backward 1 - tanh(x)^2 cancels near saturation (pytorch/pytorch#195685)"
unary(
    "tanh-saturation",
    "Tanh[x]",
    torch.tanh,
    [5.0, 9.0, -15.0],
    extreme=[20.0, -40.0],
    xfail=TANH_BUG,
    extreme_xfail=TANH_BUG,
)
# At 1e15 float32's second derivative cubes 1/sqrt(x^2 +- 1) (1e-45, subnormal): -1e-30 comes out as 0
# (reverse, double_backward) or 40% off (func, forward), as second_order.py's asinh-large records.
CUBE = (
    "second derivative cubes 1/sqrt(x^2 +- 1), which underflows for large x (upstream issue not identified)"
)
unary(
    "asinh",
    "ArcSinh[x]",
    torch.asinh,
    [-1.25, 0.5, 3.0, 1e-20, 2e-4, -1e10, 1e15],
    xfail={"float32-hessian": CUBE},
)
unary(
    "acosh",
    "ArcCosh[x]",
    torch.acosh,
    [1.25, 3.0, 1 + 2**-20, 1 + 2**-23, 1e15],
    extreme=[1 + 2**-50],
    xfail={"float32-hessian": CUBE},
)
# Their backward is 1/sqrt(x^2 +- 1): x^2 overflows for |x| > 1.8e19 (float32) or 1.3e154 (float64) and
# the gradient becomes 0, although 1/|x| is representable (1e-30 at x = 1e30).
OVERFLOW = "backward squares x: 1/sqrt(x^2 +- 1) is 0 once x^2 overflows (upstream issue not identified)"
unary(
    "asinh-large",
    "ArcSinh[x]",
    torch.asinh,
    [1e30, -3e20],
    extreme=[-1e300],
    xfail={"float32": OVERFLOW},
    extreme_xfail=OVERFLOW,
)
unary(
    "acosh-large",
    "ArcCosh[x]",
    torch.acosh,
    [1e30, 3e20],
    extreme=[1e300],
    xfail={"float32": OVERFLOW},
    extreme_xfail=OVERFLOW,
)
unary(
    "atanh",
    "ArcTanh[x]",
    torch.atanh,
    [-0.75, 0.25, 1e-20, 2e-4, 0.99999994, -0.99999994],
    extreme=[1 - 2**-53],
)

# --- two-argument and miscellaneous -------------------------------------------------------------
unary("sinc", "Sin[Pi x]/(Pi x)", torch.sinc, [-1.25, 0.5, 2.5], precision=100)
# sinc's backward is (pi x cos(pi x) - sin(pi x)) / (pi x^2): it cancels for small x, where the
# derivative is about -pi^2 x / 3 and perfectly conditioned. float32 at x = 1e-4: -9e-4 for -3.29e-4;
# float64 at 1e-4: relative error 6.9e-10; at 1e-20 both return 0 for -3.3e-20.
# (A point at an integer, where sinc is exactly 0, is left out: torch's 3.9e-17 there is the
# backward-stable error of sin(pi x) with pi rounded, and the case API has no absolute tolerance.)
unary(
    "sinc-near_zero",
    "Sin[Pi x]/(Pi x)",
    torch.sinc,
    [1e-4, 2.5e-2, 1e-20],
    precision=100,
    xfail="backward formula cancels for small |x| (upstream issue not identified)",
)
gg.case(
    wolfram="-x Log[1/y]",
    points=[{"x": a, "y": b} for a, b in [(0.5, 1.5), (-2.0, 0.75), (0.0, 2.0)]],
    name="xlogy",
    precision=50,
)(lambda x, y: torch.xlogy(x, y))
gg.case(  # f32 range: d2/dy2 = -x/y^2 = -3e60 (order 1, see "-tiny" above)
    wolfram="-x Log[1/y]",
    points=[{"x": 3.0, "y": 1e-30}],
    name="xlogy-tiny_y",
    precision=50,
    order=1,
)(lambda x, y: torch.xlogy(x, y))
gg.case(
    wolfram="x Log[1 + y]",
    points=[{"x": a, "y": b} for a, b in [(0.5, 1.5), (-2.0, -0.75), (0.0, 2.0), (3.0, 1e-8)]],
    name="xlog1py",
    precision=80,
)(lambda x, y: torch.special.xlog1py(x, y))
H2_LOGADDEXP = (
    "float32 double backward of logaddexp: a Hessian entry of 8.8e-27 at point 3 with relative error 1.0; "
    "func and forward get it, and float64 passes (issue #13 item 2)"
)
gg.case(
    wolfram="Log[Exp[x] + Exp[y]]",
    points=[{"x": a, "y": b} for a, b in [(0.5, 1.5), (-2.0, 0.75), (3.0, 3.0), (-30.0, 30.0), (80.0, 81.0)]],
    name="logaddexp",
    precision=60,
    xfail={"float32-reverse-hessian": H2_LOGADDEXP, "float32-double_backward-hessian": H2_LOGADDEXP},
)(lambda x, y: torch.logaddexp(x, y))
# Far apart, one partial (exp(-200)) is below float32's range: float64 only.
gg.case(
    wolfram="Log[Exp[x] + Exp[y]]",
    points=[{"x": -100.0, "y": 100.0}, {"x": 700.0, "y": 710.0}],
    name="logaddexp-extreme",
    dtypes=("float64",),
    precision=60,
)(lambda x, y: torch.logaddexp(x, y))
H2_LOGADDEXP2 = (
    "float32 double backward of logaddexp2: a Hessian entry of 5.7e-25 at point 3 with relative error "
    "1.0; func and forward get it, and float64 passes (issue #13 item 2)"
)
gg.case(
    wolfram="Log[2, 2^x + 2^y]",
    points=[{"x": a, "y": b} for a, b in [(0.5, 1.5), (-2.0, 0.75), (3.0, 3.0), (-40.0, 40.0)]],
    name="logaddexp2",
    precision=60,
    xfail={"float32-reverse-hessian": H2_LOGADDEXP2, "float32-double_backward-hessian": H2_LOGADDEXP2},
)(lambda x, y: torch.logaddexp2(x, y))
unary("logit", "-Log[(1 - x)/x]", torch.logit, [0.25, 0.5, 0.875, 0.99999994], precision=60)
unary("logit-tiny", "-Log[(1 - x)/x]", torch.logit, [1e-20], precision=60, order=1)  # f32 range: -1e40
# Near 1/2 logit is ill-conditioned: at x = 0.50000012 its relative condition number
# 1/(x (1 - x) |logit x|) is 8.4e6; torch's 256 float64 ULPs there are inside the checker's
# conditioning allowance (|x| |logit'(x)| from the golden's gradient), with no override.
# Its second derivative (2x - 1)/(x (1 - x))^2 = 3.8e-6 loses 512 float64 ULPs (4.3e-19, relative
# 1.1e-13) in reverse and double_backward, where func and forward mode get it from the same golden, as
# second_order.py's logit-near_half records.
unary(
    "logit-near_half",
    "-Log[(1 - x)/x]",
    torch.logit,
    [0.5000001],
    precision=60,
    xfail={
        f"float64-{m}-hessian": "double backward loses 512 ULPs near 1/2 where func and forward mode are "
        "right (upstream issue not identified)"
        for m in ("reverse", "double_backward")
    },
)
unary("ldexp", "8 x", lambda x: torch.ldexp(x, torch.tensor(3)), [-1.25, 0.5, 3.0, 1e-30])
# The backward computes 2**other in integer arithmetic: 2**-3 floors to 0, so the gradient is 0.
unary(
    "ldexp-negative_exponent",
    "x/8",
    lambda x: torch.ldexp(x, torch.tensor(-3)),
    [-1.25, 0.5, 3.0],
    xfail="gradient 0: the backward's 2**other is integer arithmetic (pytorch/pytorch#187460, still in 2.13)",
)
unary(
    "copysign-negative_sign",
    "-Abs[x]",
    lambda x: torch.copysign(x, const(x, -2.0)),
    [-1.25, 0.5, 3.0, 1e-30],
)
unary("abs", "Abs[x]", torch.abs, [-1.25, 0.5, 3.0, -1e-30])
unary("neg", "-x", torch.neg, [-1.25, 0.5, 3.0])
unary("frac", "x - 1", torch.frac, [1.25, 1.5, 1.9999999])  # active branch: points in (1, 2)
unary("fmod", "x - 2", lambda x: torch.fmod(x, 2.0), [2.25, 3.5, 3.9999998])  # points in (2, 4)
unary("remainder", "x + 2", lambda x: torch.remainder(x, 2.0), [-1.75, -0.5, -1e-7])  # points in (-2, 0)

gg.case(
    wolfram="a + w (b - a)",
    points=[
        {"a": 0.5, "b": 1.5, "w": 0.25},
        {"a": -2.0, "b": 3.0, "w": 0.75},
        {"a": 1.0, "b": 1.0, "w": 0.5},
    ],
    name="lerp",
)(lambda a, b, w: torch.lerp(a, b, w))
gg.case(
    wolfram="a + b c/2",
    points=[{"a": 0.5, "b": 1.5, "c": 0.25}, {"a": -2.0, "b": 3.0, "c": -0.75}],
    name="addcmul",
)(lambda a, b, c: torch.addcmul(a, b, c, value=0.5))
gg.case(
    wolfram="a + b/(2 c)",
    points=[{"a": 0.5, "b": 1.5, "c": 0.25}, {"a": -2.0, "b": 3.0, "c": -0.75}],
    name="addcdiv",
)(lambda a, b, c: torch.addcdiv(a, b, c, value=0.5))
gg.case(  # f32 range: d2/dc2 = b/c^3 = 1e45 (order 1, see "-tiny" above)
    wolfram="a + b/(2 c)",
    points=[{"a": 1.0, "b": 1.0, "c": 1e-15}],
    name="addcdiv-tiny_divisor",
    order=1,
)(lambda a, b, c: torch.addcdiv(a, b, c, value=0.5))
gg.case(
    wolfram="x/y",
    points=[{"x": 0.5, "y": 1.5}, {"x": -2.0, "y": 0.75}, {"x": 1e20, "y": 1e-5}],
    name="div",
)(lambda x, y: torch.div(x, y))
gg.case(  # f32 range: d2/dy2 = 2 x/y^3 = 2e45 (order 1, see "-tiny" above)
    wolfram="x/y",
    points=[{"x": 1.0, "y": 1e-15}],
    name="div-tiny_divisor",
    order=1,
)(lambda x, y: torch.div(x, y))
gg.case(
    wolfram="x y",
    points=[{"x": 0.5, "y": 1.5}, {"x": -2.0, "y": 0.0}, {"x": 1e-20, "y": 1e20}],
    name="mul",
)(lambda x, y: torch.mul(x, y))
