"""Offline verification of committed goldens (no engine), and re-verification with the embedded
engine through the CLI."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import seed_project, seed_sine_as_in_version_1
from gradgold.cli import main
from gradgold.generation.generate import evaluation_points
from gradgold.generation.verify import agreements, verify_case, verify_offline
from gradgold.generation.wlprogram import build_program
from gradgold.golden import Golden, GridData, read_golden, write_golden
from gradgold.suite import Project, find_project, load_cases

REPO = Path(__file__).resolve().parents[1]
GRADGOLD = str(Path(sys.executable).parent / "gradgold")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the seed suite and its committed goldens."""
    return find_project(seed_project(tmp_path))


def _tamper(project: Project, case: str, change: Callable[[GridData], GridData], **meta: Any) -> Path:
    """Rewrite one golden of the copy with its float64 grid changed (and metadata updated)."""
    path = project.golden_dir / "seed" / f"{case}.npz"
    g = read_golden(path)
    grids = dict(g.grids) | {"float64": change(g.grids["float64"])}
    write_golden(path, Golden(meta=dataclasses.replace(g.meta, **meta), grids=grids))
    return path


def _findings(project: Project, case: str) -> list[tuple[str, str, tuple[int, ...]]]:
    (c,) = [c for c in load_cases(project) if c.id == f"seed/{case}"]
    return [(f.check, f.quantity, f.index) for f in verify_case(project, c)]


def _message(project: Project, case: str) -> str:
    (c,) = [c for c in load_cases(project) if c.id == f"seed/{case}"]
    return "\n".join(f.message for f in verify_case(project, c))


def _with(data: GridData, section: str, key: str, arr: np.ndarray) -> GridData:
    return dataclasses.replace(data, **{section: dict(getattr(data, section)) | {key: arr}})


def test_committed_goldens_verify_offline() -> None:
    """What `make test` believes: every golden under golden/ is consistent with its case."""
    project = find_project(REPO)
    results = verify_offline(project, load_cases(project))
    assert results and all(not found for found in results.values()), results


def test_copied_seed_goldens_verify(project: Project) -> None:
    results = verify_offline(project, load_cases(project))
    assert sorted(results) == ["seed/exp_cos", "seed/linear", "seed/matrix_norm", "seed/sine"]
    assert all(not found for found in results.values())


def test_tampered_float64_value(project: Project) -> None:
    def nudge(d: GridData) -> GridData:
        arr = d.numbers["grad/W"].copy()
        arr[0, 1, 0] = np.nextafter(arr[0, 1, 0], np.inf)
        return _with(d, "numbers", "grad/W", arr)

    path = _tamper(project, "matrix_norm", nudge)
    assert _findings(project, "matrix_norm") == [("rounding", "grad/W", (0, 1, 0))]
    msg = _message(project, "matrix_norm")
    assert f"{path}: case seed/matrix_norm, grid float64, quantity grad/W, index (0, 1, 0)" in msg
    assert "is not the correct rounding of the digits '8.3038634048396165591" in msg
    assert "(1 of 4 numbers)" in msg
    assert f"`git checkout -- {path}`" in msg and "`gradgold generate --force seed/matrix_norm`" in msg


def test_tampered_digit_string(project: Project) -> None:
    def edit(d: GridData) -> GridData:
        digits = d.digits["value"].copy()
        digits[0] = "1.0" + str(digits[0])[3:]  # 1.09... -> 1.0..., the float64 still says 1.09...
        return _with(d, "digits", "value", digits)

    _tamper(project, "sine", edit)
    assert _findings(project, "sine") == [("rounding", "value", (0,))]


def test_low_certified_digits(project: Project) -> None:
    low = np.array([12], np.int16)
    _tamper(project, "sine", lambda d: _with(d, "certified", "grad/z", low))
    # 12 digits do not decide a float64 either: both rules report it.
    assert _findings(project, "sine") == [("certified", "grad/z", (0,)), ("rounding", "grad/z", (0,))]
    msg = _message(project, "sine")
    assert "only 12 digits certified, below the case's min_digits=20" in msg
    assert "raising precision= on the case or using a real Wolfram kernel" in msg


def test_more_certified_digits_than_the_precision(project: Project) -> None:
    _tamper(project, "sine", lambda d: _with(d, "certified", "value", np.array([80], np.int16)))
    assert "80 digits certified, more than the working precision 30 can give" in _message(project, "sine")


def test_stale_fingerprint(project: Project) -> None:
    case_file = project.golden_dir / "seed.py"
    case_file.write_text(
        case_file.read_text().replace('wolfram="w + Sin[2 z]"', 'wolfram="w + Sin[2 z] + 0"')
    )
    assert _findings(project, "sine") == [("fingerprint", "", ())]
    msg = _message(project, "sine")
    assert "is stale: the case's expression, points or settings changed since it was generated" in msg
    assert "; run `gradgold generate seed/sine`" in msg


def test_moved_inputs(project: Project) -> None:
    moved = np.array([1.0000000000000002])
    path = _tamper(project, "sine", lambda d: _with(d, "inputs", "w", moved))
    assert _findings(project, "sine") == [("inputs", "input/w", (0,))]
    msg = _message(project, "sine")
    assert f"{path}: case seed/sine, grid float64, input w, index (0,)" in msg
    assert "is 1.0000000000000002 where the case's point rounded to float64 is 1.0" in msg


def test_moved_float32_inputs(project: Project) -> None:
    path = project.golden_dir / "seed" / "matrix_norm.npz"
    g = read_golden(path)
    f32 = g.grids["float32"]
    w = f32.inputs["W"].copy()
    w[0, 1, 0] = 0.2  # the float64 point, not its float32 rounding
    write_golden(path, Golden(meta=g.meta, grids=dict(g.grids) | {"float32": _with(f32, "inputs", "W", w)}))
    assert _findings(project, "matrix_norm") == [("inputs", "input/W", (0, 1, 0))]


def test_metadata_disagreeing_with_the_case(project: Project) -> None:
    _tamper(project, "sine", lambda d: d, min_digits=5)
    assert _findings(project, "sine") == [("metadata", "", ())]
    assert "metadata disagrees with the case: min_digits=5 (case: 20)" in _message(project, "sine")


def test_a_stored_program_gradgold_no_longer_writes(project: Project) -> None:
    """The fingerprint covers the mathematics; the program is checked on its own (a version 2
    golden stores its hash), up to the evaluation timeout it was written with (exp_cos: a golden the
    engine wrote)."""
    (case,) = [c for c in load_cases(project) if c.id == "seed/exp_cos"]
    program = build_program(case, evaluation_points(case)[0]).text
    assert "\n  300, $Aborted]" in program
    path = project.golden_dir / "seed" / "exp_cos.npz"
    g = read_golden(path)
    engine_meta = dataclasses.replace(g.meta, evaluator=None)  # as the engine writes it
    for text in (program.replace("\n  300, $Aborted]", "\n  900, $Aborted]"), program):
        write_golden(path, Golden(meta=engine_meta.with_program(text), grids=g.grids))
        assert _findings(project, "exp_cos") == []
    write_golden(
        path,
        Golden(
            meta=engine_meta.with_program(program.replace("ggZ[ggX_] := ggX === 0", "ggZ[ggX_] := False")),
            grids=g.grids,
        ),
    )
    assert read_golden(path).meta.program is None  # only its hash is stored
    assert _findings(project, "exp_cos") == [("program", "", ())]
    assert _message(project, "exp_cos") == (
        f"{path}: case seed/exp_cos: the stored WL program is not the one this gradgold writes for the case "
        "(gradgold changed how it writes programs since the golden was generated; its numbers may still "
        "be right); run `gradgold generate --force seed/exp_cos` and review the diff"
    )


def test_a_version_1_golden_verifies_by_its_program_text(project: Project) -> None:
    """tests/data/golden-v1 holds seed/sine in format version 1 (the whole program text)."""
    seed_sine_as_in_version_1(project.root)
    project = find_project(project.root)  # the edited case file
    path = project.golden_dir / "seed" / "sine.npz"
    shutil.copy(Path(__file__).resolve().parent / "data" / "golden-v1" / "seed" / "sine.npz", path)
    assert read_golden(path).meta.program is not None
    assert _findings(project, "sine") == []


def test_missing_and_unreadable(project: Project) -> None:
    (project.golden_dir / "seed" / "sine.npz").unlink()
    (project.golden_dir / "seed" / "linear.npz").write_bytes(b"garbage")
    assert _findings(project, "sine") == [("missing", "", ())]
    missing = "is missing; run `gradgold generate seed/sine` (or `pytest --gradgold-update`)"
    assert missing in _message(project, "sine")
    assert _findings(project, "linear") == [("unreadable", "", ())]
    assert "not a readable golden file" in _message(project, "linear")


def test_agreement_counts_digits_between_two_goldens(project: Project) -> None:
    (case,) = [c for c in load_cases(project) if c.id == "seed/sine"]
    ours = read_golden(project.golden_dir / "seed" / "sine.npz")
    digits = str(ours.grids["float64"].digits["value"][0])
    changed = digits[:12] + ("1" if digits[12] != "1" else "2") + digits[13:]
    theirs = Golden(
        ours.meta, {"float64": _with(ours.grids["float64"], "digits", "value", np.array([changed]))}
    )
    result = {a.quantity: a for a in agreements(case, ours, theirs)}
    assert result["grad/w"].digits == 30 and result["grad/w"].passed
    assert 9 <= result["value"].digits <= 11 and not result["value"].passed
    assert "agree on only" in result["value"].message and "below the 20 required" in result["value"].message


def test_against_the_proof_every_certified_digit_counts(project: Project) -> None:
    """A golden certified to 30 digits whose 25th digit was edited keeps min_digits=20 of agreement
    (an engine comparison passes it) but not the digits it claims: the rigorous comparison fails."""
    (case,) = [c for c in load_cases(project) if c.id == "seed/sine"]
    ours = read_golden(project.golden_dir / "seed" / "sine.npz")
    data = ours.grids["float64"]
    digits = str(data.digits["value"][0])
    assert int(data.certified["value"][0]) == 30
    at = digits.index(".") + 25 if "." in digits[:3] else 25
    changed = digits[:at] + ("1" if digits[at] != "1" else "2") + digits[at + 1 :]
    theirs = Golden(ours.meta, {"float64": _with(data, "digits", "value", np.array([changed]))})
    assert {a.quantity: a for a in agreements(case, ours, theirs)}["value"].passed
    result = {a.quantity: a for a in agreements(case, ours, theirs, rigorous=True)}
    assert result["grad/w"].passed and result["grad/w"].required == 29
    assert not result["value"].passed and 20 <= result["value"].digits < 29
    assert (
        "below the 29 required (min_digits, or the digits both certify, less one)" in result["value"].message
    )


def _cli(project: Project, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(project.root)
    done = CliRunner().invoke(main, ["verify", *args])
    return done.exit_code, done.output


def test_cli_offline_passes_then_fails_on_a_tampered_golden(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _cli(project, monkeypatch, "--offline")
    assert code == 0, out
    assert "OK    seed/sine  (offline)" in out and "verified 4 case(s): 0 failure(s)" in out
    _tamper(project, "sine", lambda d: _with(d, "certified", "value", np.array([3], np.int16)))
    code, out = _cli(project, monkeypatch, "--offline", "seed/sine")
    assert code == 1
    assert "FAIL  seed/sine  (offline)" in out and "only 3 digits certified" in out


def test_cli_refuses_two_engines(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _cli(project, monkeypatch, "--kernel", "/x", "--embedded")
    assert code == 2 and "--kernel and --embedded both name an engine; give one of them" in out
    code, out = _cli(project, monkeypatch, "--offline", "--embedded")
    assert code == 2 and "--offline starts no engine" in out


def test_reverify_with_the_embedded_engine(project: Project) -> None:
    """Recompute two seed goldens with the embedded engine (through the CLI: an engine started in
    process leaves its kernel unreaped); a tampered digit string is caught by both passes."""
    path = project.golden_dir / "seed" / "sine.npz"
    g = read_golden(path)
    digits = str(g.grids["float64"].digits["grad/z"][0])
    bad = digits[:8] + ("1" if digits[8] != "1" else "2") + digits[9:]
    grid = _with(g.grids["float64"], "digits", "grad/z", np.array([bad]))
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    write_golden(path, Golden(g.meta, dict(g.grids) | {"float64": grid}))
    tampered = path.read_bytes()
    cmd = [GRADGOLD, "verify", "--embedded", "seed/linear", "seed/sine"]
    done = subprocess.run(cmd, cwd=project.root, capture_output=True, text=True, timeout=180, check=False)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "engine: Mathics3 (gradgold embedded engine)" in out
    assert "OK    seed/linear [float64], value, index (0,): 30 digits agree" in out
    assert "OK    seed/sine [float64], value, index (0,): 30 digits agree" in out
    assert (
        "FAIL  seed/sine [float64], grad/z, index (0,): the committed and recomputed digits agree on only"
        in out
    )
    assert path.read_bytes() == tampered  # verification never writes
    assert {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name != "sine.npz"} == {
        k: v for k, v in before.items() if k != "sine.npz"
    }


def test_cli_engine_wolfram_without_a_kernel_says_how_to_name_one(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradgold.generation.engine as engine

    monkeypatch.delenv("WOLFRAM_KERNEL", raising=False)
    monkeypatch.delenv("WOLFRAM_INSTALLATION_DIRECTORY", raising=False)
    monkeypatch.setattr(engine, "_STANDARD_KERNELS", ())
    code, out = _cli(project, monkeypatch, "--engine", "wolfram", "seed/sine")
    assert code == 2
    assert "--engine wolfram: no Wolfram kernel found; give --kernel PATH or set WOLFRAM_KERNEL" in out
