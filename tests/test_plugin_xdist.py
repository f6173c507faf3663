"""pytest-xdist: items spread over workers; the controller, not a worker, reports orphans once."""

from __future__ import annotations

import shutil

import pytest


def test_n_2_runs_every_item_and_reports_orphans_once(demo: pytest.Pytester) -> None:
    shutil.copy(demo.path / "golden" / "demo" / "sine.npz", demo.path / "golden" / "demo" / "gone.npz")
    run = demo.runpytest_subprocess("golden", "-n", "2")
    run.assert_outcomes(passed=16)
    assert [line for line in run.outlines if "gone.npz" in line] == [
        "golden/demo/gone.npz: no case defines demo/gone (deleted or renamed?)"
    ]
    narrowed = demo.runpytest_subprocess("golden", "-n", "2", "-k", "float64")
    narrowed.assert_outcomes(passed=8)
    narrowed.stdout.no_fnmatch_line("*orphan golden*")
