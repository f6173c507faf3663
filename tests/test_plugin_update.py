"""``pytest --gradgold-update``: missing and stale goldens of the selected cases are regenerated
(a real engine, in a child process), then checked; never in CI, never under xdist."""

from __future__ import annotations

import pytest

from conftest import quiet_pytester

CASES = """\
import torch

import gradgold as gg


@gg.case(wolfram="{wl}", points=[{{"x": 0.5}}])
def square(x):
    return x**2 + torch.sin(x)


@gg.case(wolfram="x^3", points=[{{"x": 2.0}}])
def cube(x):
    return x**3
"""


def _write(pytester: pytest.Pytester, wl: str = "x^2 + Sin[x]") -> None:
    (pytester.path / "golden" / "upd.py").write_text(CASES.format(wl=wl))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    quiet_pytester(monkeypatch)
    monkeypatch.delenv("WOLFRAM_KERNEL", raising=False)
    pytester.makepyprojecttoml('[tool.gradgold]\ngolden_dir = "golden"\n')
    (pytester.path / "golden").mkdir()
    _write(pytester)
    return pytester


def test_update_writes_missing_and_stale_goldens_then_checks(project: pytest.Pytester) -> None:
    run = project.runpytest("golden", "--gradgold-mode", "reverse")
    run.assert_outcomes(failed=4)
    run.stdout.fnmatch_lines(["*upd/square: golden file * is missing; run `gradgold generate upd/square`*"])

    # -k selects one case: only its golden is written.
    run = project.runpytest("golden", "--gradgold-mode", "reverse", "--gradgold-update", "-k", "square")
    run.assert_outcomes(passed=2)
    run.stdout.fnmatch_lines(
        [
            "*- gradgold: updating 1 golden(s) -*",
            "*generated  upd/square*",
            "gradgold: wrote golden/upd/square.npz",
            "gradgold: 1 golden(s) written; review (`git diff --stat`, `gradgold diff --rev HEAD`) and "
            "commit them",
        ]
    )
    assert not (project.path / "golden" / "upd" / "cube.npz").exists()

    run = project.runpytest("golden", "--gradgold-mode", "reverse", "--gradgold-update")
    run.assert_outcomes(passed=4)
    run.stdout.fnmatch_lines(["gradgold: wrote golden/upd/cube.npz"])
    run.stdout.no_fnmatch_line("*wrote golden/upd/square.npz*")

    # The case changes: stale fails, an update rewrites it and only it.
    _write(project, wl="Sin[x] + x^2")
    run = project.runpytest("golden", "--gradgold-mode", "reverse")
    run.assert_outcomes(failed=2, passed=2)
    run.stdout.fnmatch_lines(["*upd/square: golden * is stale*"])
    run = project.runpytest("golden", "--gradgold-mode", "reverse", "--gradgold-update")
    run.assert_outcomes(passed=4)
    run.stdout.fnmatch_lines(["gradgold: wrote golden/upd/square.npz"])
    run.stdout.no_fnmatch_line("*wrote golden/upd/cube.npz*")

    run = project.runpytest("golden", "--gradgold-mode", "reverse", "--gradgold-update")
    run.assert_outcomes(passed=4)
    run.stdout.fnmatch_lines(["gradgold: all 2 selected goldens are fresh; nothing to update"])


def test_update_reports_a_case_that_fails_to_generate(project: pytest.Pytester) -> None:
    _write(project, wl="x^2 + Sin[x] + y")  # a free symbol: not a real number
    run = project.runpytest("golden", "--gradgold-mode", "reverse", "--gradgold-update", "-k", "square")
    run.assert_outcomes(failed=2)
    run.stdout.fnmatch_lines(
        [
            "*failed  upd/square*",
            "gradgold: 1 golden(s) could not be generated (upd/square); the generator's messages above "
            "say why; their tests fail until it is fixed",
        ]
    )


def test_update_is_refused_in_ci(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    run = project.runpytest("golden", "--gradgold-update")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(
        [
            "ERROR: --gradgold-update writes goldens, and the CI environment variable is set: CI only "
            "checks goldens (a missing or stale one must fail there). Run `pytest --gradgold-update` or "
            "`gradgold generate` on your machine and commit the goldens; unset CI to update locally",
        ]
    )
    assert not (project.path / "golden" / "upd").exists()


def test_update_is_refused_under_xdist(project: pytest.Pytester) -> None:
    run = project.runpytest("golden", "--gradgold-update", "-n", "2")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["ERROR: --gradgold-update generates before the tests run, in one process;*"])


FIXTURE_TEST = """
import torch


def test_other_implementation(gradgold):
    gradgold.check("demo/sine", lambda w, z: w + torch.sin(z + z), modes=["reverse"])
"""


def test_update_generates_the_golden_a_fixture_call_names(demo: pytest.Pytester) -> None:
    (demo.path / "golden" / "demo" / "sine.npz").unlink()
    demo.makepyfile(test_impl=FIXTURE_TEST)
    demo.runpytest("test_impl.py").assert_outcomes(failed=1)
    run = demo.runpytest("test_impl.py", "--gradgold-update")
    run.assert_outcomes(passed=1)
    run.stdout.fnmatch_lines(["gradgold: wrote golden/demo/sine.npz"])
