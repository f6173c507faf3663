"""Recorded torch bugs: a strict expected failure, visible when torch is fixed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import gradgold as gg
from conftest import gradgold_cli, quiet_pytester
from gradgold.errors import CaseError

BUGGY = """
@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}], name="sine", xfail=XFAIL)
def sine_buggy(w, z):
    return w + torch.sin(2 * z) * (1 + 1e-3)  # a "torch bug": value and gradient off by 1e-3
"""


def _project(demo_suite: Path, dest: Path, buggy: bool, xfail: str) -> Path:
    shutil.copytree(demo_suite, dest, dirs_exist_ok=True)
    path = dest / "golden" / "demo.py"
    text = path.read_text()
    head, _, rest = text.partition('@gg.case(wolfram="w + Sin[2 z]"')
    rest = rest.split("\n\n\n", 1)[1]  # drop the original sine case
    if buggy:
        body = BUGGY.replace("XFAIL", xfail)
    else:
        body = (
            f'@gg.case(wolfram="w + Sin[2 z]", points=[{{"w": 1.0, "z": 2.0}}], xfail={xfail})\n'
            "def sine(w, z):\n    return w + torch.sin(2 * z)\n"
        )
    path.write_text(head + body + "\n\n" + rest)
    return dest


def test_cli_counts_an_expected_failure_as_expected(demo_suite: Path, tmp_path: Path) -> None:
    root = _project(demo_suite, tmp_path, buggy=True, xfail='"torch bug (pytorch/pytorch#1)"')
    run = gradgold_cli(root, "check", "demo/sine")
    assert run.returncode == 0, run.stdout
    assert "XFAIL demo/sine [float64-reverse]" in run.stdout
    assert "XFAIL demo/sine [float32-forward]" in run.stdout
    assert "expected failure: torch bug (pytorch/pytorch#1)" in run.stdout
    assert "0 passed, 0 failed, 8 xfailed" in run.stdout


def test_cli_fails_when_a_recorded_bug_is_fixed(demo_suite: Path, tmp_path: Path) -> None:
    root = _project(demo_suite, tmp_path, buggy=False, xfail='{"float32": "float32 only bug"}')
    run = gradgold_cli(root, "check", "demo/sine")
    assert run.returncode == 1
    assert "PASS  demo/sine [float64-reverse]" in run.stdout
    assert "XPASS demo/sine [float32-reverse]" in run.stdout
    assert (
        "expected to fail (float32 only bug) but passed: torch was fixed? remove the case's xfail="
        in run.stdout
    )


def test_pytest_marks_the_items_strict_xfail(
    demo_suite: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_pytester(monkeypatch)
    _project(demo_suite, pytester.path, buggy=True, xfail='{"float64": "known (pytorch/pytorch#1)"}')
    result = pytester.runpytest("golden", "-k", "sine", "-rxX")
    result.assert_outcomes(xfailed=4, failed=4)
    result.stdout.fnmatch_lines(["*XFAIL golden/demo.py::sine*float64-func* - known (pytorch/pytorch#1)*"])


def test_xfail_needs_a_reason() -> None:
    with pytest.raises(CaseError, match="xfail= needs a reason for each dtype"):
        gg.case(wolfram="x", points=[{"x": 1.0}], xfail={"float32": ""})(lambda_free)


def lambda_free(x: float) -> float:
    return x
