"""The functions the benchmarks check: the seed's matrix function and two others.

Each takes two n x n matrices and returns a scalar, so the input size is 2 n^2 elements
(n = 2..64 gives 8..8192) and one gradgold check needs one backward pass, as gradcheck's
analytical Jacobian does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def matrix_norm(W: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    """The seed's matrix function (golden/seed.py), for any n."""
    G1 = 3 * W + torch.cos(Z)
    G2 = W @ W + torch.sin(2 * Z)
    out: torch.Tensor = torch.linalg.norm(torch.exp(G1) + G1 @ G2)
    return out


def ln_mlp(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """A layer-norm MLP layer with a squared-activation loss: rows of X normalised, then tanh(H W)."""
    H = F.layer_norm(X, (X.shape[-1],), eps=1e-5)
    return (torch.tanh(H @ W) ** 2).sum()


def logdet(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """log det(I + A B): its gradient (I + A B)^-T B^T is not symmetric, so a transposed backward
    shows."""
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    return torch.logdet(eye + A @ B)


@dataclass(frozen=True)
class Workload:
    """A benchmark function, its parameter names, its reference in Wolfram Language for n x n
    inputs (``{n}`` is replaced by n) and the scale of its inputs at size n."""

    name: str
    fn: Callable[..., torch.Tensor]
    params: tuple[str, str]
    wolfram: str
    scale: Callable[[int], float]

    def shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        return {p: (n, n) for p in self.params}

    def wl(self, n: int) -> str:
        return self.wolfram.replace("{n}", str(n))


def _pow2_scale(n: int) -> float:
    """1/2^ceil(log2(n)/2), about 1/sqrt(n), a power of two so the grid stays exact in float16:
    keeps I + A B well conditioned and the matrix function's exponent bounded as n grows."""
    return 2.0 ** -((n - 1).bit_length() // 2 + 1)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "matrix_norm",
        matrix_norm,
        ("W", "Z"),
        'Norm[Exp[3 W + Cos[Z]] + (3 W + Cos[Z]) . (W . W + Sin[2 Z]), "Frobenius"]',
        _pow2_scale,
    ),
    Workload(
        "ln_mlp",
        ln_mlp,
        ("X", "W"),
        "Total[Tanh[Map[(# - Mean[#])/Sqrt[Mean[(# - Mean[#])^2] + 1/100000] &, X] . W]^2, 2]",
        lambda n: 1.0,
    ),
    Workload("logdet", logdet, ("A", "B"), "Log[Det[IdentityMatrix[{n}] + A . B]]", _pow2_scale),
)
