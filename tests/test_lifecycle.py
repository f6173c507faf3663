"""The whole life of a golden, run the way a user runs it: pytest through the plugin.

write a case -> missing (fails with the fix) -> generate -> passes -> break the gradient -> fails
with the checker's report -> fix -> passes -> edit the WL expression -> stale -> regenerate ->
passes -> delete a case -> orphan reported -> prune -> clean.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import generate_goldens, quiet_pytester
from gradgold.cli import main
from gradgold.errors import GoldenFormatError, GoldenMissingError, GoldenStaleError
from gradgold.suite import STATES, find_project, golden_file, golden_state, load_cases

HEADER = "import torch\n\nimport gradgold as gg\n\n"

SQUARE = """
@gg.case(wolfram="{wl}", points=[{{"x": 0.5}}, {{"x": 3.0}}])
def square(x):
    return {body}
"""

CUBE = """
@gg.case(wolfram="x^3", points=[{"x": 2.0}])
def cube(x):
    return x**3
"""

GOOD = "x**2 + torch.sin(x)"
BROKEN = "x.detach() * x + torch.sin(x)"  # d/dx loses the x from the detached factor


def write_cases(
    pytester: pytest.Pytester, body: str = GOOD, wl: str = "x^2 + Sin[x]", cube: bool = True
) -> None:
    text = HEADER + SQUARE.format(wl=wl, body=body) + (CUBE if cube else "")
    (pytester.path / "golden" / "life.py").write_text(text)


def regenerate(pytester: pytest.Pytester) -> list[str]:
    return generate_goldens(pytester.path)


def test_life_of_a_golden(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet_pytester(monkeypatch)
    pytester.makepyprojecttoml('[tool.gradgold]\ngolden_dir = "golden"\n')
    (pytester.path / "golden").mkdir()
    write_cases(pytester)

    # Missing: every item fails with the command that fixes it, and nothing is written.
    run = pytester.runpytest("golden")
    run.assert_outcomes(failed=16)
    run.stdout.fnmatch_lines(
        [
            "*life/square: golden file */golden/life/square.npz is missing; run `gradgold generate "
            "life/square` (or `pytest --gradgold-update`) and commit golden/life/square.npz",
        ]
    )
    assert not (pytester.path / "golden" / "life").exists()

    assert regenerate(pytester) == ["generated life/square", "generated life/cube"]
    pytester.runpytest("golden").assert_outcomes(passed=16)

    # A wrong gradient: the report names case, dtype, point, quantity, and shows the numbers.
    write_cases(pytester, body=BROKEN)
    run = pytester.runpytest("golden")
    run.assert_outcomes(failed=8, passed=8)
    run.stdout.fnmatch_lines(
        [
            "*_ life/square [[]float64-reverse[]] _*",
            "life/square [[]float64-reverse[]]: 4 of 6 checks failed against the golden "
            "*/golden/life/square.npz",
            "life/square [[]float64-reverse[]], point 0, d/dx: torch and the exact reference are not close!",
            "Worst element: d out / d x",
            "Mismatched elements: 1 / 1 (100.0%)",
            "Worst element (furthest beyond its allowance): index (), difference 0.5, allowed *",
            "Greatest absolute difference: 0.5",
            "Inputs: x=0.5",
            "The reference is exact (certified digits; `gradgold verify` recomputes them), so torch is the "
            "suspect; only if torch is right is the case's wolfram= expression wrong (fix it and run "
            "`gradgold generate life/square`).",
            "Suspect: the backward formula. The value matches (to 0 ULPs), this derivative does not.",
            "life/square [[]float64-reverse[]], point 1, d/dx: torch and the exact reference are not close!",
        ]
    )
    run.stdout.fnmatch_lines(["FAILED golden/life.py::square[[]float32-forward[]]*"])

    write_cases(pytester)
    pytester.runpytest("golden").assert_outcomes(passed=16)

    # The same mathematics written differently is still a new case: its golden is stale.
    write_cases(pytester, wl="Sin[x] + x^2")
    run = pytester.runpytest("golden")
    run.assert_outcomes(failed=8, passed=8)
    run.stdout.fnmatch_lines(
        [
            "*life/square: golden */golden/life/square.npz is stale: the case's expression, points or "
            "settings changed since it was generated; run `gradgold generate life/square` (or `pytest "
            "--gradgold-update`) and commit golden/life/square.npz",
        ]
    )
    assert regenerate(pytester) == ["generated life/square", "skipped life/cube"]
    pytester.runpytest("golden").assert_outcomes(passed=16)

    # A deleted case leaves an orphan: reported by a full run, not a failure, deleted by prune.
    write_cases(pytester, wl="Sin[x] + x^2", cube=False)
    run = pytester.runpytest("golden")
    run.assert_outcomes(passed=8)
    assert run.ret == 0
    run.stdout.fnmatch_lines(
        [
            "*= gradgold: orphan goldens =*",
            "golden/life/cube.npz: no case defines life/cube (deleted or renamed?)",
            "1 orphan golden(s), not a failure; delete them with `gradgold prune` (`gradgold prune "
            "--dry-run` lists them first)",
        ]
    )
    monkeypatch.chdir(pytester.path)
    pruned = CliRunner().invoke(main, ["prune"])
    assert pruned.output.splitlines() == [
        "deleted golden/life/cube.npz  (no case defines life/cube)",
        "1 orphan golden(s) deleted; commit the deletion",
    ]
    assert pruned.exit_code == 0
    run = pytester.runpytest("golden")
    run.assert_outcomes(passed=8)
    run.stdout.no_fnmatch_line("*orphan golden*")


def test_one_function_decides_a_goldens_state(demo_suite: Path, tmp_path: Path) -> None:
    """fresh / stale / missing / unreadable, each with the reason and its fix, decided once for
    every command and the plugin."""
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    project = find_project(tmp_path)
    sine, product = sorted(load_cases(project), key=lambda c: c.id)[::-1]
    assert (sine.id, product.id) == ("demo/sine", "demo/product")
    fresh = golden_state(project, sine)
    assert (fresh.status, fresh.reason, fresh.path) == ("fresh", "", golden_file(project.golden_dir, sine.id))
    assert fresh.require() is fresh.golden

    stale = golden_state(project, dataclasses.replace(sine, wolfram="Cos[x]"))
    assert stale.status == "stale" and "demo/sine: golden" in stale.reason
    assert "is stale: the case's expression, points or settings changed" in stale.reason
    with pytest.raises(GoldenStaleError, match="run `gradgold generate demo/sine`"):
        stale.require()

    (project.golden_dir / "demo" / "product.npz").write_bytes(b"garbage")
    unreadable = golden_state(project, product)
    assert unreadable.status == "unreadable" and "not a readable golden file" in unreadable.reason
    with pytest.raises(GoldenFormatError):
        unreadable.require()

    (project.golden_dir / "demo" / "product.npz").unlink()
    missing = golden_state(project, product)
    assert missing.status == "missing" and missing.golden is None
    fix = "run `gradgold generate demo/product` (or `pytest --gradgold-update`) and commit "
    fix += "golden/demo/product.npz"
    assert missing.reason.endswith(f"is missing; {fix}")
    with pytest.raises(GoldenMissingError):
        missing.require()
    assert STATES == ("fresh", "stale", "missing", "unreadable")
