"""Generation under faults: parallel runs, hung kernels, Ctrl-C and SIGKILL, concurrent runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gradgold.generation.generate as gen
from gradgold.errors import GenerationLockedError
from gradgold.suite import find_project, load_cases

# strategy="symbolic": these tests are about the engine's kernels (the rigorous evaluator needs none).
CASES = """
import torch
import gradgold as gg

@gg.case(wolfram="x^2 + Sin[x]", points=[{"x": 0.5}, {"x": 0.25}], strategy="symbolic")
def square(x):
    return x**2 + torch.sin(x)

@gg.case(wolfram="Exp[x] y", points=[{"x": 0.125, "y": 3.0}], strategy="symbolic")
def product(x, y):
    return torch.exp(x) * y

@gg.case(wolfram="Pause[PAUSE]; x", points=[{"x": 1.0}])
def slow(x):
    return x
"""


def _project(tmp_path: Path, pause: float = 0) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[tool.gradgold]\n")
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "demo.py").write_text(CASES.replace("PAUSE", str(pause)))
    return tmp_path


def _children(pid: int) -> set[int]:
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _kernels(pid: int) -> set[int]:
    """Live embedded-kernel processes started by ``pid``."""
    found = set()
    for child in _alive(_children(pid)):
        try:
            if "gradgold-embedded-kernel" in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
                found.add(child)
        except OSError:
            continue
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def test_parallel_and_serial_runs_write_identical_bytes(tmp_path: Path) -> None:
    serial = find_project(_project(tmp_path / "serial"))
    parallel = find_project(_project(tmp_path / "parallel"))
    out1, info1 = gen.generate(serial, load_cases(serial), embedded=True, jobs=1)
    out2, info2 = gen.generate(parallel, load_cases(parallel), embedded=True, jobs=2)
    assert [o.status for o in out1] == [o.status for o in out2] == ["generated"] * 3
    assert info1 is not None and info1.kernels == 1
    assert info2 is not None and info2.kernels == 2
    for name in ("square", "product", "slow"):
        a = (serial.golden_dir / "demo" / f"{name}.npz").read_bytes()
        assert a == (parallel.golden_dir / "demo" / f"{name}.npz").read_bytes()
    assert not _kernels(os.getpid())


def test_a_case_that_times_out_fails_alone(tmp_path: Path) -> None:
    # 4 s, not 1: on a loaded CI machine the two small cases alone took over a second.
    project = find_project(_project(tmp_path, pause=10))
    outcomes, _ = gen.generate(project, load_cases(project), embedded=True, timeout=4)
    by_id = {o.case_id: o for o in outcomes}
    assert by_id["demo/square"].status == by_id["demo/product"].status == "generated"
    assert by_id["demo/slow"].status == "failed"
    assert "timed out after 4 s; raise --timeout or simplify the case" in by_id["demo/slow"].reason


def test_a_hung_kernel_is_replaced_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = find_project(_project(tmp_path, pause=10))
    cases = load_cases(project)
    slow_first = [c for c in cases if c.name == "slow"] + [c for c in cases if c.name != "slow"]
    # The kernel's own TimeConstrained (5 s) comes after Python stops waiting (4 s): a hang, as seen
    # from the generator (not 1 s: on a loaded machine the small cases alone can take that long).
    monkeypatch.setattr(gen, "_GRACE_SECONDS", -1)
    outcomes, _ = gen.generate(project, slow_first, embedded=True, timeout=5, jobs=1)
    by_id = {o.case_id: o for o in outcomes}
    assert by_id["demo/slow"].status == "failed"
    assert by_id["demo/slow"].reason.startswith(f"{project.golden_dir / 'demo.py'}: case demo/slow: the ")
    assert by_id["demo/slow"].reason.endswith(
        "kernel gave no answer within 4 s; it was stopped and replaced; raise --timeout if the case "
        "needs longer"
    )
    assert by_id["demo/square"].status == by_id["demo/product"].status == "generated"
    assert not _kernels(os.getpid())


def test_a_second_generator_on_the_same_tree_is_refused(tmp_path: Path) -> None:
    project = find_project(_project(tmp_path))
    with (
        gen.generation_lock(project.golden_dir),
        pytest.raises(GenerationLockedError, match="another `gradgold generate` is running"),
    ):
        gen.generate(project, load_cases(project), embedded=True)
    # The lock is released with its holder: a new run may start.
    outcomes, _ = gen.generate(project, load_cases(project)[:1], embedded=True)
    assert outcomes[0].status == "generated"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_run_leaves_goldens_and_no_kernels(tmp_path: Path, sig: signal.Signals) -> None:
    root = _project(tmp_path, pause=60)
    project = find_project(root)
    gen.generate(project, [c for c in load_cases(project) if c.name == "square"], embedded=True)
    golden = project.golden_dir / "demo" / "square.npz"
    before = golden.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradgold", "generate", "--embedded", "--force", "-j", "2"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kernels: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(kernels) < 2:  # wait until both kernels run
        kernels |= _kernels(proc.pid)
        time.sleep(0.2)
    assert kernels, "the generator started no kernel"
    time.sleep(3)  # the slow case is now being evaluated
    proc.send_signal(sig)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 15
    while _alive(kernels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(kernels), "kernel processes outlived the generator"
    assert golden.read_bytes() == before  # regenerating it gives the same bytes, or it was not reached
    assert not [p for p in golden.parent.iterdir() if p.name.startswith(".gradgold-tmp")]
    assert not (golden.parent / "slow.npz").exists()


def test_a_failing_write_fails_the_case_and_keeps_the_previous_golden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = find_project(_project(tmp_path))
    cases = [c for c in load_cases(project) if c.name != "slow"]
    gen.generate(project, cases, embedded=True)
    before = {p.name: p.read_bytes() for p in (project.golden_dir / "demo").glob("*.npz")}

    def disk_full(path: Path, golden: object) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gen, "write_golden", disk_full)
    outcomes, _ = gen.generate(project, cases, embedded=True, force=True)
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "cannot write" in outcomes[0].reason
    assert "No space left on device); the previous golden is unchanged; free disk space" in outcomes[0].reason
    assert {p.name: p.read_bytes() for p in (project.golden_dir / "demo").glob("*.npz")} == before
