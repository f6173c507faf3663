"""Honest second order: a case of few inputs holds the Hessian unless it says otherwise, so a wrong
double backward is caught by a case written with defaults; ``double_backward`` is not applicable
where the golden holds no second derivative."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import gradgold as gg
from gradgold.cases import SECOND_ORDER_INPUTS
from gradgold.check import check_case, skip_reason
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
        "(order=1); order=1 is declared (a case of its own says why: a Hessian beyond the dtype's range, "
        "or too ill-conditioned to check); declare order=2, the default for a real case of up to 8 scalar "
        "inputs, and regenerate to check the double backward"
    )


@pytest.mark.parametrize(
    ("kind", "fix"),
    [
        (
            "complex",
            "a complex case stays at first order unless it says otherwise: declare order=2 and regenerate "
            "to check the double backward",
        ),
        (
            "large",
            "its 9 scalar inputs are above the 8 that get the Hessian by default: declare order=2 (a "
            "Hessian of 9^2 entries per output element) and regenerate to check the double backward",
        ),
        (
            "substituted",
            "strategy='substituted' computes first derivatives only: declare order=2 with another "
            "strategy ('auto', 'symbolic' or 'rigorous') and regenerate to check the double backward",
        ),
    ],
)
def test_the_not_applicable_fix_is_the_one_for_the_case(kind: str, fix: str) -> None:
    """Only a real case of few inputs is at first order because it said so; the others are there
    by default (or by need), so the message must not call order=2 their default."""
    if kind == "complex":
        case = gg.case(wolfram="z^2", points=[{"z": 0.5 + 0.25j}], name="c")(lambda z: z * z)
    elif kind == "large":
        many = [float(i) for i in range(SECOND_ORDER_INPUTS + 1)]
        case = gg.case(wolfram="Total[x^2]", points=[{"x": many}], name="c")(lambda x: (x**2).sum())
    else:
        case = gg.case(wolfram="Sin[x]", points=[{"x": 0.5}], name="c", strategy="substituted")(torch.sin)
    assert case.order == 1
    assert skip_reason(case, case.dtypes[0], "double_backward") == (
        "not applicable: double_backward checks a second derivative, and the golden of c holds none "
        f"(order=1); {fix}"
    )
