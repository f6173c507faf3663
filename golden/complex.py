"""Complex autograd: holomorphic functions, real-valued functions of complex inputs, and complex
outputs of real inputs, checked in complex128 and complex64 (float64/float32 for real inputs).

The golden holds the real Jacobian: derivatives along the real and imaginary part of each input, of
the real and imaginary part of the value (see README, "Complex numbers"). For a holomorphic f these
are the Cauchy-Riemann pair of f'(z); for a real-valued L they are the parts of torch's gradient
dL/dRe z + i dL/dIm z. A backward formula that forgets a conjugate (torch's convention is the
conjugate Wirtinger derivative) fails here in every mode.

Points avoid branch cuts (the negative real axis for Log, Sqrt, and the powers) and poles; all are
on the float32 grid, so one reference serves both dtypes.
"""

import functools

import torch

import gradgold as gg

#: Ordinary points in the unit square, and a few of larger modulus where exp and the hyperbolic
#: functions grow, all off the negative real axis.
Z = [
    *gg.uniform(-1, 1, shapes={"z": ()}, n=3, seed=11, complex=True),
    {"z": 0.5 + 0.25j},
    {"z": -2.5 + 1.75j},
    {"z": 3.0 - 0.5j},
]
ZS = [p["z"] for p in Z]
W = gg.uniform(-1, 1, shapes={"z": (3,)}, n=2, seed=12, complex=True)


#: A complex-valued function of one complex scalar z.
holomorphic = functools.partial(gg.unary, param="z")


holomorphic("exp", "Exp[z]", torch.exp, ZS)
holomorphic("log", "Log[z]", torch.log, ZS)
holomorphic("sqrt", "Sqrt[z]", torch.sqrt, ZS)
holomorphic("sin", "Sin[z]", torch.sin, ZS)
holomorphic("cos", "Cos[z]", torch.cos, ZS)
holomorphic("tan", "Tan[z]", torch.tan, ZS[:4])
holomorphic("sinh", "Sinh[z]", torch.sinh, ZS)
holomorphic("tanh", "Tanh[z]", torch.tanh, ZS[:4])
holomorphic("reciprocal", "1/z", torch.reciprocal, ZS)
holomorphic("square", "z^2", torch.square, ZS)
holomorphic("pow-2.5", "z^(5/2)", lambda z: torch.pow(z, 2.5), ZS)
holomorphic("sigmoid", "1/(1 + Exp[-z])", torch.sigmoid, ZS[:4])
holomorphic("log1p", "Log[1 + z]", torch.log1p, ZS[:4])
holomorphic("expm1", "Exp[z] - 1", torch.expm1, ZS)
holomorphic("asin", "ArcSin[z]", torch.asin, ZS[:4])
holomorphic("atan", "ArcTan[z]", torch.atan, ZS[:4])
holomorphic("exp-sin-order2", "Exp[z] Sin[z]", lambda z: torch.exp(z) * torch.sin(z), ZS[:4], order=2)


@gg.case("Conjugate[z] Exp[z]", points=Z)
def conj_mul(z):
    return z.conj() * torch.exp(z)


@gg.case("Abs[z]", points=Z, complex_output=False, order=2, name="abs")
def abs_(z):
    return torch.abs(z)


@gg.case("Arg[z]", points=Z[:3], complex_output=False, order=2)  # its Hessian is slow to derive
def angle(z):
    return torch.angle(z)


@gg.case("Re[z] + 2 Im[z]", points=Z, complex_output=False)
def real_imag(z):
    return z.real + 2 * z.imag


@gg.case("z / w", points=[{"z": p["z"], "w": q["z"]} for p, q in zip(Z, reversed(Z), strict=True)])
def div(z, w):
    return z / w


@gg.case(
    "Total[Abs[z]^2]",
    points=W,
    complex_output=False,
    order=2,
    normwise="the Hessian's zero cross terms d2/dRe dIm come out of complex products as differences of equal "
    "products: errors of 1 ULP of max|ref| (complex128 and complex64)",
)
def sum_abs2(z):
    return (z.abs() ** 2).sum()


@gg.case("Sqrt[Total[Abs[z]^2]]", points=W, complex_output=False)
def vector_norm(z):
    return torch.linalg.vector_norm(z)


@gg.case(
    "Total[Abs[z - t]^2]/3",
    points=[{"z": p["z"], "t": [0.5, -0.25j, 1 + 1j]} for p in W],
    complex_output=False,
)
def mse(z, t):
    return (z - t).abs().pow(2).mean()


@gg.case("z . w", points=[{"z": W[0]["z"], "w": W[1]["z"]}])
def dot(z, w):
    return (z * w).sum()


@gg.case("Conjugate[z] . w", points=[{"z": W[0]["z"], "w": W[1]["z"]}])
def vdot(z, w):
    return torch.vdot(z, w)


M = gg.uniform(-1, 1, shapes={"A": (2, 2)}, n=2, seed=13, complex=True)


@gg.case("A . A", points=M)
def matmul(A):
    return A @ A


@gg.case("Det[A]", points=M)
def det(A):
    return torch.linalg.det(A)


@gg.case(
    "Inverse[A]",
    points=M,
    normwise="LU inverse, backward stable in norm: errors of a few ULPs of max|ref| in its small elements",
)
def inv(A):
    return torch.linalg.inv(A)


@gg.case("Log[Sum[Exp[z[[k]]], {k, 3}]]", points=W[:1])
def logsumexp(z):
    return torch.logsumexp(z, dim=0)


@gg.case(
    "Table[Sum[x[[k]] Exp[-2 Pi I (j - 1) (k - 1)/4], {k, 4}], {j, 4}]",
    points=gg.uniform(-1, 1, shapes={"x": (4,)}, n=2, seed=14),
    complex_output=True,
)
def fft_real(x):
    return torch.fft.fft(x)


@gg.case(
    "Table[Sum[z[[k]] Exp[-2 Pi I (j - 1) (k - 1)/3], {k, 3}], {j, 3}]",
    points=W,
)
def fft(z):
    return torch.fft.fft(z)


@gg.case("r Exp[I t]", points=[{"r": 1.5, "t": 0.25}, {"r": 0.5, "t": -2.0}], complex_output=True)
def polar(r, t):
    return torch.polar(r, t)
