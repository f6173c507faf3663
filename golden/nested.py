"""Nested modes for linear algebra, normalization and cumulative operations.

Second derivatives are where autograd's modes part ways: each op has a backward formula, a
forward-mode (jvp) formula, and derivatives of each of those, written separately. Two kinds of case:

- Hessians in every mode: reverse-over-reverse (``reverse``, ``double_backward``), forward-over-reverse
  (``func``: ``jacfwd(jacrev)``) and forward-over-forward (``forward``: ``jvp`` of ``jvp``).
  ``<name>-hessian`` holds it beyond the default (``order=2`` over more than 8 scalar inputs:
  linalg.py's 3x3 and batched cases hold first derivatives only); the other cases here are at order 2
  by default, at points their counterparts in linalg.py, composites.py and reductions.py lack (the
  Hessians at the same points are those cases' own).
- ``<name>-jvp``: the function is the op's directional derivative along a tangent, computed by
  ``torch.func.jvp`` inside the case, and the reference is its closed form (d det[V] =
  det(A) tr(A^-1 V), d inv[V] = -A^-1 V A^-1, ...). Differentiating it is reverse-over-forward
  (``reverse``, ``double_backward``, ``func``: ``jacrev`` of ``jvp``) and forward-over-forward
  (``forward``); its gradient with respect to the tangent is the op's first derivative again.

Matrices are 2x2 or 3x3 (linalg.py's points), vectors have 4 entries; the products and
cumulative products hold zeros, the solves come batched (a second system 1000x smaller) and
broadcast (one matrix over three right-hand sides).
"""

import functools

import torch
import torch.func as tfunc
import torch.linalg as LA
import torch.nn.functional as F

import gradgold as gg

A2 = gg.f32([1.0, 0.5], [0.25, -0.75])
A3 = gg.f32([1.0, 0.5, -0.25], [0.25, -0.75, 1.0], [2.0, 0.125, 0.5])
A3_SPD = gg.f32([2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0])
V2 = gg.f32([0.5, -1.0], [0.75, 0.25])
V3 = gg.f32([0.5, -1.0, 0.25], [0.75, 0.25, -0.5], [-0.125, 1.5, 1.0])
B_BATCH = [gg.f32([2.0, -1.25], [1.5, 0.5]), gg.f32([1e-3, 5e-4], [2.5e-4, -7.5e-4])]
b_BATCH = gg.f32([0.5, -1.0], [1e-3, 2e-3])
b_BROADCAST = gg.f32([0.5, -1.0], [1.5, 0.25], [-2.0, 1e-3])
X4 = [gg.f32(0.5, -1.25, 2.0, 3.0), gg.f32(1.5, 0.25, -0.75, -2.0)]
ZEROS4 = [gg.f32(2.0, 0.0, 3.0, 0.5), gg.f32(0.0, 2.0, 3.0, 4.0), gg.f32(0.5, 1.5, 0.0, 0.0)]
V4 = gg.f32(0.25, -1.0, 0.5, 2.0)

one = functools.partial(gg.unary, param="A", order=2)  # beyond the default: 9 inputs

#: As in linalg.py (bench/TOLERANCE.md): results of a decomposition are backward stable in norm.
NORMWISE = (
    "computed through a matrix decomposition, backward stable in norm: small and zero elements carry "
    "errors of a few ULPs of max|ref|"
)
#: torch.func.jacrev (vmap over the backward) of a solve whose A broadcasts over b's batch raises "The
#: size of tensor a (3) must match the size of tensor b (6)" (as linalg.py's solve-broadcast).
BROADCAST_FUNC = {
    f"{d}-func": "jacrev of a broadcast linalg.solve raises a size mismatch in the backward "
    "(upstream issue not identified)"
    for d in ("float64", "float32")
}
#: The -jvp cases run the modes that differentiate a jvp by reverse mode; forward-over-forward is the
#: Hessian cases' forward mode (forward_ad cannot nest inside torch.func.jvp: "Nested forward mode AD is
#: not supported").
REVERSE_OVER_FORWARD = ("reverse", "double_backward", "func")
#: The JVP rules of det, slogdet and solve solve with the LU factors saved by the forward, which they
#: never differentiate: d(jvp)/dA misses the dependence of A^-1 on A (det: relative error 1040).
LU_JVP = (
    "reverse-over-forward: the JVP rule solves with the saved LU factors, which it does not "
    "differentiate (pytorch/pytorch#192540, closed, still wrong in 2.13)"
)
#: Confined to d(jvp)/dA: the value (the jvp) and d(jvp)/dV (the first derivative) stay checked.
LU_JVP_A = {"grad/A": LU_JVP}
FWD2 = {"forward-hessian": "forward-over-forward Hessian drops a second-order term (pytorch/pytorch#198017)"}


def jvp1(f, x, v):  # type: ignore[no-untyped-def]
    """``f``'s derivative at ``x`` along ``v`` by forward mode (``torch.func.jvp``)."""
    return tfunc.jvp(f, (x,), (v,))[1]


def sym(X: torch.Tensor) -> torch.Tensor:
    return (X + X.mT) / 2


# --- linear algebra: Hessians in every mode -------------------------------------------------------
# At a well-conditioned point: at A3 (det 0.055, cond 133) the reverse-over-reverse Hessian's exact
# zeros are differences of two terms det (A^-1)_ij^2 = 64 and come out as 1.4e-14 (half an ULP of the
# terms, 32 of max|ref| = 2), which only a per-element magnitude of the terms could allow for.
one("det-3x3-hessian", "Det[A]", LA.det, [A3_SPD], xfail=FWD2, normwise=NORMWISE)
one("inv-3x3-hessian", "Inverse[A]", LA.inv, [A3])
gg.case(
    wolfram="Table[Inverse[A[[k]]] . b[[k]], {k, 2}]",
    points=[{"A": B_BATCH, "b": b_BATCH}],
    name="solve-batched-hessian",
    order=2,
    xfail=FWD2,
)(lambda A, b: LA.solve(A, b))
gg.case(
    wolfram="Map[Inverse[A] . # &, b]",
    points=[{"A": A2, "b": b_BROADCAST}],
    name="solve-broadcast-hessian",
    order=2,
    xfail={**FWD2, **BROADCAST_FUNC},
)(lambda A, b: LA.solve(A, b.unsqueeze(-1)).squeeze(-1))
# (qr-r_abs and qr-q_canonical at A2 are linalg.py's own cases, which hold the Hessian by default.)

# --- linear algebra: reverse-over-forward (a jvp inside the case) --------------------------------
jvp_case = functools.partial(gg.case, modes=REVERSE_OVER_FORWARD)
jvp_case(wolfram="Det[A] Tr[Inverse[A] . V]", points=[{"A": A3, "V": V3}], name="det-jvp", xfail=LU_JVP_A)(
    lambda A, V: jvp1(LA.det, A, V)
)
jvp_case(wolfram="Tr[Inverse[A] . V]", points=[{"A": A3, "V": V3}], name="slogdet-jvp", xfail=LU_JVP_A)(
    lambda A, V: jvp1(lambda X: LA.slogdet(X).logabsdet, A, V)
)
jvp_case(wolfram="-Inverse[A] . V . Inverse[A]", points=[{"A": A3, "V": V3}], name="inv-jvp")(
    lambda A, V: jvp1(LA.inv, A, V)
)
jvp_case(
    wolfram="Inverse[A] . (w - V . Inverse[A] . b)",
    points=[{"A": A3, "b": gg.f32(0.5, -1.0, 2.0), "V": V3, "w": gg.f32(1.0, 0.25, -0.5)}],
    name="solve-jvp",
    xfail=LU_JVP_A,
)(lambda A, b, V, w: tfunc.jvp(LA.solve, (A, b), (V, w))[1])
jvp_case(
    wolfram="Table[Inverse[A[[k]]] . (w[[k]] - V[[k]] . Inverse[A[[k]]] . b[[k]]), {k, 2}]",
    points=[
        {
            "A": B_BATCH,
            "b": b_BATCH,
            "V": [V2, gg.f32([1e-3, -2e-3], [5e-4, 1e-3])],
            "w": gg.f32([1, 0.25], [-1e-3, 5e-4]),
        }
    ],
    name="solve-batched-jvp",
    xfail=LU_JVP_A,
)(lambda A, b, V, w: tfunc.jvp(LA.solve, (A, b), (V, w))[1])
jvp_case(
    wolfram="Table[Inverse[A] . (w[[k]] - V . Inverse[A] . b[[k]]), {k, 3}]",
    points=[{"A": A2, "b": b_BROADCAST, "V": V2, "w": gg.f32([1.0, 0.25], [-0.5, 2.0], [0.125, -1.0])}],
    name="solve-broadcast-jvp",
    xfail={
        "reverse-grad/A": LU_JVP,
        "double_backward-grad/A": LU_JVP,
        **BROADCAST_FUNC,
    },
)(lambda A, b, V, w: tfunc.jvp(lambda X, y: LA.solve(X, y.unsqueeze(-1)).squeeze(-1), (A, b), (V, w))[1])
SPD = "(A . Transpose[A] + IdentityMatrix[2])"
DS = "(V . Transpose[A] + A . Transpose[V])"
Sa, Sb, Sd = (f"{SPD}[[{i}, {j}]]" for i, j in ((1, 1), (2, 1), (2, 2)))
Da, Db, Dd = (f"{DS}[[{i}, {j}]]" for i, j in ((1, 1), (2, 1), (2, 2)))
gg.case(
    wolfram=f"{{{{{Da}/(2 Sqrt[{Sa}]), 0}}, {{{Db}/Sqrt[{Sa}] - {Sb} {Da}/(2 {Sa}^(3/2)), "
    f"({Dd} - 2 {Sb} {Db}/{Sa} + {Sb}^2 {Da}/{Sa}^2)/(2 Sqrt[{Sd} - {Sb}^2/{Sa}])}}}}",
    points=[{"A": A2, "V": V2}],
    name="cholesky-jvp",
    normwise=NORMWISE,
    modes=REVERSE_OVER_FORWARD,
)(lambda A, V: jvp1(lambda X: LA.cholesky(X @ X.mT + torch.eye(2, dtype=X.dtype)), A, V))
SYM, DSYM = "((A + Transpose[A])/2)", "((V + Transpose[V])/2)"
Ea, Eb, Ed = (f"{SYM}[[{i}, {j}]]" for i, j in ((1, 1), (1, 2), (2, 2)))
Fa, Fb, Fd = (f"{DSYM}[[{i}, {j}]]" for i, j in ((1, 1), (1, 2), (2, 2)))
DR = f"((({Ea} - {Ed})/2) (({Fa} - {Fd})/2) + {Eb} {Fb})/Sqrt[(({Ea} - {Ed})/2)^2 + {Eb}^2]"
gg.case(
    wolfram=f"{{({Fa} + {Fd})/2 - {DR}, ({Fa} + {Fd})/2 + {DR}}}",
    points=[{"A": A2, "V": V2}],
    name="eigvalsh-jvp",
    modes=REVERSE_OVER_FORWARD,
)(lambda A, V: jvp1(lambda X: LA.eigvalsh(sym(X)), A, V))

# --- normalization -----------------------------------------------------------------------------
#: The JVP rules of layer_norm and batch_norm, differentiated by reverse mode: d(jvp)/dx is wrong
#: (relative error 8.6) while d(jvp)/dv, the first derivative, is right.
NORM_JVP = (
    "reverse-over-forward: the JVP rule of the normalization drops a second-order term "
    "(cf. pytorch/pytorch#198017)"
)
#: Evidence for normwise= (measured): group_norm's Hessian and reverse-over-forward derivatives are
#: sums of terms of both signs, and exact zeros between groups come out as rounding noise; torch's
#: worst errors are 0.6 (float64) and 3.5 (float32) ULPs of max|ref|.
GROUP_NORMWISE = (
    "second derivatives of a normalization are cancelling sums (exact zeros between groups): errors of "
    "at most 3.5 ULPs of max|ref|"
)
EPS = "1/10^5"  # torch's default eps for layer_norm, batch_norm and group_norm


def norm_wl(x: str, n: int) -> str:
    """(x - mean)/sqrt(biased variance + eps) over the n entries of ``x``."""
    c = f"({x} - Total[{x}]/{n})"
    return f"{c}/Sqrt[Total[{c}^2]/{n} + {EPS}]"


def norm_jvp_wl(x: str, v: str, n: int) -> str:
    """The directional derivative of :func:`norm_wl` along ``v``: dc/s - c <c, dc>/(n s^3)."""
    c, dc = f"({x} - Total[{x}]/{n})", f"({v} - Total[{v}]/{n})"
    s2 = f"(Total[{c}^2]/{n} + {EPS})"
    return f"{dc}/Sqrt[{s2}] - {c} Total[{c} {dc}]/({n} {s2}^(3/2))"


GROUPS = f"Flatten[{{{norm_wl('x[[1 ;; 3]]', 3)}, {norm_wl('x[[4 ;; 6]]', 3)}}}]"
X6 = [gg.f32(0.5, -1.25, 2.0, 3.0, 1e-3, -0.5), gg.f32(1.0, 1.0 + 2**-10, 1.0 - 2**-10, -2.0, 0.25, 0.75)]


def group_norm(x: torch.Tensor) -> torch.Tensor:
    return F.group_norm(x.reshape(1, 6, 1), 2).reshape(6)


def batch_norm(x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x.reshape(4, 1), None, None, training=True).reshape(4)


# Order 2 by default (4 and 6 inputs). batch_norm_train at X4[0] and layer_norm with an affine weight
# are composites.py's own cases, which hold the Hessian by default.
gg.unary("layer_norm-spread", norm_wl("x", 4), lambda x: F.layer_norm(x, (4,)), X4[1:], xfail=FWD2)
gg.unary("group_norm", GROUPS, group_norm, X6[:1], normwise=GROUP_NORMWISE)
gg.unary("normalize", "x/Sqrt[Total[x^2]]", lambda x: F.normalize(x, dim=0), X4[:1])
for nm, f in [("layer_norm", lambda x: F.layer_norm(x, (4,))), ("batch_norm_train", batch_norm)]:
    jvp_case(
        wolfram=norm_jvp_wl("x", "v", 4),
        points=[{"x": p, "v": V4} for p in X4],
        name=f"{nm}-jvp",
        # Order 2 (the default): the Hessian of the JVP, the derivative of the wrong d(jvp)/dx, is off
        # by 0.16-0.17 (relative 15 and 87, points 0-1, float64 and float32) in every mode.
        xfail={"grad/x": NORM_JVP, "hessian": NORM_JVP},
    )(lambda x, v, f=f: jvp1(f, x, v))
gg.case(
    wolfram="Flatten[{"
    + ", ".join(norm_jvp_wl(f"x[[{r}]]", f"v[[{r}]]", 3) for r in ("1 ;; 3", "4 ;; 6"))
    + "}]",
    points=[{"x": p, "v": gg.f32(0.25, -1.0, 0.5, 2.0, -0.75, 1.25)} for p in X6],
    name="group_norm-jvp",
    modes=REVERSE_OVER_FORWARD,
    normwise=GROUP_NORMWISE,
)(lambda x, v: jvp1(group_norm, x, v))
gg.case(
    wolfram="v/Sqrt[x . x] - x (x . v)/(x . x)^(3/2)",
    points=[{"x": p, "v": V4} for p in X4],
    name="normalize-jvp",
    modes=REVERSE_OVER_FORWARD,
    # The Hessian of the jvp, e.g. d2/dx dv of v/|x| - x (x . v)/|x|^3, holds entries that are
    # differences of terms of both signs (3.6e-17 off, relative 1.8e-14, at point 1 in float64, the same
    # in reverse, double_backward and func): each element's allowance scales with its magnitude of terms.
    magnitudes=True,
)(lambda x, v: jvp1(lambda y: F.normalize(y, dim=0), x, v))

# --- cumulative operations and products, with zeros ------------------------------------------------
LCSE_FWD = "forward-mode JVP normalises prefixes by the global max (pytorch/pytorch#196705)"
# (cumsum, cumprod at zeros, prod at zeros and logcumsumexp hold their Hessians in reductions.py, at
# these points or ones of the same kind.)


def dprod(k: int) -> str:
    """d(x1 ... xk)[v] = sum_j v_j prod_{i != j} x_i, written out (no division: exact at zeros)."""
    return " + ".join(
        " ".join([f"v[[{j}]]", *(f"x[[{i}]]" for i in range(1, k + 1) if i != j)]) for j in range(1, k + 1)
    )


gg.case(
    wolfram="{" + ", ".join(dprod(k) for k in range(1, 5)) + "}",
    points=[{"x": p, "v": V4} for p in ZEROS4],
    name="cumprod-zeros-jvp",
    modes=REVERSE_OVER_FORWARD,
    # Order 2 (the default): the Hessian of the JVP is NaN at every point too (float64 and float32).
    xfail=dict.fromkeys(
        ("grad", "hessian"),
        "reverse-over-forward of cumprod's JVP rule is NaN at a zero factor (cf. pytorch/pytorch#196701)",
    ),
)(lambda x, v: jvp1(lambda y: torch.cumprod(y, 0), x, v))
gg.case(
    wolfram=dprod(4),
    points=[{"x": p, "v": V4} for p in ZEROS4],
    name="prod-zeros-jvp",
    modes=REVERSE_OVER_FORWARD,
)(lambda x, v: jvp1(torch.prod, x, v))
gg.case(
    wolfram="Table[Total[Exp[x[[1 ;; k]]] v[[1 ;; k]]]/Total[Exp[x[[1 ;; k]]]], {k, 4}]",
    points=[{"x": p, "v": V4} for p in [*X4, gg.f32(0.0, -50.0, 50.0, 1.0)]],
    name="logcumsumexp-jvp",
    precision=50,
    modes=REVERSE_OVER_FORWARD,
    xfail=LCSE_FWD,  # the jvp itself is wrong (5486 ULPs, and 0 for the spread point's early prefixes)
)(lambda x, v: jvp1(lambda y: torch.logcumsumexp(y, 0), x, v))
