import torch

import gradgold as gg


@gg.case(wolfram="Max[x, y]", points=[{"x": 0.25, "y": 0.75}, {"x": -0.5, "y": -2.0}])
def maximum(x, y):
    return torch.maximum(x, y)


@gg.case(wolfram="Min[x, y, 2 x]", points=[{"x": 0.25, "y": 0.75}, {"x": -0.5, "y": 2.0}])
def minimum3(x, y):
    return torch.minimum(torch.minimum(x, y), 2 * x)


@gg.case(wolfram="Ramp[x] + UnitStep[x] x^2", points=[{"x": 0.5}, {"x": -1.5}])
def ramp_step(x):
    return torch.relu(x) + (x > 0).to(x.dtype) * x**2


@gg.case(wolfram="Clip[x, {-1/2, 1}] + Clip[x/4]", points=[{"x": 0.25}, {"x": 2.0}, {"x": -3.0}])
def clip(x):
    return torch.clamp(x, -0.5, 1) + torch.clamp(x / 4, -1, 1)


@gg.case(
    wolfram="ArcTan[x, y]",
    points=[{"x": 1.0, "y": 2.0}, {"x": -1.0, "y": 0.5}, {"x": -1.0, "y": -0.5}, {"x": 0.5, "y": -3.0}],
)
def atan2(x, y):
    return torch.atan2(y, x)


@gg.case(wolfram="PolyGamma[1, x]", points=[{"x": 0.75}, {"x": 3.0}])
def trigamma(x):
    return torch.polygamma(1, x)


@gg.case(wolfram="ExpIntegralEi[x]", points=[{"x": 0.5}, {"x": 2.0}])
def ei(x):
    return torch.special.expit(x)  # not Ei: only the reference is examined here


@gg.case(
    wolfram="Piecewise[{{x^2, x > 1/2}, {x^3, x < -1}}, -x] + y",
    points=[{"x": 0.75, "y": 1.0}, {"x": -2.0, "y": 1.0}, {"x": 0.25, "y": 1.0}],
)
def piecewise(x, y):
    return torch.where(x > 0.5, x**2, torch.where(x < -1, x**3, -x)) + y


@gg.case(wolfram="If[x > 0, Sin[x], x]", points=[{"x": 0.0}])
def if_boundary(x):
    return torch.where(x > 0, torch.sin(x), x)


@gg.case(wolfram="Zeta[x]", points=[{"x": 3.0}], strategy="symbolic")  # the engine's refusal
def zeta(x):
    return x


@gg.case(wolfram="Norm[W]", points=[{"W": [[1.0, 2.0], [3.0, 4.0]]}])
def spectral(W):
    return torch.linalg.matrix_norm(W, 2)


@gg.case(wolfram="Norm[v]", points=[{"v": [3.0, -4.0]}])
def vnorm(v):
    return torch.linalg.vector_norm(v)


@gg.case(wolfram="Hypergeometric2F1[1/2, 1/3, 3/2, x^2] + x", points=[{"x": 0.375}, {"x": -0.75}], order=2)
def hyp2f1(x):
    return x  # torch has no 2F1: only the reference is examined here


@gg.case(
    wolfram="Hypergeometric2F1[1/2, 1/3, 3/2, x y]",
    points=[{"x": 0.5, "y": 0.25}],
    strategy="substituted",
)
def hyp2f1_substituted(x, y):
    return x * y


@gg.case(wolfram="Hypergeometric2F1[x, 1/3, 3/2, 1/5]", points=[{"x": 0.5}], strategy="symbolic")
def hyp2f1_in_a(x):
    return x
