"""``gradgold diff``: what a change to golden/ does to the numbers, for a reviewer. The first
``--rev`` run and ``--embedded`` run the real command; the other reads run it in this process."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import gradgold_cli, gradgold_here
from gradgold.generation.review import diff_dirs
from gradgold.golden import GridData, read_golden, write_golden
from gradgold.suite import golden_file


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


def _edit(path: Path, *, scale: float = 1.0, engine: str | None = None) -> None:
    """Rewrite a golden with its float64 value scaled and/or another engine version."""
    golden = read_golden(path)
    meta = golden.meta
    if engine is not None:
        meta = dataclasses.replace(meta, engine=dataclasses.replace(meta.engine, version=engine))
    grids = {}
    for name, data in golden.grids.items():
        numbers = dict(data.numbers)
        numbers["value"] = numbers["value"] * scale
        mags = {q: np.maximum(m, np.abs(numbers[q])) for q, m in data.magnitudes.items()}
        grids[name] = GridData(data.inputs, numbers, data.digits, data.certified, mags)
    write_golden(path, dataclasses.replace(golden, meta=meta, grids=grids))


@pytest.fixture
def repo(demo_suite: Path, tmp_path: Path) -> Path:
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "goldens")
    return tmp_path


def test_rev_separates_metadata_from_numbers(repo: Path) -> None:
    golden = repo / "golden" / "demo"
    _edit(golden / "product.npz", engine="Mathics3 99")
    _edit(golden / "sine.npz", scale=1 + 2**-50)
    shutil.copy(golden / "sine.npz", golden / "extra.npz")
    done = gradgold_cli(repo, "diff", "--rev", "HEAD")
    assert (done.returncode, done.stderr) == (0, "")
    value = read_golden(golden / "sine.npz").grids["float64"].numbers["value"]
    assert np.all(value != 0)
    assert done.stdout.splitlines() == [
        "demo/extra: added",
        "demo/product: metadata only (metadata: engine)",
        "demo/sine: numbers changed",
        "  float64 value: max relative change 9.13e-16 (8 ULPs of float64, old and new agree to 15.0 "
        "digits) at point 0, index ()",
        "0 unchanged, 1 metadata only, 1 numbers changed, 1 added, 0 removed, 0 unreadable",
    ]
    assert gradgold_here(repo, "diff", "--rev", "HEAD", "--exit-code", "demo/product").returncode == 0
    assert gradgold_here(repo, "diff", "--rev", "HEAD", "--exit-code", "demo").returncode == 1


def test_two_revs_and_removed_goldens(repo: Path) -> None:
    (repo / "golden" / "demo" / "product.npz").unlink()
    _git(repo, "commit", "-q", "-am", "drop product")
    done = gradgold_here(repo, "diff", "--rev", "HEAD~1", "--rev", "HEAD")
    assert done.stdout.splitlines() == [
        "demo/product: removed",
        "demo/sine: unchanged",
        "1 unchanged, 0 metadata only, 0 numbers changed, 0 added, 1 removed, 0 unreadable",
    ]


def test_an_unknown_revision_is_a_usage_error(repo: Path) -> None:
    done = gradgold_here(repo, "diff", "--rev", "nope")
    assert done.returncode == 2
    assert done.stderr.startswith("gradgold: error: `git ls-tree -r --name-only nope -- golden` failed in ")
    assert done.stderr.endswith(
        "give a revision git knows (a branch, tag or commit), e.g. --rev origin/main\n"
    )


def test_regenerating_shows_what_the_engine_gives_now(repo: Path) -> None:
    _edit(repo / "golden" / "demo" / "sine.npz", scale=2.0)
    done = gradgold_cli(repo, "diff", "--embedded")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "demo/product: unchanged"
    assert lines[1] == "demo/sine: numbers changed"
    assert lines[2].startswith("  float64 value: max relative change 0.5 (")
    assert lines[-1] == "1 unchanged, 0 metadata only, 1 numbers changed, 0 added, 0 removed, 0 unreadable"


def test_a_case_id_with_a_dot_keeps_its_own_golden(demo_suite: Path, tmp_path: Path) -> None:
    """``complex/pow-2.5`` is ``pow-2.5.npz``: a path built with ``with_suffix`` read ``pow-2.npz``
    instead, and reported a changed golden as unchanged."""
    source = demo_suite / "golden" / "demo" / "sine.npz"
    old, new = tmp_path / "old", tmp_path / "new"
    for side in (old, new):
        (side / "s").mkdir(parents=True)
        shutil.copy(source, side / "s" / "pow-2.npz")  # the same in both: the wrong file says "unchanged"
        shutil.copy(source, side / "s" / "pow-2.5.npz")
    _edit(new / "s" / "pow-2.5.npz", scale=2.0)
    (verdict,) = diff_dirs(["s/pow-2.5"], old, new)
    assert verdict.status == "numbers changed"
    assert golden_file(old, "s/pow-2.5") == old / "s" / "pow-2.5.npz"
