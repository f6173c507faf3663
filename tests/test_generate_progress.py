"""Generation a person can watch: a progress line per case with its size, a heartbeat while one
case evaluates, a note with what to do before a large case, and a summary instead of one line per
fresh case (``-v`` lists them all)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from conftest import gradgold_cli
from gradgold.cases import case
from gradgold.generation.generate import _heartbeat, size_note


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
    assert "[0/1] evaluating demo/sine (1 point x 2 inputs)" in done.stderr.splitlines()
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
