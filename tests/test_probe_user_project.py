"""What a user of a project laid out as README and docs/guide.md show (``golden_dir = "tests/golden"``)
is told: every hint names that project's own golden directory, not gradgold's ``golden/``."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import generate_goldens, gradgold_here, seed_project
from gradgold.golden import GridData, read_golden, write_golden
from gradgold.schema import Metadata


def test_list_check_says_to_commit_the_configured_golden_dir(tmp_path: Path) -> None:
    project = seed_project(tmp_path)
    (project / "tests").mkdir()
    shutil.move(project / "golden", project / "tests" / "golden")
    (project / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "tests/golden"\n')
    (project / "tests" / "golden" / "seed" / "sine.npz").unlink()
    done = gradgold_here(project, "list", "--check")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "missing    seed/sine" in done.stdout
    assert done.stderr.endswith(", then commit tests/golden/\n"), done.stderr


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


def _rewrite(
    path: Path, change: Callable[[GridData], GridData], meta: Callable[[Metadata], Metadata]
) -> None:
    golden = read_golden(path)
    grids = {name: change(data) for name, data in golden.grids.items()}
    write_golden(path, dataclasses.replace(golden, meta=meta(golden.meta), grids=grids))


def _with_value_magnitude(factor: float) -> Callable[[GridData], GridData]:
    def change(data: GridData) -> GridData:
        mags = {"value": np.abs(data.numbers["value"]) * factor}
        return dataclasses.replace(data, magnitudes=mags)

    return change


def _keep(meta: Metadata) -> Metadata:
    return meta


@pytest.fixture
def seed_repo(tmp_path: Path) -> Path:
    """The seed project in a git repository, its sine golden holding a magnitude of terms for its
    value (as a case declared with ``magnitudes=True`` does)."""
    project = seed_project(tmp_path)
    sine = project / "golden" / "seed" / "sine.npz"
    _rewrite(sine, _with_value_magnitude(1.0), lambda m: dataclasses.replace(m, magnitudes=("value",)))
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "goldens")
    return project


def test_diff_shows_an_inflated_magnitude_of_terms(seed_repo: Path) -> None:
    """A magnitude of terms widens the checker's allowance (README, Tolerances): a pull request
    that inflates one, every float64 reference unchanged, is not "unchanged" to its reviewer."""
    _rewrite(seed_repo / "golden" / "seed" / "sine.npz", _with_value_magnitude(1e6), _keep)
    done = gradgold_here(seed_repo, "diff", "--rev", "HEAD", "seed/sine")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "seed/sine: numbers changed", lines
    assert lines[1].startswith("  float64 magnitude/value: max relative change 1e+06"), lines


def test_diff_shows_changed_digits_and_certified_counts(seed_repo: Path) -> None:
    """The digit strings and certified counts are what verify trusts; a change to them alone shows."""

    def change(data: GridData) -> GridData:
        digits = dict(data.digits)
        digits["value"] = np.char.add(digits["value"], "000")
        certified = dict(data.certified)
        certified["grad/z"] = certified["grad/z"] - 1
        return dataclasses.replace(data, digits=digits, certified=certified)

    _rewrite(seed_repo / "golden" / "seed" / "sine.npz", change, _keep)
    done = gradgold_here(seed_repo, "diff", "--rev", "HEAD", "seed/sine")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "seed/sine: numbers changed",
        "  float64 certified/grad/z: certified digit counts changed (first at point 0, index ())",
        "  float64 digits/value: digit strings changed (first at point 0, index ())",
    ], done.stdout


def test_check_names_the_xfail_key_to_remove_when_a_forward_mode_bug_is_fixed(tmp_path: Path) -> None:
    """An XPASS of a key naming a mode (or a quantity) is fixed by removing that key, not "the
    case's xfail= for this dtype" (which would drop keys that still hold)."""
    project = seed_project(tmp_path)
    path = project / "golden" / "seed.py"
    before = '@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}])'
    assert before in path.read_text()
    path.write_text(path.read_text().replace(before, before[:-1] + ', xfail={"forward-hessian": "gone"})'))
    done = gradgold_here(project, "check", "seed/sine", "--dtype", "float64", "--mode", "forward")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.splitlines()[:2] == [
        "XPASS seed/sine [float64-forward]",
        "      expected to fail in hessian (gone) but passed: torch was fixed? remove the case's "
        "xfail= key that covers float64-forward hessian",
    ], done.stdout


def test_the_readme_unary_example_checks_clean(tmp_path: Path) -> None:
    """README's ``golden/mine.py`` (gg.unary), copied as written into a project, generates and its
    det case passes: torch's known forward-over-forward det bug is recorded and det's zero Hessian
    elements are declared normwise (without both, four checks of the example failed)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("```python\n# golden/mine.py\n", 1)[1].split("```", 1)[0]
    (tmp_path / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "mine.py").write_text(block)
    assert "generated mine/det" in generate_goldens(tmp_path)
    done = gradgold_here(tmp_path, "check", "mine/det")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "XFAIL mine/det [float64-forward]" in done.stdout
