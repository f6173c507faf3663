"""Hostile and broken case files: refused at load with a message, or a failed check / failed
generation that names the case, never a crash, and never a golden written outside golden/ or
touched when its case fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import gradgold as gg
from gradgold.check import check_golden
from gradgold.errors import CaseError
from gradgold.golden import read_golden
from gradgold.suite import find_project, golden_path, load_cases

REPO = Path(__file__).resolve().parents[1]
GRADGOLD = str(Path(sys.executable).parent / "gradgold")
PYPROJECT = '[tool.gradgold]\ngolden_dir = "golden"\n'


def _suite(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    for name, text in files.items():
        (root / "golden" / name).write_text(text)
    return root


def test_case_name_escaping_the_golden_dir() -> None:
    with pytest.raises(CaseError, match=r"case '\.\./x': invalid case name; use letters, digits"):
        gg.case(wolfram="x", points=[{"x": 1.0}], name="../x")(lambda x: x)


def test_suite_name_escaping_the_golden_dir(tmp_path: Path) -> None:
    text = "import gradgold as gg\n@gg.case(wolfram='x', points=[{'x': 1.0}])\ndef x(x):\n    return x\n"
    project = find_project(_suite(tmp_path, {"...py": text}))
    try:
        cases = load_cases(project)
    except CaseError:
        return
    for c in cases:
        assert golden_path(project, c.id).resolve().is_relative_to(project.golden_dir)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    text = (
        "import gradgold as gg\n"
        "@gg.case(wolfram='x', points=[{'x': 1.0}])\ndef f(x):\n    return x\n"
        "@gg.case(wolfram='x^2', points=[{'x': 1.0}], name='F')\ndef g(x):\n    return x * x\n"
    )
    project = find_project(_suite(tmp_path, {"s.py": text}))
    with pytest.raises(CaseError, match=r"s\.py: case 'F' is defined twice in suite 's'.*rename one"):
        load_cases(project)


@pytest.mark.parametrize(
    ("param", "reason"),
    [("\u00e9t\u00e9", "only ASCII letters"), ("__", "underscores only")],
)
def test_parameter_that_cannot_be_a_wl_symbol(param: str, reason: str) -> None:
    fn: Callable[..., Any] = eval(f"lambda {param}: {param}")
    with pytest.raises(CaseError, match=f"parameter '{param}': .*{reason}.*wrap the function"):
        gg.case(wolfram="1", points=[{param: 1.0}], name="c")(fn)


@pytest.fixture(scope="module")
def sine() -> tuple[gg.Case, Any]:
    """The seed's sine case and its committed golden (no engine needed to check against it)."""
    project = find_project(REPO)
    (case,) = [c for c in load_cases(project) if c.id == "seed/sine"]
    return case, read_golden(golden_path(project, case.id), root=project.golden_dir)


def _raises(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        (_raises, "the torch function raised RuntimeError: boom at "),
        (lambda w, z: torch.stack([w, z]), "returned shape (2,), the reference has shape ()"),
        (lambda w, z: (w + torch.sin(2 * z)).float(), "returned torch.float32 for torch.float64 inputs"),
        (lambda w, z: 1.0, "returned float, not a tensor"),
    ],
)
def test_broken_torch_function_is_a_failed_check(sine: tuple[gg.Case, Any], fn: Any, fragment: str) -> None:
    case, golden = sine
    results = check_golden(case, golden, "float64", fn=fn)
    assert [r.quantity for r in results] == ["value", "grad/w", "grad/z", "hessian"]  # order 2 by default
    for r in results:
        assert not r.passed
        assert r.message.startswith(f"seed/sine [float64-reverse], point 0, {r.quantity}: ")
        assert fragment in r.message and "Inputs: w=1.0, z=2.0" in r.message


def test_without_a_derivative_the_value_is_still_compared(sine: tuple[gg.Case, Any]) -> None:
    """An op with no autograd formula (torch.special.bessel_j0): its value is checked, and each
    derivative is a failure of its own beside it."""
    case, golden = sine
    right = check_golden(case, golden, "float64", fn=lambda w, z: (w + torch.sin(2 * z)).detach())
    assert [(r.quantity, r.passed) for r in right] == [
        ("value", True),
        ("grad/w", False),
        ("grad/z", False),
        ("hessian", False),
    ]
    assert right[1].error.startswith("no derivative: the output does not require grad (torch has no autograd")
    wrong = check_golden(case, golden, "float64", fn=lambda w, z: (w + z).detach())
    assert not wrong[0].passed and wrong[0].comparison is not None and wrong[0].comparison.mismatched == 1


def test_nan_from_torch_is_a_failed_check(sine: tuple[gg.Case, Any]) -> None:
    case, golden = sine
    results = check_golden(case, golden, "float64", fn=lambda w, z: w * torch.nan + torch.sin(2 * z))
    by = {r.quantity: r for r in results}
    assert not by["value"].passed and "torch and the exact reference are not close!" in by["value"].message
    assert not by["grad/w"].passed and by["grad/z"].passed


HOSTILE = """\
import torch

import gradgold as gg


@gg.case(wolfram="w + 2 z", points=[{"w": 1.0, "z": 1.0}])
def good(w, z):
    return w + 2 * z


@gg.case(wolfram="w +* Sin[z", points=[{"w": 1.0, "z": 1.0}])
def syntax_error(w, z):
    return w + torch.sin(z)


@gg.case(wolfram="w + q z", points=[{"w": 1.0, "z": 1.0}])
def free_symbols(w, z):
    return w + z
"""


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str], bytes]:
    """One embedded-engine generation of the hostile suite, over an older golden of a failing case
    (the CLI runs it: an engine started in process leaves its kernel unreaped)."""
    root = _suite(tmp_path_factory.mktemp("hostile"), {"hostile.py": HOSTILE})
    (root / "golden" / "hostile").mkdir()
    older = root / "golden" / "hostile" / "syntax_error.npz"
    shutil.copy(REPO / "golden" / "seed" / "sine.npz", older)
    done = subprocess.run(
        [GRADGOLD, "generate", "--embedded"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return root, done, older.read_bytes()


def test_generation_failures_name_the_case_and_the_wl_text(
    generated: tuple[Path, subprocess.CompletedProcess[str], bytes],
) -> None:
    _, done, _ = generated
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "generated  hostile/good" in out
    syntax = out.split("failed  hostile/syntax_error")[1].split("failed  hostile/free_symbols")[0]
    assert "hostile/syntax_error" in syntax and "Syntax::" in syntax and "* Sin[z" in syntax
    free = out.split("failed  hostile/free_symbols")[1]
    assert "hostile/free_symbols" in free and "not a real number" in free and "q" in free
    assert "1 generated, 0 unchanged, 0 skipped, 2 failed" in out


def test_failed_cases_touch_no_golden(
    generated: tuple[Path, subprocess.CompletedProcess[str], bytes],
) -> None:
    root, _, older = generated
    d = root / "golden" / "hostile"
    assert older == (REPO / "golden" / "seed" / "sine.npz").read_bytes()
    assert sorted(p.name for p in d.iterdir()) == ["good.npz", "syntax_error.npz"]
    assert read_golden(d / "good.npz").meta.id == "hostile/good"


def test_syntax_error_quotes_the_wolfram_text(
    generated: tuple[Path, subprocess.CompletedProcess[str], bytes],
) -> None:
    _, done, _ = generated
    syntax = done.stdout.split("failed  hostile/syntax_error")[1].split("failed  hostile/free_symbols")[0]
    assert "w +* Sin[z" in syntax
