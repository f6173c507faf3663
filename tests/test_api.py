"""The Python API: ``gradgold.check_gradients`` returns structured results without pytest, and
``import gradgold`` stays light."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gradgold as gg
from gradgold.suite import find_project


def good(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return w + torch.sin(z + z)


def wrong(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return w + torch.sin(2 * z.detach())


def test_a_good_implementation_passes_in_every_dtype_and_mode(demo_suite: Path) -> None:
    report = gg.check_gradients("demo/sine", good, project=find_project(demo_suite))
    assert report.passed and report.failed == () and report.text() == ""
    assert report.implementation == "tests.test_api.good" or report.implementation == "test_api.good"
    assert [(c.dtype, c.mode, c.status) for c in report.checks] == [
        (d, m, "PASS")
        for d in ("float64", "float32")
        for m in ("reverse", "double_backward", "func", "forward")
    ]
    assert {r.quantity for r in report.results} == {
        "value",
        "grad/w",
        "grad/z",
        "hessian",
    }  # order 2 by default
    value = next(r for r in report.results if r.quantity == "value" and r.dtype == "float64")
    assert value.obtained is not None and value.obtained.shape == ()


def test_a_mismatch_is_a_result_not_an_exception(demo_suite: Path) -> None:
    report = gg.check_gradients(
        "demo/sine", wrong, dtypes=["float64"], modes=["reverse"], project=find_project(demo_suite)
    )
    assert not report.passed
    [failed] = report.failed
    assert (failed.dtype, failed.mode, failed.status) == ("float64", "reverse", "FAIL")
    assert [r.quantity for r in failed.results if not r.passed] == ["grad/z", "hessian"]
    assert (
        report.text()
        .splitlines()[0]
        .endswith(
            "wrong checked against demo/sine [float64-reverse]: 2 of 4 checks failed against the golden "
            f"{demo_suite / 'golden' / 'demo' / 'sine.npz'}"
        )
    )


def test_the_case_own_function_by_default(demo_suite: Path) -> None:
    report = gg.check_gradients("demo/product", project=find_project(demo_suite), modes=["func"])
    assert report.passed and report.implementation == ""
    assert [c.label for c in report.checks] == ["float64-func", "float32-func"]


def test_what_cannot_be_checked_raises_with_the_fix(demo_suite: Path, tmp_path: Path) -> None:
    project = find_project(demo_suite)
    with pytest.raises(gg.CaseError, match=r"^demo/sine: unknown mode 'backwards'; use one of reverse, "):
        gg.check_gradients("demo/sine", good, modes=["backwards"], project=project)
    with pytest.raises(gg.CaseError, match=r"^demo/sine: unknown dtype 'float8'; use one of float64, "):
        gg.check_gradients("demo/sine", good, dtypes=["float8"], project=project)
    with pytest.raises(gg.CaseError, match="unknown case id 'demo/sin'; did you mean demo/sine"):
        gg.check_gradients("demo/sin", good, project=project)
    shutil.copytree(demo_suite, tmp_path / "p")
    (tmp_path / "p" / "golden" / "demo" / "sine.npz").unlink()
    with pytest.raises(gg.GoldenMissingError, match=r"run `gradgold generate demo/sine` \(or `pytest "):
        gg.check_gradients("demo/sine", good, project=find_project(tmp_path / "p"))


def test_import_gradgold_stays_light_and_the_api_works_without_pytest(demo_suite: Path) -> None:
    code = (
        "import sys, gradgold\n"
        "heavy = {'torch', 'wolframclient', 'mathics', 'zmq', 'flint', 'sympy', 'pytest'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "report = gradgold.check_gradients('demo/sine', dtypes=['float64'], modes=['reverse'])\n"
        "wing = sorted(m for m in sys.modules if m.startswith('gradgold.generation'))\n"
        "print(report.passed, len(report.results), 'pytest' in sys.modules, wing)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=demo_suite, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True 4 False []\n"  # checking never loads the generation wing
