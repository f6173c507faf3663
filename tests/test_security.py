"""Issue #15, "nothing lost, nothing forged": links out of the golden directory, forged goldens,
escaped output, a read-only golden directory, stray temporary files, large goldens.

Each test reproduces one finding of the audit on a copy of the demo project and runs the real
CLI, as a user (or an attacker's pull request) would: ``generate`` in a subprocess, the commands
that start no kernel in this process (``gradgold_here``: the same output and exit status).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import gradgold_cli, gradgold_here
from gradgold.errors import GenerationLockedError
from gradgold.generation import generate as gen
from gradgold.golden import Golden, GridData, read_golden, write_golden
from gradgold.printable import printable
from gradgold.schema import EngineStamp


@pytest.fixture
def project(demo_suite: Path, tmp_path: Path) -> Path:
    """A copy of the demo project (cases demo/sine and demo/product, fresh goldens)."""
    root = tmp_path / "project"
    shutil.copytree(demo_suite, root)
    return root


def _outside(tmp_path: Path, *names: str) -> Path:
    """A directory outside the project holding copies of ``names`` (demo goldens)."""
    where = tmp_path / "elsewhere"
    where.mkdir()
    for name in names:
        (where / name).write_bytes(b"not yours to delete")
    return where


# ------------------------------------------------------------------------- links out of golden/


def test_a_suite_directory_linked_out_is_never_followed(project: Path, tmp_path: Path) -> None:
    """The audit: prune deleted ``.npz`` files in the link's target, list told the user to prune."""
    target = _outside(tmp_path, "precious.npz")
    (project / "golden" / "cache").symlink_to(target)
    for args in (("prune",), ("prune", "--dry-run"), ("list", "--check"), ("list",)):
        done = gradgold_here(project, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert f"golden/cache is a symbolic link to {target}, outside the golden directory" in done.stderr
        assert "never follows a link out of it" in done.stderr
    assert (target / "precious.npz").read_bytes() == b"not yours to delete"


def test_pruning_through_a_link_to_an_empty_directory_does_not_crash(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty"
    target.mkdir()
    (project / "golden" / "cache").symlink_to(target)
    done = gradgold_here(project, "prune")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"gradgold: error: {project}/golden/cache is a symbolic link to {target}")
    assert done.stderr.endswith("; nothing was pruned\n")


def test_a_golden_file_linked_out_is_refused(project: Path, tmp_path: Path) -> None:
    target = _outside(tmp_path, "x.npz")
    (project / "golden" / "demo" / "gone.npz").symlink_to(target / "x.npz")
    done = gradgold_here(project, "prune")
    assert done.returncode == 2
    assert f"golden/demo/gone.npz is a symbolic link to {target / 'x.npz'}" in done.stderr
    assert (target / "x.npz").exists()


def test_generate_never_writes_through_a_link(project: Path, tmp_path: Path) -> None:
    """With ``golden/demo`` a link out, generation refuses each of its cases by name (no engine is
    started: nothing could be written) and writes nothing in the target."""
    target = tmp_path / "elsewhere"
    shutil.move(project / "golden" / "demo", target)
    (project / "golden" / "demo").symlink_to(target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    done = gradgold_cli(project, "generate", "--embedded", "--force", "-q")
    assert done.returncode == 1, done.stderr
    for cid in ("demo/sine", "demo/product"):
        assert f"case {cid}: {project}/golden/demo/{cid.split('/')[1]}.npz" not in done.stdout
        assert f"case {cid}: {project}/golden/demo is a symbolic link to {target}" in done.stdout
    assert "nothing was written" in done.stdout
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True, capture_output=True
    )


def test_diff_reads_with_the_containment_check(project: Path, tmp_path: Path) -> None:
    """The audit: a golden replaced by a link to an identical file outside read as "unchanged"."""
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "goldens")
    sine = project / "golden" / "demo" / "sine.npz"
    outside = tmp_path / "sine.npz"
    shutil.copy(sine, outside)
    sine.unlink()
    sine.symlink_to(outside)
    done = gradgold_here(project, "diff", "--rev", "HEAD", "--exit-code")
    assert (done.returncode, done.stdout) == (2, ""), done.stdout
    assert (
        f"golden/demo/sine.npz is a symbolic link to {outside}, outside the golden directory" in done.stderr
    )
    from gradgold.generation.review import diff_dirs  # the reading itself, given the ids

    (diff,) = diff_dirs(["demo/sine"], project / "golden", project / "golden")
    assert diff.status == "unreadable"
    assert f"resolves to {outside}, outside the golden directory" in diff.note


# ------------------------------------------------------------------------------- forged goldens


def _forge_at_other_points(path: Path) -> None:
    """Make demo/product's golden a genuine golden of ``w z^2`` at other points, keeping the
    case's fingerprint: what the audit's forgery (a) did."""
    golden = read_golden(path)
    w, z = np.array([0.5, 0.25]), np.array([4.0, 2.0])
    numbers = {"value": w * z**2, "grad/w": z**2, "grad/z": 2 * w * z}
    numbers["hessian"] = np.stack([[[0, 2 * b], [2 * b, 2 * a]] for a, b in zip(w, z, strict=True)])
    assert set(numbers) == set(golden.grids["float64"].numbers)  # every quantity the case has, forged
    digits = {q: np.array([repr(float(x)) for x in v.flat]).reshape(v.shape) for q, v in numbers.items()}
    certified = {q: np.full(v.shape, 30, dtype=np.int16) for q, v in numbers.items()}
    data = GridData({"w": w, "z": z}, numbers, digits, certified)
    write_golden(path, dataclasses.replace(golden, grids={"float64": data}))


def test_a_golden_computed_at_other_points_is_stale(project: Path) -> None:
    path = project / "golden" / "demo" / "product.npz"
    _forge_at_other_points(path)
    listed = gradgold_here(project, "list", "--check")
    assert listed.returncode == 2
    assert listed.stdout.splitlines()[0] == "stale      demo/product"
    checked = gradgold_here(project, "check", "demo/product")
    assert checked.returncode == 2, checked.stdout
    assert (
        "demo/product: golden " + str(path) + " is stale: its stored inputs (float64 grid, parameter w) "
        "are not the case's points: its references were computed elsewhere, although its fingerprint "
        "is the case's (an edited or forged golden?); run `gradgold generate demo/product`"
    ) in checked.stdout


def test_a_golden_whose_metadata_is_not_the_cases_is_stale(project: Path) -> None:
    path = project / "golden" / "demo" / "product.npz"
    golden = read_golden(path)
    write_golden(path, dataclasses.replace(golden, meta=dataclasses.replace(golden.meta, wolfram="w z^3")))
    checked = gradgold_here(project, "check", "demo/product")
    assert checked.returncode == 2
    assert "is stale: its metadata is not the case's (wolfram='w z^3'), although its fingerprint is" in (
        checked.stdout
    )


# ------------------------------------------------------------------------------------ escaping


def test_printable_escapes_control_and_format_characters() -> None:
    assert printable("a\x1b[2K\rb\x7f\u202e\x85c\\n") == "a\\x1b[2K\\x0db\\x7f\\u202e\\x85c\\n"
    assert printable("line\nnext\ttab", keep_newlines=True) == "line\nnext\\x09tab"
    assert printable("line\nnext") == "line\\x0anext"
    assert printable("naïve π ∂f/∂x") == "naïve π ∂f/∂x"


def test_a_crafted_orphan_name_cannot_rewrite_the_terminal(project: Path) -> None:
    """The audit: an orphan named to print as "all goldens are fresh"."""
    name = "x\r\x1b[2Kall 2 goldens are fresh\x1b[8m.npz"
    shutil.copy(project / "golden" / "demo" / "sine.npz", project / "golden" / "demo" / name)
    for args in (("list", "--check"), ("prune", "--dry-run"), ("prune",)):
        done = gradgold_here(project, *args)
        out = done.stdout + done.stderr
        assert "\x1b" not in out and "\r" not in out, args
        assert "demo/x\\x0d\\x1b[2Kall 2 goldens are fresh\\x1b[8m" in out, args


def test_show_and_diff_escape_what_a_golden_says(project: Path) -> None:
    _git(project, "init", "-q")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "goldens")
    path = project / "golden" / "demo" / "sine.npz"
    golden = read_golden(path)
    meta = dataclasses.replace(
        golden.meta, engine=EngineStamp("\x1b]0;pwned\x07", "1\r\x1b[2K"), strategy="evil\x1b[31m"
    )
    write_golden(path, Golden(meta=meta, grids=golden.grids, directions=golden.directions))
    shown = gradgold_here(project, "show", "demo/sine")
    assert shown.returncode == 0, shown.stderr
    assert "engine: \\x1b]0;pwned\\x07, 1\\x0d\\x1b[2K; precision" in shown.stdout
    diffed = gradgold_here(project, "diff", "--rev", "HEAD")
    assert "demo/sine: metadata only (metadata: engine, strategy)" in diffed.stdout
    for out in (shown.stdout, diffed.stdout):
        assert "\x1b" not in out and "\r" not in out and "\x07" not in out


# --------------------------------------------------------------- read-only tree, stray temp files


def test_a_golden_directory_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run as root here, where a read-only mode does not stop writes: ``open`` fails as it
    does on a read-only directory."""

    def read_only(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(gen, "open", read_only, raising=False)
    with pytest.raises(GenerationLockedError) as err, gen.generation_lock(tmp_path):
        pass
    assert str(err.value) == (
        f"{tmp_path}: cannot create the generation lock {tmp_path}/.gradgold.lock (Permission denied): "
        "the golden directory is not writable; make it writable (or run where it is), then run again"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_generate_in_a_read_only_golden_directory(project: Path) -> None:
    golden = project / "golden"
    (golden / ".gradgold.lock").unlink(missing_ok=True)
    golden.chmod(0o555)
    try:
        done = gradgold_cli(project, "generate", "--embedded")
    finally:
        golden.chmod(0o755)
    assert done.returncode == 2
    assert "the golden directory is not writable" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_temporary_file_left_by_a_killed_write_is_no_orphan(project: Path) -> None:
    """A SIGKILL between the write and the rename leaves ``.gradgold-tmp-*.npz``: not a golden,
    not an orphan, and the next generation deletes it."""
    stray = project / "golden" / "demo" / ".gradgold-tmp-k1ll3d.npz"
    stray.write_bytes(b"half a golden")
    listed = gradgold_here(project, "list", "--check")
    assert (listed.returncode, listed.stdout) == (0, "all 2 goldens are fresh\n")
    assert gradgold_here(project, "prune", "--dry-run").stdout == "no orphan goldens\n"
    done = gradgold_cli(project, "generate", "--embedded")  # every case fresh: no engine starts
    assert done.returncode == 0, done.stderr
    assert not stray.exists()


def test_a_report_with_error_rows_fails_and_says_why(project: Path) -> None:
    """The audit: ``report`` exited 0 with ERROR rows that gave no reason."""
    (project / "golden" / "demo" / "product.npz").unlink()
    done = gradgold_here(project, "report", "--date", "2026-01-01")
    assert done.returncode == 2, done.stderr
    missing = f"demo/product: golden file {project}/golden/demo/product.npz is missing"
    assert done.stderr.startswith(f"gradgold: error: demo/product: {missing}; run `gradgold generate")
    assert done.stderr.endswith(
        "gradgold: error: 1 case(s) could not be checked (ERROR rows in the report); fix them, then rerun\n"
    )
    assert (
        f"- `demo/product`: **error** (float64, float32): the check could not run: {missing}" in done.stdout
    )
