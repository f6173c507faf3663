"""Batched forms of the saturation and underflow cases: the hard points in one tensor beside an
ordinary one, as users write tests (a batch, several points in one call).

Each bug here is one the scalar cases (golden/elementwise.py, activations.py) record at the hard
point alone. In a batch, a tolerance scaled by the quantity's largest element hid every one of
them (the ordinary element's derivative is ~1e17 times the saturated one's); the per-element rule
(gradgold.compare) catches them. tests/test_batched.py checks that a corrected implementation of
each passes these goldens in every mode, so the expected failures are torch's, not the goldens'.
"""

import functools

import torch
import torch.nn.functional as F

import gradgold as gg

vec = functools.partial(gg.unary, precision=60)

SIGMOID = "backward y (1 - y) cancels for large x (upstream issue not identified)"
TANH = "backward 1 - tanh(x)^2 cancels near saturation (pytorch/pytorch#195685)"
EXPM1 = "backward computes exp(x) as expm1(x) + 1: cancels for x << 0 (pytorch/pytorch#192406)"
GELU = "x (1 + erf(x/sqrt 2))/2 cancels in the left tail (see pytorch/pytorch#192295 for ndtr)"
SOFTSIGN = "composite x/(1 + |x|): its quotient-rule gradient cancels (upstream issue not identified)"
TANHSHRINK = "computed as x - tanh(x), which cancels for small |x| (upstream issue not identified)"
OVERFLOW = "backward squares x: 1/sqrt(x^2 +- 1) is 0 once x^2 overflows (upstream issue not identified)"

vec("sigmoid", "1/(1 + Exp[-x])", torch.sigmoid, [[0.5, 12.0, 20.0, 40.0]], xfail=SIGMOID)
# The issue's own example: the sum, so the gradient is one row and the saturated entry sits beside 0.235.
gg.case("Total[1/(1 + Exp[-x])]", points=[{"x": gg.f32(0.5, 40.0)}], name="sigmoid-sum", xfail=SIGMOID)(
    lambda x: torch.sigmoid(x).sum()
)
vec("tanh", "Tanh[x]", torch.tanh, [[0.5, 5.0, 9.0, -15.0]], xfail=TANH)
vec("expm1", "Exp[x] - 1", torch.expm1, [[0.5, -30.0, -20.0]], precision=80, xfail=EXPM1)
vec("gelu", "x Erfc[-x/Sqrt[2]]/2", F.gelu, [[0.5, -6.0, -10.0]], xfail=GELU)
vec("softsign", "x/(1 + Abs[x])", F.softsign, [[0.5, -1e10, 3e5]], xfail=SOFTSIGN)
vec("tanhshrink", "x - Tanh[x]", F.tanhshrink, [[1.25, 1e-3, -2e-2]], xfail=TANHSHRINK)
vec("asinh", "ArcSinh[x]", torch.asinh, [[0.5, 1e30, -3e20]], xfail={"float32": OVERFLOW})

# --- more saturation and underflow cases (activations, elementwise and special functions) ----------
GELU_TANH = "1 + tanh(u) cancels in the left tail, value and backward (upstream issue not identified)"
SINC = "backward formula cancels for small |x| (upstream issue not identified)"
ERFCX = "backward 2 x erfcx(x) - 2/sqrt(pi) cancels for large x (upstream issue not identified)"
NDTR = "ndtr computed as (1 + erf(x/sqrt 2))/2 flushes the left tail to 0 (pytorch/pytorch#192295)"
IE = "backward formula cancels for large |x| (upstream issue not identified)"
vec(
    "gelu-tanh",
    "x (1 + Tanh[Sqrt[2/Pi] (x + 44715/1000000 x^3)])/2",
    lambda x: F.gelu(x, approximate="tanh"),
    [[0.5, -3.0, -4.5]],
    xfail=GELU_TANH,
)
vec(
    "softplus",
    "Log[1 + Exp[x]]",
    F.softplus,
    [[0.5, 25.0, 30.0]],
    # The linearisation above threshold=20 makes the second derivative 0 for sigmoid'(25) = 1.4e-11,
    # which float32's Hessian sees too (as activations/softplus-above_threshold records).
    xfail={
        "float64": "softplus is linearised above threshold=20 by design (documented)",
        "float32-hessian": "softplus is linearised above threshold=20 by design (documented)",
    },
)
vec("acosh", "ArcCosh[x]", torch.acosh, [[1.25, 1e30, 3e20]], xfail={"float32": OVERFLOW})
vec("sinc", "Sin[Pi x]/(Pi x)", torch.sinc, [[-1.25, 1e-4, 2.5e-2, 1e-20]], precision=100, xfail=SINC)
vec("erfcx", "Exp[x^2] Erfc[x]", torch.special.erfcx, [[0.5, 30.0, 1e4]], xfail=ERFCX)
vec("ndtr", "Erfc[-x/Sqrt[2]]/2", torch.special.ndtr, [[0.5, -5.0, -10.0, -12.0]], xfail=NDTR)
vec("i0e", "Exp[-Abs[x]] BesselI[0, x]", torch.special.i0e, [[0.5, 1e4, -3e3, 100.0]], xfail=IE)
vec("i1e", "Exp[-Abs[x]] BesselI[1, x]", torch.special.i1e, [[0.5, 1e4, -3e3, 100.0]], xfail=IE)

# --- second derivatives in a batch (order 2: each entry's Hessian is diagonal) -----------------------
# The second-order failures of golden/second_order.py beside an ordinary point, named as there; each
# records the Hessian only (value and gradient stay checked in every mode).
CUBE = "second derivative cubes 1/sqrt(x^2 + 1), which underflows for large x (upstream issue not identified)"
vec(
    "sigmoid-tiny",
    "1/(1 + Exp[-x])",
    torch.sigmoid,
    [[0.5, 1e-20]],
    xfail={
        "hessian": "second derivative y (1 - y) (1 - 2y): 1 - 2y cancels for tiny x (upstream issue not "
        "identified)"
    },
)
vec(
    "logsigmoid-right_tail",
    "-Log[1 + Exp[-x]]",
    F.logsigmoid,
    [[0.5, 20.0, 50.0]],
    xfail={"hessian": "double backward (z - 1) z cancels once sigmoid(x) saturates (pytorch/pytorch#195530)"},
)
vec(
    "softplus-saturation",
    "Log[1 + Exp[x]]",
    F.softplus,
    [[0.5, 15.0]],
    xfail={
        "hessian": "second derivative s (1 - s) cancels as sigmoid saturates (upstream issue not identified)"
    },
)
vec(
    "silu-saturation",
    "x/(1 + Exp[-x])",
    F.silu,
    [[0.5, 20.0, 40.0]],
    xfail={
        "hessian": "second derivative through 1 - sigmoid(x) cancels as sigmoid saturates "
        "(upstream issue not identified)"
    },
)
vec("asinh-large", "ArcSinh[x]", torch.asinh, [[0.5, 1e15]], xfail={"float32-hessian": CUBE})
