"""The CI job documented in docs/ci.md stops both forgeries of issue #15 (finding 2).

(a) A genuine golden computed at other points, relabelled with the case's fingerprint.
(b) A bug slipped into the torch function, with the golden's floats *and* digits edited to match
    it, consistently: ``verify --offline`` and the checks pass; only an independent source of the
    numbers notices (``gradgold diff --exit-code`` against the base branch, until the rigorous
    evaluator verifies them).

The job's commands are read from docs/ci.md, so the documentation and this test cannot drift.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradgold.golden import GridData, read_golden, write_golden

DOC = Path(__file__).parent.parent / "docs" / "ci.md"


def job_steps() -> list[tuple[str, str]]:
    """``(name, command)`` of each one-line ``run:`` step of the GitHub Actions job in docs/ci.md
    (the multi-line install step is this test's own virtualenv)."""
    text = DOC.read_text()
    block = text[text.index("```yaml\nname: golden checks") :]
    block = block[: block.index("\n```\n")]
    steps = re.findall(r"- name: (.+)\n(?:\s+(?:if|id|uses|with|#).*\n)*\s+run: (?!\|)(.+)\n", block)
    return [(name.strip(), command.strip()) for name, command in steps]


def _shell(command: str, bindir: str) -> str:
    """A step's command as it runs here: this virtualenv, a pull request into ``main``, and pytest
    in one process (the demo suite is a few items; starting two xdist workers, each importing torch,
    cost this test more than the checks: tests/test_plugin_xdist.py covers the plugin under -n 2)."""
    command = command.replace(" -n 2 ", " -p no:xdist ")
    return command.replace(".venv/bin/", bindir + "/").replace("${{ github.base_ref }}", "main")


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


def _run_job(root: Path, steps: list[tuple[str, str]] | None = None) -> list[tuple[str, int, str]]:
    """Run the job's steps in order (or ``steps``), stopping at the first failure as CI does."""
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(root.parent / "summary.md"), "CI": "true"}
    env.pop("PYTEST_ADDOPTS", None)
    ran = []
    for name, command in steps if steps is not None else job_steps():
        done = subprocess.run(
            ["bash", "-c", _shell(command, bindir)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        ran.append((name, done.returncode, done.stdout + done.stderr))
        if done.returncode != 0:
            break
    return ran


@pytest.fixture
def pull_request(demo_suite: Path, tmp_path: Path) -> Path:
    """The demo project on branch ``pr``, forked from ``main`` (also known as ``origin/main``)."""
    root = tmp_path / "project"
    shutil.copytree(demo_suite, root)
    (root / "golden" / ".gradgold.lock").unlink(missing_ok=True)
    (root / ".gitignore").write_text(".gradgold.lock\ngradgold-artifacts/\nreports/\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "genuine goldens")
    _git(root, "update-ref", "refs/remotes/origin/main", "main")
    _git(root, "checkout", "-q", "-b", "pr")
    return root


def _commit(root: Path, message: str) -> None:
    _git(root, "commit", "-q", "-am", message)


def test_the_documented_job_has_the_steps_this_test_relies_on() -> None:
    commands = [c for _, c in job_steps()]
    assert any(" -n 2 " in c for c in commands)  # what _shell runs in one process
    assert ".venv/bin/gradgold list --check" in commands
    assert ".venv/bin/gradgold verify --offline" in commands
    assert ".venv/bin/gradgold verify --rigorous" in commands
    assert '.venv/bin/gradgold diff --rev "origin/${{ github.base_ref }}" --exit-code' in commands
    assert any(c.startswith(".venv/bin/python -m pytest") for c in commands)


def test_forgery_a_a_golden_computed_at_other_points_fails_ci(pull_request: Path) -> None:
    path = pull_request / "golden" / "demo" / "product.npz"
    golden = read_golden(path)
    w, z = np.array([0.5, 0.25]), np.array([4.0, 2.0])
    numbers = {"value": w * z**2, "grad/w": z**2, "grad/z": 2 * w * z}
    numbers["hessian"] = np.stack([[[0, 2 * b], [2 * b, 2 * a]] for a, b in zip(w, z, strict=True)])
    assert set(numbers) == set(golden.grids["float64"].numbers)  # every quantity the case has, forged
    digits = {q: np.array([f"{x:.30f}" for x in v.flat]).reshape(v.shape) for q, v in numbers.items()}
    certified = {q: np.full(v.shape, 30, dtype=np.int16) for q, v in numbers.items()}
    write_golden(
        path,
        dataclasses.replace(
            golden, grids={"float64": GridData({"w": w, "z": z}, numbers, digits, certified)}
        ),
    )
    _commit(pull_request, "forged at other points")
    ran = _run_job(pull_request)
    name, status, output = ran[-1]
    assert status != 0, ran
    assert name == "Goldens are fresh, none orphaned"
    assert "stale      demo/product" in output


def _forge_bug_and_golden(pull_request: Path) -> None:
    """Forgery (b): the torch function gains a bug (``+ w``), and the golden's floats and digits are
    edited together to agree with it, consistently (certified digits and all); then committed."""
    case_file = pull_request / "golden" / "demo.py"
    case_file.write_text(case_file.read_text().replace("return w * z**2", "return w * z**2 + w"))
    path = pull_request / "golden" / "demo" / "product.npz"
    golden = read_golden(path)
    data = golden.grids["float64"]
    w, z = data.inputs["w"], data.inputs["z"]
    numbers = {**data.numbers, "value": w * z**2 + w, "grad/w": z**2 + 1}
    digits = {
        q: np.array([f"{x:.30f}" for x in numbers[q].flat]).reshape(numbers[q].shape) for q in data.digits
    }
    certified = {q: np.full(numbers[q].shape, 30, dtype=np.int16) for q in data.certified}
    forged = GridData(data.inputs, numbers, digits, certified)
    write_golden(path, dataclasses.replace(golden, grids={"float64": forged}))
    _commit(pull_request, "a bug and a golden that agrees with it")


def test_forgery_b_floats_and_digits_edited_together_fail_ci(pull_request: Path) -> None:
    """The torch function gains a bug (``+ w``), and the golden is edited to agree with it."""
    _forge_bug_and_golden(pull_request)
    ran = _run_job(pull_request)
    assert [(n, s) for n, s, _ in ran[:-1]] == [
        ("Goldens are fresh, none orphaned", 0),
        ("Golden checks and tests", 0),
        ("Goldens are consistent (offline)", 0),
    ], ran
    name, status, output = ran[-1]
    assert (name, status) == ("Goldens are recomputed without any engine", 1), ran
    assert "demo/product [float64], value, index (0,): stored float64" in output
    assert "is not the proven correct rounding" in output


def test_forgery_b_on_a_case_the_evaluator_skips_is_stopped_by_the_diff(pull_request: Path) -> None:
    """Without the rigorous step (a case it does not support), the diff against the base stops it.
    (The pytest step is left out too: the test above shows it passes this very forgery.)"""
    skipped = {"Goldens are recomputed without any engine", "Golden checks and tests"}
    steps = [s for s in job_steps() if s[0] not in skipped]
    assert len(steps) == len(job_steps()) - 2
    _forge_bug_and_golden(pull_request)
    ran = _run_job(pull_request, steps)
    name, status, output = ran[-1]
    assert (name, status) == ("Changed goldens are verified independently", 1), ran
    assert "demo/product: numbers changed" in output


def test_an_honest_pull_request_passes_the_job(pull_request: Path) -> None:
    (pull_request / "README.md").write_text("a change that leaves the goldens alone\n")
    _git(pull_request, "add", "README.md")
    _commit(pull_request, "docs")
    ran = _run_job(pull_request)
    assert [s for _, s, _ in ran] == [0] * len(job_steps()), ran
