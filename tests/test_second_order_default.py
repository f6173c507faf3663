"""Honest second order: a case of few inputs holds the Hessian unless it says otherwise, so a wrong
double backward is caught by a case written with defaults; ``double_backward`` is not applicable
where the golden holds no second derivative."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import gradgold as gg
from gradgold.cases import SECOND_ORDER_INPUTS
from gradgold.check import check_case
from gradgold.generation.rigorous.reference import rigorous_golden_of


class _SavedSigmoid(torch.autograd.Function):
    """sigmoid whose backward reuses a *detached* saved sigmoid: the gradient is right, but the
    double backward treats s (1 - s) as a constant, so every second derivative is 0."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(s.detach())
        return s

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (s,) = ctx.saved_tensors
        return g * s * (1 - s)


class _RightSigmoid(_SavedSigmoid):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)  # the output itself: differentiable in the double backward
        return s


def _sigmoid_case(**kw: Any) -> gg.Case:
    return gg.case(wolfram="LogisticSigmoid[x]", points=[{"x": 0.75}, {"x": -2.0}], name="sig", **kw)(
        torch.sigmoid
    )


def test_few_inputs_hold_the_hessian_by_default_and_an_explicit_order_wins() -> None:
    assert _sigmoid_case().order == 2
    assert _sigmoid_case(order=1).order == 1
    many = [float(i) for i in range(SECOND_ORDER_INPUTS + 1)]
    big = gg.case(wolfram="Total[x^2]", points=[{"x": many}], name="big")(lambda x: (x**2).sum())
    assert big.order == 1
    assert gg.case(wolfram="Total[x^2]", points=[{"x": many[:-1]}], name="b")(lambda x: x).order == 2


@pytest.mark.parametrize("mode", ["reverse", "double_backward"])
def test_a_wrong_double_backward_fails_a_case_written_with_defaults(mode: str) -> None:
    case = _sigmoid_case()
    golden = rigorous_golden_of(case)
    bad = check_case(case, golden, "float64", mode, fn=_SavedSigmoid.apply)
    assert bad.status == "FAIL"
    failed = {r.quantity for r in bad.results if not r.passed}
    assert failed == {"hessian"}  # the value and the gradient are right
    good = check_case(case, golden, "float64", mode, fn=_RightSigmoid.apply)
    assert good.status == "PASS", [r.message for r in good.results if not r.passed]


def test_double_backward_is_not_applicable_without_a_second_derivative() -> None:
    case = _sigmoid_case(order=1)
    done = check_case(case, rigorous_golden_of(case), "float64", "double_backward", fn=_SavedSigmoid.apply)
    assert done.status == "SKIP" and not done.results
    assert done.skip_reason == (
        "not applicable: double_backward checks a second derivative, and the golden of sig holds none "
        "(order=1); declare order=2 (the default for cases of up to 8 scalar inputs) and regenerate to "
        "check the double backward"
    )
