"""Generation a person can watch: a progress line per case with its size, a heartbeat while one
case evaluates, a note with what to do before a large case, and a summary instead of one line per
fresh case (``-v`` lists them all)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import gradgold.generation.generate as gen
from conftest import PYPROJECT, gradgold_cli, gradgold_here
from gradgold.cases import case
from gradgold.generation.generate import _by_point, _heartbeat, size_note


def _big(**options: object) -> object:
    return case(wolfram="Total[x^2]", points=[{"x": [0.5] * 64}], name="big", **options)(
        lambda x: (x**2).sum()
    )


def test_a_large_case_is_announced_with_what_to_do() -> None:
    note = size_note(_big(order=2))  # type: ignore[arg-type]
    assert note == (
        "big: large: 1 point(s) x 64 inputs, derivatives to order 2 (4,096 entries per output element); "
        "the embedded engine takes minutes per point at this size (about 3 min for 2,000 inputs with "
        "projections, bench/PROJECTIONS.md). To check it for a fraction, use projections=k with "
        "full_jacobian=False (one univariate derivative per direction), a real Wolfram kernel "
        "(--kernel PATH), or strategy='rigorous' where available"
    )
    assert size_note(_big()) == ""  # type: ignore[arg-type]  # 64 entries: ordinary
    assert size_note(_big(order=2, projections=4, full_jacobian=False)) == ""  # type: ignore[arg-type]


def test_only_a_large_substituted_case_of_several_points_is_split_by_point() -> None:
    def two(n: int, strategy: str) -> object:
        return case(wolfram="Total[x^2]", points=[{"x": [0.5] * n}] * 2, name="big", strategy=strategy)(
            lambda x: (x**2).sum()
        )

    assert _by_point(two(4096, "substituted"), 2)  # type: ignore[arg-type]
    assert not _by_point(two(4096, "substituted"), 1)  # type: ignore[arg-type]  # one point
    assert not _by_point(two(64, "substituted"), 2)  # type: ignore[arg-type]  # small
    assert not _by_point(two(4096, "symbolic"), 2)  # type: ignore[arg-type]  # one derivation


def test_the_heartbeat_reports_time_spent_until_the_case_ends() -> None:
    beats: list[float] = []
    with _heartbeat(beats.append, every=0.05):
        time.sleep(0.3)
    count = len(beats)
    time.sleep(0.15)
    assert count >= 2 and len(beats) == count  # stopped with the block
    assert beats == sorted(beats) and beats[0] >= 0.05


def test_fresh_cases_are_counted_not_listed(demo_suite: Path, tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(demo_suite, root)
    (root / "golden" / "demo" / "sine.npz").unlink()
    done = gradgold_cli(root, "generate", "--embedded", "-j", "1")
    assert done.returncode == 0, done.stderr
    assert "[0/1] evaluating demo/sine (1 point x 2 inputs, order 2)" in done.stderr.splitlines()
    lines = [line for line in done.stdout.splitlines() if not line.startswith("engine: ")]
    assert [line.split()[:2] for line in lines[:-2]] == [["generated", "demo/sine"]]
    assert lines[-2:] == [
        "1 case(s) fresh, not listed (-v lists every case)",
        "1 generated, 0 unchanged, 1 skipped, 0 failed",
    ]
    again = gradgold_cli(root, "generate", "--embedded")
    assert again.stdout.splitlines() == [
        "2 case(s) fresh, not listed (-v lists every case)",
        "0 generated, 0 unchanged, 2 skipped, 0 failed",
    ]
    listed = gradgold_cli(root, "generate", "--embedded", "-v")
    assert listed.stdout.splitlines() == [
        "  skipped  demo/sine",
        "  skipped  demo/product",
        "0 generated, 0 unchanged, 2 skipped, 0 failed",
    ]


PER_POINT = """
import gradgold as gg


@gg.case(wolfram="Sin[x] + x^3", points=[{"x": 0.5}, {"x": -1.25}, {"x": 2.0}], name="rig")
def rig(x):
    return x.sin() + x**3


@gg.case(wolfram="Sin[x] + x^3", points=[{"x": 0.5}, {"x": -1.25}], name="eng", strategy="substituted")
def eng(x):
    return x.sin() + x**3
"""

# In a child process (an in-process kernel is not reaped before the test ends: a ResourceWarning).
# The rigorous evaluator generates `rig`; one kernel evaluates `eng` whole, then point by point
# (LARGE_ENTRIES = 1 makes every case large).
_RUN = """
import gradgold.generation.generate as gen
from gradgold.generation.engine import Engine, locate_kernel
from gradgold.golden import write_golden
from gradgold.suite import find_project, load_cases
project = find_project()
rig, eng = load_cases(project)
events = []
def progress(event, case, done, total, seconds):
    events.append(f"{event} {case.id} {done}/{total}")
outcomes, _ = gen.generate(project, [rig], progress=progress)
points = []
with Engine(*locate_kernel(None, True)) as engine:
    whole = gen.evaluate_case(engine, eng, on_point=lambda d, t: points.append(f"whole {d}/{t}"))
    gen.LARGE_ENTRIES = 1
    split = gen.evaluate_case(engine, eng, on_point=lambda d, t: points.append(f"split {d}/{t}"))
write_golden(project.golden_dir / "whole.npz", whole)
write_golden(project.golden_dir / "split.npz", split)
print(" | ".join(events))
print(" | ".join(points))
"""


def test_progress_reports_each_point_of_a_case(tmp_path: Path) -> None:
    """The rigorous evaluator reports every point; the engine evaluates a large case point by point
    (each point's program alone), and makes the very golden it makes evaluating all at once."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "pp.py").write_text(PER_POINT)
    done = subprocess.run(
        [sys.executable, "-c", _RUN], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    events, points = done.stdout.splitlines()
    assert (
        events
        == "start pp/rig 0/1 | point pp/rig 1/3 | point pp/rig 2/3 | point pp/rig 3/3 | done pp/rig 1/1"
    )
    assert points == "split 1/2 | split 2/2"  # a small case is evaluated whole, silently
    assert (tmp_path / "golden" / "split.npz").read_bytes() == (
        tmp_path / "golden" / "whole.npz"
    ).read_bytes()
    shown = gradgold_here(tmp_path, "generate", "--force", "-v", "pp/rig")  # rigorous: no kernel
    assert shown.returncode == 0, shown.stderr
    assert "      pp/rig: point 2/3 done, " in shown.stderr
    # without -v, a case that takes under POINT_LINES_AFTER_SECONDS reports no points
    quiet = gradgold_here(tmp_path, "generate", "--force", "pp/rig")
    assert quiet.returncode == 0, quiet.stderr
    assert "[0/1] evaluating pp/rig" in quiet.stderr and "point 2/3" not in quiet.stderr


def test_the_time_left_counts_from_the_first_case_not_from_the_run_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kernel started before the first case (the held-tree comparison) is not a case's cost:
    after a 10 s start and one 0.1 s case of 100, about 9.9 s are left, not 1000."""
    now = [0.0]
    monkeypatch.setattr(gen.time, "perf_counter", lambda: now[0])
    seen: list[float | None] = []
    tracker = gen._Tracker(100, lambda event, case, done, total, seconds: seen.append(seconds))
    case: Any = object()
    now[0] = 10.0  # the kernel took 10 s to start
    tracker.event("start", case)
    now[0] = 10.1
    tracker.event("done", case)
    assert seen[0] is None and seen[1] == pytest.approx(0.1 * 99)
