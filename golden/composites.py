"""Composite models: what people actually differentiate, built from many operations at once.

Attention (by hand and through scaled_dot_product_attention), layer and batch normalisation, a
small MLP, a 1-D convolution, and a physics-style energy (Lennard-Jones) whose gradient is the
force. Sizes are the smallest that exercise every path (2 tokens of dimension 2, 3 particles in 2-D)
so the symbolic derivatives stay cheap. Hard points: nearly uniform attention, saturated
attention, nearly constant inputs to normalisation, particles close together.
"""

import torch
import torch.nn.functional as F

import gradgold as gg

SOFTMAX_ROWS = "(Exp[#]/Total[Exp[#]] & /@ (Q . Transpose[Km]/Sqrt[2]))"
# (Nearly uniform attention, Q ~ 1e-3, was refused by the generator: no digits certified in 300 s.)
ATTN_PTS = [
    {
        "Q": gg.f32([0.5, -1.25], [2.0, 0.25]),
        "Km": gg.f32([1.0, 0.5], [-0.75, 1.5]),
        "V": gg.f32([0.25, -1.0], [3.0, 0.5]),
    },
    {
        "Q": gg.f32([20.0, -20.0], [15.0, 5.0]),
        "Km": gg.f32([1.0, 0.5], [-0.75, 1.5]),
        "V": gg.f32([0.25, -1.0], [3.0, 0.5]),
    },
]


def _attention(Q, Km, V):
    return torch.softmax(Q @ Km.mT / 2**0.5, dim=-1) @ V


def _sdpa(Q, Km, V):
    return F.scaled_dot_product_attention(Q.unsqueeze(0), Km.unsqueeze(0), V.unsqueeze(0)).squeeze(0)


# Saturated attention (scores 26 apart): softmax's backward cancels as in activations/softmax-saturated,
# so torch returns 0 or a few digits for derivatives of size 1e-16 to 1e-6 (8.9e5 ULPs in float64).
SATURATED = (
    "softmax backward s (g - sum(g s)) cancels when attention saturates (upstream issue not identified)"
)
attention = gg.case(wolfram=f"{SOFTMAX_ROWS} . V", points=ATTN_PTS[:1], name="attention")(_attention)
# (precision=60: the generator raises 30 to 60 by itself here, and `verify --offline` then refuses
# digits beyond the declared precision; see the report.)
attention_saturated = gg.case(
    wolfram=f"{SOFTMAX_ROWS} . V",
    points=ATTN_PTS[1:],
    name="attention-saturated",
    xfail=SATURATED,
    precision=60,
)(_attention)
sdpa = gg.case(wolfram=f"{SOFTMAX_ROWS} . V", points=ATTN_PTS[:1], name="scaled_dot_product_attention")(_sdpa)
sdpa_saturated = gg.case(
    wolfram=f"{SOFTMAX_ROWS} . V",
    points=ATTN_PTS[1:],
    name="scaled_dot_product_attention-saturated",
    xfail=SATURATED,
    precision=60,
)(_sdpa)


MEAN = "(Total[x]/4)"
VAR_B = f"(Total[(x - {MEAN})^2]/4)"


@gg.case(
    wolfram=f"(x - {MEAN})/Sqrt[{VAR_B} + 1/10^5]",
    points=[{"x": gg.f32(0.5, -1.25, 2.0, 3.0)}, {"x": gg.f32(-3.0, 1e-3, 2.5, 0.25)}],
    name="layer_norm",
    order=2,
    # nested forward mode gets the Hessian wrong (relative error 15); the other modes are right
    xfail={
        "forward-hessian": "forward-over-forward Hessian drops a second-order term (pytorch/pytorch#198017)"
    },
)
def layer_norm(x):
    return F.layer_norm(x, (4,))


# A common offset of 1e3 over a spread of 0.5: relative condition number |x|/sigma = 3.5e3 for the
# centring, twice that through the gradient's two centred terms. torch's 4711 (float64) and 14988
# (float32) ULPs are within ~2x of it: the tolerance is 2^14 ULPs for both dtypes. At order 2 the stored
# Hessian's conditioning covers the gradient (0.0082 of the default allowance); the override is for the
# Hessian, the highest stored order: 27.1x the default allowance without it (bench/TOLERANCE.md).
H2_LAYER_NORM_OFFSET = (
    "forward-mode Hessian of layer_norm off by 5.7 (relative 8.8) at point 0, float64 and float32; "
    "reverse, double_backward and func match (issue #13 item 2)"
)


@gg.case(
    wolfram=f"(x - {MEAN})/Sqrt[{VAR_B} + 1/10^5]",
    points=[{"x": gg.f32(1e3, 1e3 + 0.5, 1e3 - 0.25, 1e3)}],
    name="layer_norm-offset",
    rtol_ulps={"float64": 2.0**14, "float32": 2.0**14},
    xfail={"forward-hessian": H2_LAYER_NORM_OFFSET},
)
def layer_norm_offset(x):
    return F.layer_norm(x, (4,))


# (The bias is a constant: d out/d b is the identity, an exact constant Jacobian, which the generator
# refuses with "precision DirectedInfinity[1]"; see the report.)
H2_LAYER_NORM_AFFINE = (
    "layer_norm's Hessian through jvp is wrong at point 0: forward off by 0.32 (relative 15), func by "
    "0.48 (relative 3.3), float64 and float32; reverse and double_backward match (issue #13 item 2)"
)


@gg.case(
    wolfram=f"w (x - {MEAN})/Sqrt[{VAR_B} + 1/10^5] + {{1/8, 0, -1/4, 1}}",
    points=[{"x": gg.f32(0.5, -1.25, 2.0, 3.0), "w": gg.f32(1.5, -0.5, 1.0, 2.0)}],
    name="layer_norm-affine",
    xfail={"forward-hessian": H2_LAYER_NORM_AFFINE, "func-hessian": H2_LAYER_NORM_AFFINE},
)
def layer_norm_affine(x, w):
    return F.layer_norm(x, (4,), w, torch.tensor([0.125, 0.0, -0.25, 1.0], dtype=x.dtype))


H2_BATCH_NORM_TRAIN = (
    "forward-over-reverse Hessian of training-mode batch_norm is off by up to 1.8e3 where the exact entry "
    "is 0 (points 0-1, float64 and float32); reverse, double_backward and func match (issue #13 item 2)"
)


@gg.case(
    wolfram=f"(x - {MEAN})/Sqrt[{VAR_B} + 1/10^5]",  # training mode: batch statistics over 4 samples
    points=[{"x": gg.f32(0.5, -1.25, 2.0, 3.0)}, {"x": gg.f32(1.0, 1.0 + 2**-10, 1.0 - 2**-10, 1.0)}],
    name="batch_norm_train",
    xfail={"forward-hessian": H2_BATCH_NORM_TRAIN},
)
def batch_norm_train(x):
    return F.batch_norm(x.reshape(4, 1), None, None, training=True).reshape(4)


MLP = "w2 . Tanh[W1 . x + b1]"
W1_PT = gg.f32([1.0, 0.5], [-0.75, 1.5])


@gg.case(
    wolfram=MLP,
    points=[{"x": gg.f32(0.5, -1.25), "W1": W1_PT, "b1": gg.f32(0.1, -0.2), "w2": gg.f32(1.5, -2.0)}],
    name="mlp_tanh",
    order=2,
)
def mlp_tanh(x, W1, b1, w2):
    return w2 @ torch.tanh(W1 @ x + b1)


# One hidden unit saturated (pre-activation 5): tanh's backward 1 - y^2 loses 1696 ULPs (float64).
@gg.case(
    wolfram=MLP,
    points=[{"x": gg.f32(3.0, 4.0), "W1": W1_PT, "b1": gg.f32(0.0, 0.0), "w2": gg.f32(1.0, 1.0)}],
    name="mlp_tanh-saturated",
    xfail="tanh backward 1 - tanh(x)^2 cancels near saturation (pytorch/pytorch#195685)",
)
def mlp_tanh_saturated(x, W1, b1, w2):
    return w2 @ torch.tanh(W1 @ x + b1)


@gg.case(
    wolfram="Total[Log[1 + Exp[-{1, -1, 1} (W . x)]]]/3",  # logistic regression on 3 samples
    points=[{"W": gg.f32([1.0, 0.5], [-0.75, 1.5], [2.0, -1.0]), "x": gg.f32(0.5, -1.25)}],
    name="logistic_regression",
    precision=50,
)
def logistic_regression(W, x):
    return F.soft_margin_loss(W @ x, torch.tensor([1.0, -1.0, 1.0], dtype=x.dtype))


@gg.case(
    wolfram="Table[Sum[x[[i + k - 1]] w[[k]], {k, 3}], {i, 3}]",
    points=[{"x": gg.f32(0.5, -1.25, 2.0, 3.0, -0.5), "w": gg.f32(1.0, -2.0, 0.25)}],
    name="conv1d",
)
def conv1d(x, w):
    return F.conv1d(x.reshape(1, 1, 5), w.reshape(1, 1, 3)).reshape(3)


def _r2(i: int, j: int) -> str:
    return f"((P[[{i}, 1]] - P[[{j}, 1]])^2 + (P[[{i}, 2]] - P[[{j}, 2]])^2)"


LJ = " + ".join(f"4 (1/{_r2(i, j)}^6 - 1/{_r2(i, j)}^3)" for i, j in [(1, 2), (1, 3), (2, 3)])


@gg.case(
    wolfram=LJ,
    points=[
        {"P": gg.f32([0.0, 0.0], [1.1, 0.1], [0.3, 1.2])},
        {"P": gg.f32([0.0, 0.0], [0.85, 0.0], [0.0, 3.0])},  # a close pair: steep repulsion
        {"P": gg.f32([0.0, 0.0], [5.0, 0.0], [0.0, 7.0])},  # far apart: tiny forces
    ],
    name="lennard_jones",
    precision=50,
    order=2,
    # Forces are sums of r^-13 and r^-7 terms of both signs that cancel to 1/40 of them (forward mode
    # rounds to 1.25x the allowance |ref| would give): the generator's magnitudes of terms.
    magnitudes=True,
)
def lennard_jones(P):
    d = P.unsqueeze(0) - P.unsqueeze(1)
    r2 = (d**2).sum(-1)
    iu = torch.triu_indices(3, 3, 1)
    r2 = r2[iu[0], iu[1]]
    return (4 * (r2**-6 - r2**-3)).sum()
