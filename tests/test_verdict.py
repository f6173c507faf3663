"""A verdict per element: a wrong small element beside a large one fails, reports name the element
and the suspect side, records carry their allowance."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
import torch

import gradgold as gg
from conftest_goldens import stub_metadata
from gradgold.check import check_golden
from gradgold.errors import CaseError
from gradgold.golden import Golden, GridData

X = [0.5, 40.0]


def _sigmoid_golden() -> Golden:
    """sigmoid at [0.5, 40], its exact value and diagonal Jacobian rounded to float64 (mpmath)."""
    mpmath.mp.dps = 50
    s = [1 / (1 + mpmath.exp(-x)) for x in X]
    value = np.array([[float(v) for v in s]])
    grad = np.diag([float(v * (1 - v)) for v in s])[None]
    data = GridData({"x": np.array([X])}, {"value": value, "grad/x": grad}, {}, {})
    return Golden(meta=stub_metadata("t/sigmoid"), grids={"float64": data})


def _case(fn: Any, **kw: Any) -> gg.Case:
    return gg.case("1/(1 + Exp[-x])", points=[{"x": X}], name="sigmoid", **kw)(lambda x: fn(x))


class _Sigmoid(torch.autograd.Function):
    """A corrected sigmoid: its backward exp(-|x|)/(1 + exp(-|x|))^2 does not cancel."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sigmoid(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        e = torch.exp(-x.abs())
        return g * e / (1 + e) ** 2


def test_a_wrong_saturated_element_beside_a_large_one_fails() -> None:
    golden = _sigmoid_golden()
    value, grad = check_golden(_case(torch.sigmoid), golden, "float64")
    assert value.passed and not grad.passed
    assert grad.comparison is not None and grad.comparison.mismatched == 1
    assert grad.comparison.worst_index == (1, 1)
    assert "Worst element: d out[1] / d x[1]\n" in grad.message
    assert (
        "Suspect: the backward formula. The value matches (to 0 ULPs), this derivative does not."
        in grad.message
    )
    fixed = check_golden(_case(_Sigmoid.apply), golden, "float64")
    assert all(r.passed for r in fixed)


def test_a_record_carries_its_allowance_and_worst_element() -> None:
    golden = _sigmoid_golden()
    _, grad = check_golden(_case(torch.sigmoid), golden, "float64")
    record = grad.record()
    assert record["passed"] is False and record["worst_index"] == [1, 1]
    assert record["worst_abs_err"] == pytest.approx(4.248354255291589e-18)
    assert 0 < record["allowed_abs"] < 1e-30 and record["absolute_used"] == 0
    skipped = check_golden(_case(_Sigmoid.apply), golden, "float64", mode="func")[1]
    assert skipped.skipped and skipped.record()["passed"] is None


def test_a_normwise_case_gets_the_largest_element_as_absolute_scale() -> None:
    golden = _sigmoid_golden()
    _, grad = check_golden(_case(torch.sigmoid, normwise="evidence"), golden, "float64")
    assert grad.passed and grad.comparison is not None and grad.comparison.absolute_used == 1
    with pytest.raises(CaseError, match="normwise= needs the evidence as a non-empty string"):
        _case(torch.sigmoid, normwise=" ")


def test_modes_failing_identically_are_reported_once(capsys: pytest.CaptureFixture[str]) -> None:
    from gradgold.check import CaseCheck
    from gradgold.cli import _print_check_lines

    golden, case = _sigmoid_golden(), _case(torch.sigmoid)
    checks = [
        CaseCheck(case.id, "float64", tuple(check_golden(case, golden, "float64", mode=m)), mode=m)
        for m in ("reverse", "func")
    ]
    _print_check_lines(checks)
    out = capsys.readouterr().out
    assert out.count("Mismatched elements: 1 / 4") == 1
    assert (
        "sigmoid [float64-func], point 0, grad/x: the same mismatch as [float64-reverse] (identical numbers; "
        "see above)" in out
    )
