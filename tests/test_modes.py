"""Execution modes: chosen per case, each reported separately, "not applicable" where torch says a
mode cannot run a function, and each able to catch a wrong derivative."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import gradgold_cli, quiet_pytester
from conftest_goldens import make_case, make_golden, set_attr
from gradgold.check import check_golden
from gradgold.cli import main
from gradgold.modes import DEFAULT_MODES, MODES, case_modes
from gradgold.xfail import expected_failure

SINE = make_case(lambda w, z: w + torch.sin(2 * z), [{"w": 1.0, "z": 2.0}], name="sine")
SINE_GOLDEN = make_golden(SINE, {"value": [1 + math.sin(4)], "grad/w": [1.0], "grad/z": [2 * math.cos(4)]})


class _OldStyle(torch.autograd.Function):
    """A custom Function without setup_context or jvp: reverse mode only."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        return g


class _Scaled(torch.autograd.Function):
    """Identity whose derivative is scaled by ``scale`` in every mode (backward, jvp, vmap)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, scale: float) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.scale = inputs[1]

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _Scaled.apply(g, ctx.scale) * ctx.scale, None

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor, _: Any) -> torch.Tensor:
        return t * ctx.scale


def test_defaults_restrictions_and_requests() -> None:
    case = make_case(lambda x: x, [{"x": 1.0}], name="f")
    assert case_modes(case) == DEFAULT_MODES and "compile" not in DEFAULT_MODES
    assert case_modes(case, ["compile", "reverse"]) == ("reverse", "compile")
    set_attr(case, modes=("reverse", "func"))
    assert case_modes(case) == ("reverse", "func")
    assert case_modes(case, ["forward", "func"]) == ("func",)
    set_attr(case, modes=None, require_modes=("compile",))
    assert case_modes(case) == (*DEFAULT_MODES, "compile")


def test_xfail_keys_most_specific_first() -> None:
    case = set_attr(make_case(lambda x: x, [{"x": 1.0}], name="g"), xfail={"*": "all", "func": "func bug"})
    assert expected_failure(case, "float64", "func").reason == "func bug"
    assert expected_failure(case, "float64", "reverse").reason == "all"
    set_attr(case, xfail={"float32-forward": "f32 fwd", "float32": "f32"})
    assert expected_failure(case, "float32", "forward").reason == "f32 fwd"
    assert expected_failure(case, "float32", "reverse").reason == "f32"
    assert expected_failure(case, "float64", "reverse").reason == ""


def test_every_mode_passes_a_right_function_and_catches_a_wrong_one() -> None:
    for mode in DEFAULT_MODES:
        assert all(r.passed and not r.skipped for r in check_golden(SINE, SINE_GOLDEN, "float64", mode=mode))

        def wrong(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return _Scaled.apply(SINE.fn(w, z), 1 + 1e-10)

        results = check_golden(SINE, SINE_GOLDEN, "float64", fn=wrong, mode=mode)
        assert [r.quantity for r in results if not r.passed] == ["grad/w", "grad/z"], mode
        assert results[1].message.startswith(f"sine [float64-{mode}], point 0, d/dw: torch and the exact")


def test_a_mode_that_cannot_run_the_function_is_not_applicable() -> None:
    def old(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return _OldStyle.apply(SINE.fn(w, z))

    for mode in ("reverse", "double_backward"):
        assert all(
            r.passed and not r.skipped for r in check_golden(SINE, SINE_GOLDEN, "float64", old, mode=mode)
        )
    for mode, fragment in (
        ("func", "must override the setup_context"),
        ("forward", "must implement the jvp"),
    ):
        results = check_golden(SINE, SINE_GOLDEN, "float64", old, mode=mode)
        assert results[0].passed and not results[0].skipped  # the value is still checked
        for r in results[1:]:
            assert r.passed and r.skipped.startswith(
                f"not applicable: mode {mode} cannot run this function ("
            )
            assert fragment in r.skipped and r.record()["skipped"] == r.skipped


def _sine3(require: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """The sine case at three points (a required mode optional), and its exact golden."""
    pts = [{"w": 1.0, "z": z} for z in (2.0, 0.5, -1.0)]
    case = set_attr(make_case(SINE.fn, pts, name="sine"), require_modes=require)
    golden = make_golden(
        case,
        {
            "value": [1 + math.sin(2 * p["z"]) for p in pts],
            "grad/w": [1.0] * 3,
            "grad/z": [2 * math.cos(2 * p["z"]) for p in pts],
        },
    )
    return case, golden


@pytest.mark.parametrize("mode", ["func", "forward"])
def test_a_refused_mode_is_tried_at_the_first_point_only(mode: str) -> None:
    """torch's refusal is a property of the function, mode and dtype: the other points skip the
    derivative with the same reason, without running torch's transform again (the value is still
    computed and compared at every point)."""
    case, golden = _sine3()
    calls: list[int] = []

    def old(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return _OldStyle.apply(case.fn(w, z))

    results = check_golden(case, golden, "float64", old, mode=mode)
    assert len(calls) == 3 + 1  # one forward per point, one refused attempt at point 0
    assert [r.quantity for r in results if not r.skipped] == ["value"] * 3
    reasons = {r.skipped for r in results if r.skipped}
    assert len(reasons) == 1 and next(iter(reasons)).startswith(f"not applicable: mode {mode} cannot run")


def test_a_required_mode_that_cannot_run_fails_at_every_point() -> None:
    case, golden = _sine3(require=("forward",))

    def old(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return _OldStyle.apply(case.fn(w, z))

    results = check_golden(case, golden, "float64", old, mode="forward")
    assert [r.passed for r in results] == [True, False, False] * 3
    assert all("You must implement the jvp function" in r.message for r in results if not r.passed)


def test_a_required_mode_that_cannot_run_fails() -> None:
    case = set_attr(make_case(SINE.fn, [{"w": 1.0, "z": 2.0}], name="sine"), require_modes=("forward",))

    def old(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return _OldStyle.apply(case.fn(w, z))

    results = check_golden(case, SINE_GOLDEN, "float64", old, mode="forward")
    assert [r.passed for r in results] == [True, False, False]
    assert (
        "mode forward raised NotImplementedError: You must implement the jvp function" in results[1].message
    )
    assert "the case lists 'forward' in require_modes=, so it must work" in results[1].message


def test_modes_disagree_on_a_singular_determinant() -> None:
    """torch 2.13: plain backward and forward-mode AD of det at a singular matrix give zeros;
    create_graph=True and torch.func give the adjugate, the true gradient. Each mode is reported on
    its own."""

    def det(A: torch.Tensor) -> torch.Tensor:
        return torch.linalg.det(A)

    case = make_case(det, [{"A": [[1.0, 2.0], [2.0, 4.0]]}], name="det")
    golden = make_golden(case, {"value": [0.0], "grad/A": [[[4.0, -2.0], [-2.0, 1.0]]]})
    verdict = {m: all(r.passed for r in check_golden(case, golden, "float64", mode=m)) for m in DEFAULT_MODES}
    assert verdict == {"reverse": False, "double_backward": True, "func": True, "forward": False}


def test_compile_is_opt_in_and_checks_the_compiled_function() -> None:
    case = make_case(lambda x: x * x, [{"x": 1.5}], name="square")
    golden = make_golden(case, {"value": [2.25], "grad/x": [3.0]})
    assert "compile" in MODES and "compile" not in case_modes(case)
    results = check_golden(case, golden, "float64", mode="compile")
    assert all(r.passed for r in results) and {r.mode for r in results} == {"compile"}


def test_cli_mode_choices_are_the_modes() -> None:
    run = CliRunner().invoke(main, ["check", "--mode", "sideways"])
    assert run.exit_code == 2
    for mode in MODES:
        assert mode in run.output


def test_cli_reports_modes_and_not_applicable(demo_suite: Path, tmp_path: Path) -> None:
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "golden" / "demo.py"
    text = path.read_text().replace("return w + torch.sin(2 * z)", "return _Old.apply(w + torch.sin(2 * z))")
    path.write_text(text + "\n\n" + OLD_FUNCTION)
    run = gradgold_cli(tmp_path, "check", "demo/sine", "--dtype", "float64")
    assert run.returncode == 0, run.stdout
    assert "PASS  demo/sine [float64-double_backward]" in run.stdout
    assert "SKIP  demo/sine [float64-func]" in run.stdout
    assert "not applicable: mode forward cannot run this function (NotImplementedError: " in run.stdout
    assert "2 passed, 0 failed, 2 skipped" in run.stdout
    records = gradgold_cli(tmp_path, "check", "demo/sine", "--mode", "func", "--jsonl").stdout.splitlines()
    assert records and all('"mode": "func"' in r and '"device": "cpu"' in r for r in records)


OLD_FUNCTION = """
class _Old(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g
"""


def test_pytest_skips_items_of_a_mode_that_cannot_run(
    demo_suite: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_pytester(monkeypatch)
    shutil.copytree(demo_suite, pytester.path, dirs_exist_ok=True)
    path = pytester.path / "golden" / "demo.py"
    text = path.read_text().replace("return w + torch.sin(2 * z)", "return _Old.apply(w + torch.sin(2 * z))")
    path.write_text(text + "\n\n" + OLD_FUNCTION)
    run = pytester.runpytest("golden", "-k", "sine", "-rs")
    run.assert_outcomes(passed=4, skipped=4)
    run.stdout.fnmatch_lines(
        ["SKIPPED [[]2[]] golden/demo.py:*: not applicable: mode func cannot run this function*"]
    )
    only = pytester.runpytest("golden", "--gradgold-mode", "reverse", "--collect-only", "-q")
    assert [line for line in only.outlines if "::" in line] == [
        f"golden/demo.py::{c}[{d}-reverse]" for c in ("sine", "product") for d in ("float64", "float32")
    ]


def test_grad_of_unused_input_is_zero_in_every_mode() -> None:
    case = make_case(lambda x, y: x * 2.0, [{"x": 1.0, "y": 3.0}], name="unused")
    golden = make_golden(
        case, {"value": [2.0], "grad/x": [2.0], "grad/y": [0.0], "hessian": [np.zeros((2, 2))]}
    )
    for mode in DEFAULT_MODES:
        assert all(r.passed for r in check_golden(case, golden, "float64", mode=mode)), mode
