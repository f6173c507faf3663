"""Shared by the plugin and lifecycle tests: pytester, and one small suite generated once per session
(each generation starts the embedded engine, about 3 s) that tests copy into their own directory."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch
import torch._dynamo  # noqa: F401  (see below)
from click.testing import CliRunner

from gradgold.cli import main as cli_main

# pytester's in-process runs forget modules first imported inside them; torch cannot be imported
# twice in one process (the second import crashes), so it is imported here, up front. The same holds
# for torch._dynamo, which nested torch.func.jvp (forward-mode higher orders) imports on first use
# and which registers operator libraries that may be registered once only.

pytest_plugins = ["pytester"]

DEMO_CASES = """\
import torch

import gradgold as gg


@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}])
def sine(w, z):
    return w + torch.sin(2 * z)


@gg.case(wolfram="w z^2", points=[{"w": 0.5, "z": 3.0}, {"w": 2.0, "z": -1.0}])
def product(w, z):
    return w * z**2
"""

PYPROJECT = '[tool.gradgold]\ngolden_dir = "golden"\n'


GRADGOLD = str(Path(sys.executable).parent / "gradgold")

# Generation runs in a child process: in-process, the engine's kernel process is not reaped (a
# ResourceWarning, which filterwarnings=error makes a failure).
_GENERATE = """
from gradgold.generation.generate import generate
from gradgold.suite import find_project, load_cases
project = find_project()
outcomes, _ = generate(project, load_cases(project), embedded=True)
for o in outcomes:
    print(o.status, o.case_id, o.reason)
"""


def gradgold_cli(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``gradgold`` command in ``root``."""
    return subprocess.run([GRADGOLD, *args], cwd=root, capture_output=True, text=True, timeout=timeout)


def gradgold_here(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``gradgold`` command in ``root`` in this process, through click's CliRunner: what a
    subprocess would give (stdout and stderr apart, the exit status) without its interpreter start
    and torch import (about 3 CPU seconds a call). For commands that start no kernel (a kernel
    started in-process is not reaped: a ResourceWarning); every command keeps real-subprocess tests
    (``gradgold_cli``). An exception the command lets escape is its traceback on stderr and exit
    status 1, as from the real command."""
    with contextlib.chdir(root):
        result = CliRunner().invoke(cli_main, list(args))
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess([GRADGOLD, *args], result.exit_code, result.stdout, stderr)


def seed_project(root: Path) -> Path:
    """Make ``root`` a project holding a copy of the built-in seed suite and its committed goldens."""
    repo = Path(__file__).resolve().parents[1]
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    shutil.copy(repo / "golden" / "seed.py", root / "golden" / "seed.py")
    shutil.copytree(repo / "golden" / "seed", root / "golden" / "seed")
    return root


def seed_sine_as_in_version_1(root: Path) -> None:
    """Give the project's seed/sine the order it had when tests/data/golden-v1 was written (1, the
    default then; the default is now 2 for few inputs), so that committed version-1 golden is its
    fresh golden."""
    path = root / "golden" / "seed.py"
    before = '@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}])'
    assert before in path.read_text(), "golden/seed.py's sine case changed: update this helper"
    path.write_text(path.read_text().replace(before, before[:-1] + ", order=1)"))


def embedded_suite(
    root: Path, suite: str, cases: str, jobs: int = 2, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Make ``root`` a project holding ``golden/<suite>.py`` (the text ``cases``) and run the real
    CLI's ``gradgold generate --embedded -q`` there, as a user would; its exit status and output are
    the tests' to read."""
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    (root / "golden" / f"{suite}.py").write_text(cases)
    return subprocess.run(
        [sys.executable, "-m", "gradgold", "generate", "--embedded", "-j", str(jobs), "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def generate_goldens(root: Path) -> list[str]:
    """Generate every case of the project at ``root``; ``["<status> <id>", ...]``."""
    done = subprocess.run(
        [sys.executable, "-c", _GENERATE], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return [" ".join(line.split()[:2]) for line in done.stdout.splitlines()]


@pytest.fixture(scope="session")
def demo_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with ``golden/demo.py`` (cases ``demo/sine`` and ``demo/product``) and its goldens."""
    root = tmp_path_factory.mktemp("demo-project")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    (root / "golden" / "demo.py").write_text(DEMO_CASES)
    assert generate_goldens(root) == ["generated demo/sine", "generated demo/product"]
    return root


def quiet_pytester(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset ``CI`` (it turns artifacts on), and keep hypothesis's plugin out of inner runs: it
    imports hypothesis at the end of every run (1 s; pytester forgets it between in-process runs)."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


@pytest.fixture
def demo(pytester: pytest.Pytester, demo_suite: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` holding a copy of the demo project, with ``CI`` unset (it turns artifacts on)."""
    quiet_pytester(monkeypatch)
    shutil.copytree(demo_suite, pytester.path, dirs_exist_ok=True)
    return pytester
