"""What a user of a project laid out as README and docs/guide.md show (``golden_dir = "tests/golden"``)
is told: every hint names that project's own golden directory, not gradgold's ``golden/``."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import gradgold_here, seed_project


def test_list_check_says_to_commit_the_configured_golden_dir(tmp_path: Path) -> None:
    project = seed_project(tmp_path)
    (project / "tests").mkdir()
    shutil.move(project / "golden", project / "tests" / "golden")
    (project / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "tests/golden"\n')
    (project / "tests" / "golden" / "seed" / "sine.npz").unlink()
    done = gradgold_here(project, "list", "--check")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "missing    seed/sine" in done.stdout
    assert done.stderr.endswith(", then commit tests/golden/\n"), done.stderr
