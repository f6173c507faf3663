"""Cross-check (issue #12): every built-in case both evaluators support is computed by both, and
every stored float64 must be identical. The committed goldens were made by the embedded engine
(two working precisions); here the rigorous evaluator recomputes them from the case files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradgold.generation.rigorous.reference import RigorousUnsupported, rigorous_golden_of
from gradgold.golden import read_golden
from gradgold.suite import find_project, golden_path, load_cases

ROOT = Path(__file__).resolve().parents[1]
PROJECT = find_project(ROOT)
CASES = load_cases(PROJECT)


@pytest.mark.parametrize("suite", sorted({c.suite for c in CASES}))
def test_every_float64_agrees_with_the_committed_golden(suite: str) -> None:
    compared = 0
    for c in CASES:
        if c.suite != suite:
            continue
        try:  # every built-in case is supported (complex ones too): none falls back to the engine
            fresh = rigorous_golden_of(c)
        except RigorousUnsupported as exc:
            pytest.fail(str(exc))
        committed = read_golden(golden_path(PROJECT, c.id), root=PROJECT.golden_dir)
        assert set(fresh.grids) == set(committed.grids), c.id
        for grid, data in committed.grids.items():
            assert set(data.numbers) == set(fresh.grids[grid].numbers), (c.id, grid)
            for q, ours in data.numbers.items():
                theirs = np.ascontiguousarray(fresh.grids[grid].numbers[q], dtype=np.float64)
                bad = np.argwhere(np.ascontiguousarray(ours).view(np.uint64) != theirs.view(np.uint64))
                at = tuple(bad[0]) if len(bad) else ()
                assert not len(bad), f"{c.id} [{grid}] {q} at {at}: {ours[at]!r} != {theirs[at]!r}"
                compared += ours.size
    assert compared > 0
