"""The batched saturation and underflow cases (golden/batched.py) fail against torch 2.13 and pass
against corrected implementations written here, in every default mode and both dtypes: what they
record as expected failures is torch's, and the per-element rule is what catches it."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from gradgold.check import check_golden
from gradgold.modes import DEFAULT_MODES
from gradgold.suite import find_project, fresh_golden, load_cases

ROOT = Path(__file__).resolve().parents[1]
Fn = Callable[[torch.Tensor], torch.Tensor]


class _Elementwise(torch.autograd.Function):
    """``f(x)`` elementwise with the derivative ``df(x)`` as given, in every mode (backward, jvp,
    vmap); ``df`` is made of torch ops, so double backward differentiates it too."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, f: Fn, df: Fn) -> torch.Tensor:  # type: ignore[override]
        return f(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])
        ctx.df = inputs[2]

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return g * ctx.df(x), None, None

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor, *_: Any) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return t * ctx.df(x)


def _fixed(f: Fn, df: Fn) -> Fn:
    return lambda x: _Elementwise.apply(x, f, df)


def _dsigmoid(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-x.abs())
    return e / (1 + e) ** 2


def _dtanh(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-2 * x.abs())
    return 4 * e / (1 + e) ** 2


def _gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.special.erfc(-x / math.sqrt(2)) / 2


def _dgelu(x: torch.Tensor) -> torch.Tensor:
    return torch.special.erfc(-x / math.sqrt(2)) / 2 + x * torch.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


def _tanhshrink(x: torch.Tensor) -> torch.Tensor:
    """x - tanh(x), by its Taylor series where it cancels (|x| < 0.1: terms to x^11, error < 1e-16)."""
    x2 = x * x
    series = x * x2 * (1 / 3 + x2 * (-2 / 15 + x2 * (17 / 315 + x2 * (-62 / 2835 + x2 * 1382 / 155925))))
    return torch.where(x.abs() < 0.1, series, x - torch.tanh(x))


def _dasinh(x: torch.Tensor) -> torch.Tensor:
    big = x.abs() >= 1
    safe = torch.where(big, x, torch.ones_like(x))
    return torch.where(big, 1 / (safe.abs() * torch.sqrt(1 + (1 / safe) ** 2)), 1 / torch.sqrt(1 + x * x))


CORRECTED: dict[str, Fn] = {
    "batched/sigmoid": _fixed(torch.sigmoid, _dsigmoid),
    "batched/sigmoid-sum": lambda x: _fixed(torch.sigmoid, _dsigmoid)(x).sum(),
    "batched/tanh": _fixed(torch.tanh, _dtanh),
    "batched/expm1": _fixed(torch.expm1, torch.exp),
    "batched/gelu": _fixed(_gelu, _dgelu),
    "batched/softsign": _fixed(lambda x: x / (1 + x.abs()), lambda x: 1 / (1 + x.abs()) ** 2),
    "batched/tanhshrink": _fixed(_tanhshrink, lambda x: torch.tanh(x) ** 2),
    "batched/asinh": _fixed(torch.asinh, _dasinh),
}

CASES = {c.id: c for c in load_cases(find_project(ROOT)) if c.suite == "batched"}


def test_every_batched_case_has_a_corrected_implementation() -> None:
    assert sorted(CASES) == sorted(CORRECTED)


@pytest.mark.parametrize("case_id", sorted(CORRECTED))
def test_torch_fails_and_a_corrected_implementation_passes(case_id: str) -> None:
    case = CASES[case_id]
    golden = fresh_golden(find_project(ROOT), case)
    for dtype in case.dtypes:
        torch_results = check_golden(case, golden, dtype, mode="reverse")
        assert all(r.passed for r in torch_results) == (not case.expected_failure(dtype)), dtype
        for mode in DEFAULT_MODES:
            results = check_golden(case, golden, dtype, fn=CORRECTED[case_id], mode=mode)
            failed = [r.message or r.error for r in results if not r.passed or r.skipped]
            assert not failed, failed[0]
