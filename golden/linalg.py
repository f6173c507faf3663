"""Linear algebra (torch.linalg and products) against exact references.

Matrices are 2x2 or 3x3 so the symbolic derivatives stay cheap. Decompositions whose factors are
not unique (signs of eigenvectors, singular vectors, Q) are checked through invariant functions of
them: eigenvalues, V diag(f(L)) V^T, |R|, U diag(s) V^T. Symmetric inputs are built inside the
function as (X + X^T)/2 (or X X^T + I for positive definite ones) so that the derivative with
respect to every entry of X is well defined. Hard points: nearly singular matrices, singular
ones (det's derivative is the adjugate there), nearly repeated eigenvalues and singular values.

2x2 closed forms: with S = {{a, b}, {b, d}}, eigenvalues (a + d)/2 -+ Sqrt[((a - d)/2)^2 + b^2];
singular values Sqrt[(t -+ Sqrt[t^2 - 4 det^2])/2] with t = Tr[A^T A]; Cholesky factor
{{Sqrt[a], 0}, {b/Sqrt[a], Sqrt[d - b^2/a]}}; matrix exponential e^m (Cosh[q] I + Sinh[q]/q (A - m I))
with m = Tr[A]/2 and q^2 = ((a - d)/2)^2 + b c > 0.
"""

import functools

import torch
import torch.linalg as LA

import gradgold as gg

A2 = [gg.f32([1.0, 0.5], [0.25, -0.75]), gg.f32([2.0, -1.25], [1.5, 0.5])]
A2_NEAR_SINGULAR = gg.f32([1.0, 2.0], [0.5, 1.0000001])
A3 = [
    gg.f32([1.0, 0.5, -0.25], [0.25, -0.75, 1.0], [2.0, 0.125, 0.5]),
    gg.f32([2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0]),
]
A3_NEAR_SINGULAR = gg.f32([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0000005])
A3_SINGULAR = gg.f32([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0])  # rank 2

#: A case over one matrix parameter ``A``.
one = functools.partial(gg.unary, param="A")


#: Evidence for ``normwise=`` (bench/TOLERANCE.md): these results come out of a decomposition (LU, QR,
#: eigh, SVD, Cholesky), backward stable in norm, so an element that is exactly 0 or much smaller
#: than its neighbours carries an error of a few ULPs of the result's largest element (measured:
#: at most 2.6 ULPs of max|ref| in float64 and float32), far above its own ULPs.
NORMWISE = (
    "computed through a matrix decomposition, backward stable in norm: small and zero elements carry "
    "errors of a few ULPs of max|ref|"
)

# Nested forward mode (torch.func.jvp of jvp) drops a second-order term of det, slogdet and solve: the
# Hessian is wrong (relative error 1 and more) while reverse, double backward and torch.func agree
# with the golden.
FWD2 = {"forward-hessian": "forward-over-forward Hessian drops a second-order term (pytorch/pytorch#198017)"}


def sym(X: torch.Tensor) -> torch.Tensor:
    return (X + X.mT) / 2


SYM = "((A + Transpose[A])/2)"
SA, SB, SD = f"{SYM}[[1, 1]]", f"{SYM}[[1, 2]]", f"{SYM}[[2, 2]]"
RAD = f"Sqrt[(({SA} - {SD})/2)^2 + {SB}^2]"
EIG2 = f"{{({SA} + {SD})/2 - {RAD}, ({SA} + {SD})/2 + {RAD}}}"
TT, DET = "Tr[Transpose[A] . A]", "Det[A]"
SV2 = f"{{Sqrt[({TT} + Sqrt[{TT}^2 - 4 {DET}^2])/2], Sqrt[({TT} - Sqrt[{TT}^2 - 4 {DET}^2])/2]}}"

# --- products -----------------------------------------------------------------------------------
gg.case(
    wolfram="A . B",
    points=[
        {
            "A": gg.f32([1.0, 0.5, -0.25], [0.25, -0.75, 1.0]),
            "B": gg.f32([2.0, 1.0], [0.5, -1.5], [1e-3, 3.0]),
        }
    ],
    name="matmul",
)(lambda A, B: A @ B)
# (The added matrix is a constant: the generator refuses Jacobians with exact constant entries, such as
# d(M/2)/dM, with "precision DirectedInfinity[1]"; see the report.)
gg.case(
    wolfram="{{1, -1}, {1/2, 1/4}}/2 + 3 A . B",
    points=[{"A": A2[0], "B": A2[1]}],
    name="addmm",
)(
    lambda A, B: torch.addmm(
        torch.tensor([[1.0, -1.0], [0.5, 0.25]], dtype=A.dtype), A, B, beta=0.5, alpha=3.0
    )
)
gg.case(wolfram="A . v", points=[{"A": A3[0], "v": gg.f32(0.5, -1.0, 2.0)}], name="mv")(
    lambda A, v: torch.mv(A, v)
)
gg.case(wolfram="x . y", points=[{"x": gg.f32(0.5, -1.0, 2.0), "y": gg.f32(1.5, 0.25, -3.0)}], name="dot")(
    lambda x, y: torch.dot(x, y)
)
gg.case(wolfram="x . y", points=[{"x": gg.f32(0.5, -1.0, 2.0), "y": gg.f32(1.5, 0.25, -3.0)}], name="vecdot")(
    lambda x, y: LA.vecdot(x, y)
)
gg.case(
    wolfram="Outer[Times, x, y]",
    points=[{"x": gg.f32(0.5, -1.0), "y": gg.f32(1.5, 0.25, -3.0)}],
    name="outer",
)(lambda x, y: torch.outer(x, y))
gg.case(
    wolfram="Table[A[[Ceiling[i/2], Ceiling[j/2]]] B[[Mod[i - 1, 2] + 1, Mod[j - 1, 2] + 1]], "
    "{i, 4}, {j, 4}]",
    points=[{"A": A2[0], "B": A2[1]}],
    name="kron",
)(lambda A, B: torch.kron(A, B))
gg.case(wolfram="Total[Flatten[A B]]", points=[{"A": A2[0], "B": A2[1]}], name="tensordot")(
    lambda A, B: torch.tensordot(A, B, dims=2)
)
gg.case(
    wolfram="x . A . y",
    points=[{"x": gg.f32(0.5, -1.0, 2.0), "A": A3[0], "y": gg.f32(1.5, 0.25, -3.0)}],
    name="einsum_bilinear",
)(lambda x, A, y: torch.einsum("i,ij,j->", x, A, y))
gg.case(wolfram="A . B . A", points=[{"A": A2[0], "B": A2[1]}], name="multi_dot")(
    lambda A, B: LA.multi_dot([A, B, A])
)
gg.case(
    wolfram="Cross[x, y]",
    points=[
        {"x": gg.f32(0.5, -1.0, 2.0), "y": gg.f32(1.5, 0.25, -3.0)},
        {"x": gg.f32(1, 2, 3), "y": gg.f32(2, 4, 6.0000005)},
    ],
    name="cross",
)(lambda x, y: LA.cross(x, y))
gg.case(wolfram="Tr[A . B]", points=[{"A": A3[0], "B": A3[1]}], name="trace")(lambda A, B: torch.trace(A @ B))
one("matrix_power-3", "A . A . A", lambda A: LA.matrix_power(A, 3), A2)
one("matrix_power-neg2", "Inverse[A] . Inverse[A]", lambda A: LA.matrix_power(A, -2), [*A2, A2_NEAR_SINGULAR])

# --- determinants and inverses -----------------------------------------------------------------------
# Order 2 (the default for 4 inputs): the Hessian of det is constant (entries 0 and +-1); normwise, as
# torch computes det through LU, and its exact zeros come out as differences of products.
one("det-2x2", "Det[A]", LA.det, [*A2, A2_NEAR_SINGULAR], xfail=FWD2, normwise=NORMWISE)
one("det-3x3", "Det[A]", LA.det, [*A3, A3_NEAR_SINGULAR])
# At a singular matrix d det = adjugate (nonzero at rank n - 1): plain backward and forward mode return
# zeros; torch.func and create_graph=True get the adjugate.
DET0 = "d det at a singular matrix is 0 instead of the adjugate (cf. pytorch/pytorch#104675, closed)"
one(
    "det-singular",
    "Det[A]",
    LA.det,
    [A3_SINGULAR],
    xfail={f"{d}-{m}": DET0 for d in ("float64", "float32") for m in ("reverse", "forward")},
)
# Left out as legitimately ill-conditioned (torch's errors there are within condition number x eps, but
# exact zeros in the Jacobian leave no relative slack): A3_NEAR_SINGULAR for slogdet (cond 1e7: 8.4e6
# ULPs), nearly dependent columns for pinv (cond 2e4: 1.1e5 ULPs), L with L22 = 0.01 for
# cholesky_inverse (cond(L L^T) = 7.7e4: 3.3e4 ULPs), A A^T + I near singular for cholesky (1.3e-10
# relative), and eigenvalue / singular value gaps of 1e-7 to 2e-3 for the eigenvector- and singular-vector
# based functions (gradient condition 1/gap: 6e4 ULPs in float64, everything in float32).
one("slogdet", "Log[Abs[Det[A]]]", lambda A: LA.slogdet(A).logabsdet, A3)
# 2x2: few enough inputs (4) for the Hessian, which the 3x3 case (9 inputs) does not hold.
one("slogdet-2x2", "Log[Abs[Det[A]]]", lambda A: LA.slogdet(A).logabsdet, A2, xfail=FWD2)
one(
    "logdet",
    "Log[Det[A]]",
    torch.logdet,
    [A3[1], gg.f32([2.0, 0.5, 0.0], [0.25, 1.0, 0.0], [0.0, 0.0, 1e-3])],
)
one("inv-2x2", "Inverse[A]", LA.inv, [*A2, A2_NEAR_SINGULAR])
one("inv-3x3", "Inverse[A]", LA.inv, A3)
gg.case(
    wolfram="Inverse[A] . b",
    points=[{"A": A3[0], "b": gg.f32(0.5, -1.0, 2.0)}],
    name="solve",
)(lambda A, b: LA.solve(A, b))
# 2x2 (6 inputs): the solve's Hessian, which the 3x3 case (12 inputs) does not hold.
gg.case(
    wolfram="Inverse[A] . b",
    points=[{"A": A2[0], "b": gg.f32(0.5, -1.0)}],
    name="solve-2x2",
    xfail=FWD2,
)(lambda A, b: LA.solve(A, b))
# Nearly singular 2x2 (det = 2e-7). (The 3x3 A3_NEAR_SINGULAR is refused by the generator: its
# derivatives certify no digits even at 120 working digits in Mathics3.)
H2_SOLVE_NEAR_SINGULAR = (
    "forward-mode Hessian of solve near a singular matrix off by 7.0e13 (relative 1.0) at point 0, "
    "float64 and float32; reverse, double_backward and func match (issue #13 item 2)"
)
gg.case(
    wolfram="Inverse[A] . b",
    points=[{"A": A2_NEAR_SINGULAR, "b": gg.f32(1.0, -1.0)}],
    name="solve-near_singular",
    precision=60,
    xfail={"forward-hessian": H2_SOLVE_NEAR_SINGULAR},
)(lambda A, b: LA.solve(A, b))
# Batched and broadcast solves: a batch whose second system is 1000x smaller than the first (each
# element judged on its own scale, a wrong small system cannot hide behind the large one), and one
# matrix broadcast over three right-hand sides.
gg.case(
    wolfram="Table[Inverse[A[[k]]] . b[[k]], {k, 2}]",
    points=[{"A": [A2[1], gg.f32([1e-3, 5e-4], [2.5e-4, -7.5e-4])], "b": gg.f32([0.5, -1.0], [1e-3, 2e-3])}],
    name="solve-batched",
)(lambda A, b: LA.solve(A, b))
gg.case(
    wolfram="Map[Inverse[A] . # &, b]",
    points=[{"A": A2[0], "b": gg.f32([0.5, -1.0], [1.5, 0.25], [-2.0, 1e-3])}],
    name="solve-broadcast",
    # torch.func.jacrev (vmap over the backward) of a solve whose A broadcasts over b's batch raises
    # "The size of tensor a (3) must match the size of tensor b (6)"; reverse, double backward and
    # forward mode agree with the golden.
    xfail={
        f"{d}-func": "jacrev of a broadcast linalg.solve raises a size mismatch in the backward "
        "(upstream issue not identified)"
        for d in ("float64", "float32")
    },
)(lambda A, b: LA.solve(A, b.unsqueeze(-1)).squeeze(-1))
gg.case(
    wolfram="Inverse[A] . b",
    points=[{"A": A3[0], "b": gg.f32(0.5, -1.0, 2.0)}],
    name="lu_solve",
)(lambda A, b: LA.lu_solve(*LA.lu_factor(A), b.unsqueeze(-1)).squeeze(-1))
gg.case(
    wolfram="Inverse[{{A[[1, 1]], A[[1, 2]]}, {0, A[[2, 2]]}}] . b",  # only the upper triangle is read
    points=[
        {"A": A2[0], "b": gg.f32(0.5, -1.0)},
        {"A": gg.f32([1e-3, 2.0], [5.0, 1.0]), "b": gg.f32(1.0, 1.0)},
    ],
    name="solve_triangular",
)(lambda A, b: LA.solve_triangular(A, b.unsqueeze(-1), upper=True).squeeze(-1))
TALL = [gg.f32([1.0, 0.5], [0.25, -0.75], [2.0, 0.125]), gg.f32([1.0, 1.0], [1.0, 1.0001], [1.0, 0.9999])]
gg.case(
    wolfram="Inverse[Transpose[A] . A] . Transpose[A] . b",
    points=[{"A": TALL[0], "b": gg.f32(0.5, -1.0, 2.0)}],
    name="lstsq",
)(lambda A, b: LA.lstsq(A, b.unsqueeze(-1)).solution.squeeze(-1))
# (lstsq at TALL[1], columns 1e-4 apart, is refused by the generator: no digits certify at 120.)
one("pinv-tall", "Inverse[Transpose[A] . A] . Transpose[A]", LA.pinv, TALL[:1], normwise=NORMWISE)
# Normwise as pinv-tall (torch's pinv goes through the SVD): its Hessian, 4.1e-14 relative off in
# small entries (2.3x the elementwise allowance in float64, every mode), is within a few ULPs of max|ref|.
one("pinv-square", "Inverse[A]", LA.pinv, A2, normwise=NORMWISE)

# --- factorizations (through invariants) ------------------------------------------------------
SPD = "(A . Transpose[A] + IdentityMatrix[2])"
PA, PB, PD = f"{SPD}[[1, 1]]", f"{SPD}[[2, 1]]", f"{SPD}[[2, 2]]"
# Normwise, as a factorization (the exact zeros of its Hessian come out as 7.3e-17 in every mode).
one(
    "cholesky",
    f"{{{{Sqrt[{PA}], 0}}, {{{PB}/Sqrt[{PA}], Sqrt[{PD} - {PB}^2/{PA}]}}}}",
    lambda A: LA.cholesky(A @ A.mT + torch.eye(2, dtype=A.dtype)),
    [*A2, gg.f32([3.0, 2.0], [2.9, 2.0])],
    normwise=NORMWISE,
)
gg.case(
    wolfram=f"Inverse[{SPD}] . b",
    points=[{"A": A2[0], "b": gg.f32(0.5, -1.0)}],
    name="cholesky_solve",
)(
    lambda A, b: torch.cholesky_solve(
        b.unsqueeze(-1), LA.cholesky(A @ A.mT + torch.eye(2, dtype=A.dtype))
    ).squeeze(-1)
)
one(
    "cholesky_inverse",
    "Inverse[{{A[[1, 1]], 0}, {A[[2, 1]], A[[2, 2]]}} . {{A[[1, 1]], A[[2, 1]]}, {0, A[[2, 2]]}}]",
    lambda A: torch.cholesky_inverse(torch.tril(A)),
    [gg.f32([1.5, 0.0], [0.25, 0.75]), gg.f32([2.0, 0.0], [-1.25, 0.5])],
    # Forward mode multiplies the factors in the wrong order: d out[1,1]/d L[1,0] = 0.351 for 0 (a
    # finite difference agrees with the golden).
    # func's Hessian is jacfwd over jacrev, so the same forward-mode bug: off by 365 where the exact
    # entry is 0 (points 0-1, float64 and float32); reverse and double_backward match.
    xfail={
        **{
            f"{d}-forward": "wrong forward-mode derivative (pytorch/pytorch#196682)"
            for d in ("float64", "float32")
        },
        "func-hessian": "jacfwd over jacrev meets the wrong forward-mode derivative (pytorch/pytorch#196682)",
    },
    normwise=NORMWISE,
)
A1, A2c = "{A[[1, 1]], A[[2, 1]]}", "{A[[1, 2]], A[[2, 2]]}"
R_ABS = (
    f"{{{{Sqrt[{A1} . {A1}], Abs[{A1} . {A2c}]/Sqrt[{A1} . {A1}]}}, {{0, Abs[Det[A]]/Sqrt[{A1} . {A1}]}}}}"
)
one("qr-r_abs", R_ABS, lambda A: LA.qr(A).R.abs(), A2, normwise=NORMWISE)
# Order 1 at the nearly singular matrix (det 1.2e-7): |R22| = |det|/|a1| = 1.1e-7 is at the rounding level
# of a QR in float32, and its second derivatives grow like 1/|R22|: torch's Hessian is off by 8.7
# (float32) and 8e-9 (float64) where the exact entry is 0, in every mode; the first derivatives pass.
one(
    "qr-r_abs-near_singular",
    R_ABS,
    lambda A: LA.qr(A).R.abs(),
    [A2_NEAR_SINGULAR],
    normwise=NORMWISE,
    order=1,
)
one(
    "qr-q_canonical",  # Q with the signs that make R's diagonal positive: Gram-Schmidt
    f"Transpose[{{{A1}/Sqrt[{A1} . {A1}], "
    f"({A2c} - ({A1} . {A2c}/({A1} . {A1})) {A1})/Sqrt[Det[A]^2/({A1} . {A1})]}}]",
    lambda A: (lambda q, r: q * torch.sign(torch.diagonal(r)))(*LA.qr(A)),
    A2,
    normwise=NORMWISE,
)
EIG_NEAR = gg.f32([1.0, 1e-3], [1e-3, 1.0000001])  # eigenvalues 2e-3 apart
one("eigvalsh", EIG2, lambda A: LA.eigvalsh(sym(A)), A2)
one("eigh-eigenvalues", EIG2, lambda A: LA.eigh(sym(A)).eigenvalues, A2)
# Order 1 at nearly repeated eigenvalues: the Hessian of an eigenvalue is a sum over the other eigenvalues
# of (v_i' dS v_j)^2/(l_i - l_j), so its condition number is the eigenvector's, 1/gap = 500 here: torch's
# Hessian is 6.7e-12 relative off in float64 and 4.5e-4 (7.2e3 ULPs) in float32, every mode; under a
# normwise allowance float64 would pass and float32 still be 1.3x over it. No implementation to blame
# (the first derivatives pass); a float64-only Hessian case here is not written yet.
one("eigvalsh-near_repeated", EIG2, lambda A: LA.eigvalsh(sym(A)), [EIG_NEAR], order=1)
one("eigh-eigenvalues-near_repeated", EIG2, lambda A: LA.eigh(sym(A)).eigenvalues, [EIG_NEAR], order=1)
one(
    "eigh-matrix_function",  # V diag(L^2) V^T = S . S: differentiates through the eigenvectors
    f"{SYM} . {SYM}",
    lambda A: (lambda L, V: (V * L**2) @ V.mT)(*LA.eigh(sym(A))),
    [*A2, gg.f32([1.0, 0.25], [0.25, 1.125])],
    normwise=NORMWISE,
)
one(
    "eigh-invariant_3x3",  # sum of cubes of the eigenvalues of a symmetric 3x3 matrix
    f"Tr[{SYM} . {SYM} . {SYM}]",
    lambda A: (LA.eigvalsh(sym(A)) ** 3).sum(),
    [*A3, gg.f32([1.0, 1e-4, 0.0], [1e-4, 1.0, 0.0], [0.0, 0.0, 2.0])],
    normwise=NORMWISE,
)
# Normwise (torch's svdvals is the SVD's): its Hessian's small entries are 3e-14 (float64) and 1.7e-5
# (float32) relative off in every mode, up to 1.75x the elementwise allowance, a few ULPs of max|ref|.
one("svdvals", SV2, LA.svdvals, [*A2, gg.f32([1.0, 0.25], [-0.25, 1.125])], normwise=NORMWISE)
# Order 1: U diag(s) V^T = A is linear, so its Hessian is identically 0 and torch's, through the SVD,
# is rounding noise (5.7e-16 in float64, 4.6e-7 in float32, every mode): the allowance, elementwise or
# normwise, scales with the reference, which is 0 everywhere, so no check of it can pass or mean
# anything. svd-left_function checks second derivatives through the factors.
one(
    "svd-reconstruct",  # U diag(s) V^T = A: the identity, through all three factors
    "A",
    lambda A: (lambda U, S, Vh: (U * S) @ Vh)(*LA.svd(A)),
    A2,
    normwise=NORMWISE,
    order=1,
)
one(
    "svd-left_function",  # U diag(s^2) U^T = A A^T
    "A . Transpose[A]",
    lambda A: (lambda U, S, Vh: (U * S**2) @ U.mT)(*LA.svd(A)),
    A2,
    normwise=NORMWISE,
)
one("cond-2", f"{SV2}[[1]]/{SV2}[[2]]", lambda A: LA.cond(A), A2)
MEXP_M, MEXP_Q = "(Tr[A]/2)", "Sqrt[((A[[1, 1]] - A[[2, 2]])/2)^2 + A[[1, 2]] A[[2, 1]]]"
one(
    "matrix_exp",
    f"Exp[{MEXP_M}] (Cosh[{MEXP_Q}] IdentityMatrix[2] "
    f"+ Sinh[{MEXP_Q}]/{MEXP_Q} (A - {MEXP_M} IdentityMatrix[2]))",
    LA.matrix_exp,
    [
        gg.f32([1.0, 0.5], [0.25, -0.75]),
        gg.f32([0.5, 2.0], [1.5, 0.25]),
        gg.f32([1.0, 1e-3], [1e-3, 1.0000001]),
    ],
    precision=60,
)

# --- matrix norms -----------------------------------------------------------------------------------
one("matrix_norm-fro", "Sqrt[Total[Flatten[A^2]]]", LA.matrix_norm, A3)
one("matrix_norm-nuc", f"Total[{SV2}]", lambda A: LA.matrix_norm(A, "nuc"), A2)
one("matrix_norm-2", f"{SV2}[[1]]", lambda A: LA.matrix_norm(A, 2), A2)
one("matrix_norm-neg2", f"{SV2}[[2]]", lambda A: LA.matrix_norm(A, -2), A2)
# p = 1 (max column sum) and inf (max row sum): the winning column / row at both points is the first.
ONE_PTS = [gg.f32([2.0, 0.5], [-1.25, 0.75]), gg.f32([-3.0, 1.0], [0.5, -0.25])]
one("matrix_norm-1", "Abs[A[[1, 1]]] + Abs[A[[2, 1]]]", lambda A: LA.matrix_norm(A, 1), ONE_PTS)
one("matrix_norm-inf", "Abs[A[[1, 1]]] + Abs[A[[1, 2]]]", lambda A: LA.matrix_norm(A, float("inf")), ONE_PTS)
