"""Recorded torch bugs: a strict expected failure, visible when torch is fixed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import gradgold as gg
from conftest import gradgold_cli, quiet_pytester
from gradgold.errors import CaseError
from gradgold.suite import find_project

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


# --- expected failures confined to a quantity ---------------------------------------------------

QUANTITY_CASES = """\
import torch

import gradgold as gg


def wrong_second(x):
    # sin to first order around x0 = x: right value and gradient, Hessian 0 instead of -sin(x)
    x0 = x.detach()
    return torch.sin(x0) + torch.cos(x0) * (x - x0)


def declare(name, fn, xfail):
    gg.case(wolfram="Sin[x]", points=[{"x": 0.5}], name=name, order=2, dtypes=["float64"], xfail=xfail)(fn)


declare("recorded", wrong_second, {"hessian": "second-order bug (pytorch/pytorch#2)"})
declare("forward_only", wrong_second, {"forward-hessian": "forward-mode bug"})
declare("fixed", torch.sin, {"hessian": "second-order bug (pytorch/pytorch#2)"})


class NoJvp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.cos(x)


# forward mode cannot run it at all: a skip, whatever its xfail= records for that mode
@gg.case(
    wolfram="Sin[x]",
    points=[{"x": 0.5}],
    name="no_forward",
    order=2,
    dtypes=["float64"],
    modes=["reverse", "forward"],
    xfail={"forward-hessian": "forward-mode bug"},
)
def no_forward(x):
    return NoJvp.apply(x)
"""


@pytest.fixture(scope="module")
def quantity_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose order-2 cases record a Hessian bug: present, present in every mode but
    recorded for one, fixed, and in a mode that cannot run the function."""
    from conftest import PYPROJECT, generate_goldens

    root = tmp_path_factory.mktemp("quantity-xfail")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    (root / "golden" / "q.py").write_text(QUANTITY_CASES)
    assert generate_goldens(root) == [
        f"generated q/{n}" for n in ("recorded", "forward_only", "fixed", "no_forward")
    ]
    return root


def test_cli_judges_an_expected_failure_by_its_quantity(quantity_project: Path) -> None:
    run = gradgold_cli(quantity_project, "check")
    out = run.stdout
    assert run.returncode == 1, out
    # the Hessian fails as recorded, the value and gradient pass: expected
    for mode in ("reverse", "double_backward", "func", "forward"):
        assert f"XFAIL q/recorded [float64-{mode}]" in out
    assert "expected failure in hessian: second-order bug (pytorch/pytorch#2)" in out
    # recorded for forward mode only: the other modes' Hessian mismatch is a failure
    assert "XFAIL q/forward_only [float64-forward]" in out
    assert "FAIL  q/forward_only [float64-reverse]" in out
    # strict: a recorded quantity that passes fails the check
    assert "XPASS q/fixed [float64-reverse]" in out
    assert "expected to fail in hessian (second-order bug (pytorch/pytorch#2)) but passed" in out
    assert "PASS  q/no_forward [float64-reverse]" in out
    assert "SKIP  q/no_forward [float64-forward]" in out
    assert "1 passed, 7 failed, 5 xfailed, 1 skipped" in out


def test_the_api_names_the_xfail_key_of_an_xpass(quantity_project: Path) -> None:
    """check_gradients' report words an XPASS as the CLI and the plugin do (one text: CaseCheck)."""
    report = gg.check_gradients(
        "q/fixed", project=find_project(quantity_project), dtypes=["float64"], modes=["reverse"]
    )
    assert not report.passed
    assert report.text() == (
        "q/fixed [float64-reverse]: expected to fail in hessian (second-order bug (pytorch/pytorch#2)) "
        "but passed: torch was fixed? remove the case's xfail= key that covers float64-reverse hessian"
    )


def test_pytest_judges_an_expected_failure_by_its_quantity(
    quantity_project: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_pytester(monkeypatch)
    shutil.copytree(quantity_project, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest("golden", "-rxX")
    result.assert_outcomes(xfailed=5, failed=7, passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*q/fixed ?float64-reverse?: expected to fail in hessian (second-order bug*) but passed: torch "
            "was fixed? remove the case's xfail= key that covers float64-reverse hessian*",
            "*XFAIL golden/q.py::recorded*float64-reverse* - second-order bug (pytorch/pytorch#2)*",
        ]
    )


#: How pytest shows each verdict of ``CaseCheck.status`` (an XPASS is a strict failure).
PYTEST_OUTCOME = {
    "PASS": "passed",
    "FAIL": "failed",
    "XPASS": "failed",
    "XFAIL": "xfailed",
    "SKIP": "skipped",
}


def test_pytest_takes_each_verdict_from_the_checks_one_owner(
    quantity_project: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item by item, the plugin's outcome is ``CaseCheck.status`` (what ``gradgold check`` prints),
    not a second reading of the quantity-keyed rule."""
    from gradgold.check import run_checks
    from gradgold.suite import find_project, load_cases

    quiet_pytester(monkeypatch)
    shutil.copytree(quantity_project, pytester.path, dirs_exist_ok=True)
    project = find_project(pytester.path)
    expected = {
        f"{c.case_id.split('/')[1]}[{c.label}]": PYTEST_OUTCOME[c.status]
        for c in run_checks(project, load_cases(project))
    }
    recorder = pytester.inline_run("golden")
    got = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            got[report.nodeid.split("::")[-1]] = outcome
    assert got == expected


@pytest.mark.parametrize(
    ("key", "order", "message"),
    [
        (
            "forwrd-hessian",
            2,
            "has 'forwrd', which is neither a dtype, a mode nor a quantity of the case; "
            "did you mean 'forward'?",
        ),
        ("hessian-forward", 2, "has its parts out of order; write '<dtype>-<mode>-<quantity>'"),
        (
            "grad/y",
            1,
            "has 'grad/y', which is neither a dtype, a mode nor a quantity of the case; "
            "did you mean 'grad/x'?",
        ),
        (
            "float32-forward-hessian",
            1,
            "names quantity 'hessian', which this case does not check (it needs order=2 or more)",
        ),
        (
            "flaot32",
            1,
            "has 'flaot32', which is neither a dtype, a mode nor a quantity of the case; "
            "did you mean 'float32'?",
        ),
    ],
)
def test_xfail_keys_name_what_the_case_checks(key: str, order: int, message: str) -> None:
    with pytest.raises(CaseError, match=re.escape(f"xfail key {key!r} {message}")):
        gg.case(wolfram="x", points=[{"x": 1.0}], order=order, xfail={key: "reason"})(lambda_free)


def test_a_whole_check_key_wins_over_quantity_keys() -> None:
    from gradgold.xfail import expected_failure

    case = gg.case(
        wolfram="x",
        points=[{"x": 1.0}],
        order=2,
        xfail={"forward-hessian": "a", "grad": "b", "float32-forward": "c"},
    )(lambda_free)
    assert expected_failure(case, "float32", "forward").quantities == ()
    assert expected_failure(case, "float32", "forward").reason == "c"
    both = expected_failure(case, "float64", "forward")
    assert (both.reason, both.quantities) == ("a; b", ("hessian", "grad"))
    assert both.covers("grad/x") and both.covers("hessian") and not both.covers("value")
    assert expected_failure(case, "float64", "reverse").quantities == ("grad",)
