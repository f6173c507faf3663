"""``gradgold prune [--dry-run]`` and ``gradgold list --check`` (the pre-commit hook): the first and
last tests run the real command, the others run it in this process (``gradgold_here``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import gradgold_cli, gradgold_here


@pytest.fixture
def project(demo_suite: Path, tmp_path: Path) -> Path:
    """The demo project plus an orphan, ``golden/demo/gone.npz``."""
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    shutil.copy(tmp_path / "golden" / "demo" / "sine.npz", tmp_path / "golden" / "demo" / "gone.npz")
    return tmp_path


def test_dry_run_lists_and_keeps(project: Path) -> None:
    done = gradgold_cli(project, "prune", "--dry-run")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "would delete golden/demo/gone.npz  (no case defines demo/gone)",
        "1 orphan golden(s) would be deleted; run `gradgold prune` to delete them",
    ]
    assert (project / "golden" / "demo" / "gone.npz").exists()


def test_prune_deletes_orphans_and_empty_suite_dirs(project: Path) -> None:
    (project / "golden" / "old").mkdir()
    shutil.move(project / "golden" / "demo" / "gone.npz", project / "golden" / "old" / "gone.npz")
    done = gradgold_here(project, "prune")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "deleted golden/old/gone.npz  (no case defines old/gone)",
        "1 orphan golden(s) deleted; commit the deletion",
    ]
    assert not (project / "golden" / "old").exists()
    assert sorted(p.name for p in (project / "golden" / "demo").iterdir()) == ["product.npz", "sine.npz"]
    assert gradgold_here(project, "prune").stdout == "no orphan goldens\n"


def test_prune_refuses_while_a_case_file_is_broken(project: Path) -> None:
    """Otherwise every golden of the broken file would look orphaned and be deleted."""
    (project / "golden" / "demo.py").write_text("raise ValueError('oops')\n")
    done = gradgold_here(project, "prune")
    assert done.returncode == 2
    assert done.stderr.endswith("ValueError: oops; fix the file; nothing was pruned\n")
    assert (project / "golden" / "demo" / "sine.npz").exists()


def test_list_check_fails_on_orphans_and_stale_goldens(project: Path) -> None:
    case_file = project / "golden" / "demo.py"
    case_file.write_text(case_file.read_text().replace('"w z^2"', '"z^2 w"'))
    done = gradgold_here(project, "list", "--check")
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        "stale      demo/product",
        f"orphan     demo/gone  (no case defines it; delete {project / 'golden' / 'demo' / 'gone.npz'})",
    ]
    assert done.stderr == (
        "gradgold: error: goldens need attention (1 stale, 1 orphan): `gradgold generate` (or `pytest "
        "--gradgold-update`) regenerates stale, missing and unreadable ones; `gradgold prune` deletes "
        "orphans, then commit golden/\n"
    )


def test_list_check_passes_quietly_when_all_are_fresh(demo_suite: Path) -> None:
    done = gradgold_cli(demo_suite, "list", "--check")
    assert (done.returncode, done.stdout, done.stderr) == (0, "all 2 goldens are fresh\n", "")
