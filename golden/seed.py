"""The seed suite: the four cases of the notebook gradgold grew from (see shared/seed).

Mathematica's machine-precision numbers for these points are pinned in tests/test_seed.py.
"""

import torch

import gradgold as gg


@gg.case(wolfram="w + 2 z", points=[{"w": 1.0, "z": 1.0}])
def linear(w, z):
    return w + 2 * z


@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}])
def sine(w, z):
    return w + torch.sin(2 * z)


@gg.case(
    wolfram="Exp[3 w + Cos[z]] + 3 (w^2 + Sin[2 z])",
    points=[{"w": 1.0, "z": 1.0}],
)
def exp_cos(w, z):
    g1 = 3 * w + torch.cos(z)
    g2 = torch.pow(w, 2) + torch.sin(2 * z)
    return torch.exp(g1) + 3 * g2


@gg.case(
    wolfram='Norm[Exp[3 W + Cos[Z]] + (3 W + Cos[Z]) . (W . W + Sin[2 Z]), "Frobenius"]',
    points=[{"W": [[1, 0.5], [0.2, 0.1]], "Z": [[0.7, 0.1], [0.34, 0.9]]}],
)
def matrix_norm(W, Z):
    G1 = 3 * W + torch.cos(Z)
    G2 = W @ W + torch.sin(2 * Z)
    return torch.linalg.norm(torch.exp(G1) + G1 @ G2)
