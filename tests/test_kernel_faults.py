"""Kernels that misbehave: never say OK, flood their output, die mid-batch.

Fake kernels are small scripts; the success paths run on the real embedded engine.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradgold.generation.generate as gen
from gradgold.errors import KernelStartError
from gradgold.suite import find_project, load_cases

EMBEDDED = Path(sys.executable).parent / "gradgold-embedded-kernel"

# strategy="symbolic": these cases test the engine (the rigorous evaluator is tested in test_rigorous.py)
CASES = """
import gradgold as gg

@gg.case(wolfram="x^2", points=[{"x": 0.5}], strategy="symbolic")
def square(x):
    return x**2

@gg.case(wolfram="Quit[]; x", points=[{"x": 1.0}], strategy="symbolic")
def dies(x):
    return x

@gg.case(wolfram="Exp[x]", points=[{"x": 0.25}], strategy="symbolic")
def exp(x):
    return x
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.gradgold]\n")
    (root / "golden").mkdir(exist_ok=True)
    (root / "golden" / "k.py").write_text(CASES)
    return root


def test_a_kernel_that_never_says_ok_is_diagnosed_by_a_preflight(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    kernel = _script(
        tmp_path / "WolframKernel",
        "#!/bin/sh\n"
        "echo 'WolframKernel: your licence has expired; run wolframscript -activate'\n"
        'case "$*" in *KernelPrivateStart*) echo $$ > ' + str(pidfile) + "; exec sleep 60;; esac\n"
        "exit 1\n",
    )
    project = find_project(_project(tmp_path / "p"))
    start = time.monotonic()
    with pytest.raises(KernelStartError) as err:
        gen.generate(project, load_cases(project)[:1], kernel=str(kernel), startup_timeout=2)
    message = str(err.value)
    assert f"the wolfram kernel at {kernel} did not start" in message
    assert "it said: WolframKernel: your licence has expired; run wolframscript -activate" in message
    assert "Check its licence/activation, or run with the embedded engine (--embedded)" in message
    assert time.monotonic() - start < 30
    pid = int(pidfile.read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert not (project.golden_dir / "k").exists()


def test_the_cli_reports_a_kernel_that_does_not_start(tmp_path: Path) -> None:
    kernel = _script(tmp_path / "WolframKernel", "#!/bin/sh\necho 'not a kernel'\nexec sleep 60\n")
    root = _project(tmp_path / "p")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradgold",
            "generate",
            "--kernel",
            str(kernel),
            "--startup-timeout",
            "2",
            "k/square",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 2
    assert "gradgold: error: the wolfram kernel at" in run.stderr
    assert "it said: not a kernel <still running after 5 s>" in run.stderr


def test_a_kernel_that_floods_its_output_does_not_block(tmp_path: Path) -> None:
    kernel = _script(
        tmp_path / "chatty-kernel",
        "#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' x\nhead -c 300000 /dev/zero | tr '\\0' y >&2\n"
        f'exec "{EMBEDDED}" "$@"\n',
    )
    project = find_project(_project(tmp_path / "p"))
    outcomes, info = gen.generate(project, load_cases(project)[:1], kernel=str(kernel))
    assert [o.status for o in outcomes] == ["generated"]
    assert info is not None and info.path == str(kernel)


def test_a_kernel_that_dies_mid_batch_is_replaced(tmp_path: Path) -> None:
    project = find_project(_project(tmp_path / "p"))
    outcomes, _ = gen.generate(project, load_cases(project), embedded=True, jobs=1)
    by_id = {o.case_id: o for o in outcomes}
    assert by_id["k/square"].status == "generated"
    assert by_id["k/dies"].status == "failed"
    assert "kernel failed" in by_id["k/dies"].reason or "not running" in by_id["k/dies"].reason
    assert by_id["k/exp"].status == "generated"  # on a fresh kernel
    assert not (project.golden_dir / "k" / "dies.npz").exists()
    assert os.getpid() > 0
