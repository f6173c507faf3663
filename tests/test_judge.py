"""The references of a golden are prepared once per dtype and shared by the checks of every mode
(gradgold.judge): sharing changes no verdict, number or message, and never serves another golden."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

import gradgold as gg
from gradgold.check import check_golden
from gradgold.golden import Golden, GridData
from gradgold.judge import Judges
from gradgold.modes import DEFAULT_MODES

X = [0.5, 2.0]


def _golden(scale: float = 1.0) -> Golden:
    """exp at X: value and diagonal Jacobian, float64 (``scale`` moves the references)."""
    value = np.exp(np.array([X])) * scale
    data = GridData({"x": np.array([X])}, {"value": value, "grad/x": np.diag(value[0])[None]}, {}, {})
    return Golden(meta={"id": "t/exp"}, grids={"float64": data})


def _case() -> gg.Case:
    return gg.case("Exp[x]", points=[{"x": X}], name="exp", order=1)(torch.exp)


def _records(results: list[Any]) -> list[tuple[dict[str, Any], str]]:
    return [(r.record(), r.message) for r in results]


def _wrong_backward(x: torch.Tensor) -> torch.Tensor:
    """exp whose derivative is off by 1e-6 relative (its value is exact)."""
    return torch.exp(x) * (1 + 1e-6 * (x - x.detach()))


def test_shared_judges_give_every_mode_the_results_of_its_own() -> None:
    case, golden = _case(), _golden()
    for fn in (None, _wrong_backward):
        judges = Judges(case, golden)
        for mode in DEFAULT_MODES:
            shared = check_golden(case, golden, "float64", fn=fn, mode=mode, judges=judges)
            alone = check_golden(case, golden, "float64", fn=fn, mode=mode)
            assert _records(shared) == _records(alone), mode
            assert [r.passed for r in shared] == [True, fn is None], mode
            assert mode in shared[-1].message or fn is None  # each mode's message names its mode


def test_a_result_is_judged_by_its_bits_at_its_point_and_quantity() -> None:
    judge = Judges(_case(), _golden()).of("float64")
    ref = _golden().grids["float64"].numbers["value"][0]
    first = judge.compare(0, "value", ref.copy())
    assert first.passed and judge.compare(0, "value", ref.copy()) is first
    off = judge.compare(0, "value", ref * (1 + 1e-9))
    assert not off.passed and off is not first
    assert judge.compare(0, "grad/x", np.diag(ref)) is not first


def test_judges_of_another_golden_are_not_used() -> None:
    case, golden = _case(), _golden()
    stale = Judges(case, golden)
    assert all(r.passed for r in check_golden(case, golden, "float64", judges=stale))
    moved = _golden(scale=1 + 1e-6)  # another golden of the same case: its own references count
    results = check_golden(case, moved, "float64", judges=stale)
    assert not any(r.passed for r in results)
    other_case = dataclasses.replace(case, rtol_ulps={"float64": 1e12})  # its own allowances count
    assert all(r.passed for r in check_golden(other_case, moved, "float64", judges=stale))
