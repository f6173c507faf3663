"""Devices: absent ones are skips with a reason; present ones run the same goldens."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

from conftest import gradgold_here, quiet_pytester
from conftest_goldens import make_case, make_golden
from gradgold.check import check_case, check_golden
from gradgold.devices import device_problem, dtype_problem

HAS_CUDA = torch.cuda.is_available()


def test_device_problems_say_what_and_how() -> None:
    assert device_problem("cpu") == ""
    assert device_problem("tpu") == "unknown device 'tpu'; use cpu, cuda, cuda:N or mps"
    assert device_problem("cuda:99").startswith("device cuda:99 is not available: ")
    if not HAS_CUDA:
        assert (
            device_problem("cuda")
            == f"device cuda is not available: torch {torch.__version__} sees no CUDA GPU here"
        )
    assert dtype_problem("mps", "float64") == "MPS has no float64; check float64 on cpu or cuda"
    assert dtype_problem("cuda", "float64") == ""


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU")
def test_an_absent_device_is_a_skip(demo_suite: Path, tmp_path: Path) -> None:
    case = make_case(lambda x: x * x, [{"x": 1.5}], name="square")
    golden = make_golden(case, {"value": [2.25], "grad/x": [3.0]})
    check = check_case(case, golden, "float64", "reverse", "cuda")
    assert (
        check.status == "SKIP"
        and check.passed
        and check.skip_reason.startswith("device cuda is not available")
    )
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    run = gradgold_here(tmp_path, "check", "demo/sine", "--device", "cuda", "--mode", "reverse")
    assert run.returncode == 0
    assert (
        "SKIP  demo/sine [float64-reverse-cuda]" in run.stdout
        and "0 passed, 0 failed, 2 skipped" in run.stdout
    )


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU")
def test_pytest_items_of_an_absent_device_are_skipped(
    demo_suite: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_pytester(monkeypatch)
    shutil.copytree(demo_suite, pytester.path, dirs_exist_ok=True)
    run = pytester.runpytest("golden", "--gradgold-device", "cuda", "--gradgold-mode", "func", "-rs")
    run.assert_outcomes(skipped=4)
    run.stdout.fnmatch_lines(["*device cuda is not available*"])
    ids = pytester.runpytest("golden", "--gradgold-device", "cuda", "--collect-only", "-q").outlines
    assert "golden/demo.py::sine[float32-forward-cuda]" in ids


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_the_same_golden_checks_cuda() -> None:
    case = make_case(lambda x: torch.exp(x) * x, [{"x": 1.5}], name="xexp", dtypes=("float64", "float32"))
    golden = make_golden(case, {"value": [1.5 * math.exp(1.5)], "grad/x": [2.5 * math.exp(1.5)]})
    for mode in ("reverse", "double_backward", "func", "forward"):
        results = check_golden(case, golden, "float64", device="cuda", mode=mode)
        assert all(r.passed and r.device == "cuda" for r in results)
