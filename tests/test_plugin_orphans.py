"""Orphan goldens: reported by a full run only, never by a narrowed one; ``--gradgold-orphans``."""

from __future__ import annotations

import shutil

import pytest

ORPHAN_LINES = [
    "*= gradgold: orphan goldens =*",
    "golden/demo/gone.npz: no case defines demo/gone (deleted or renamed?)",
]


@pytest.fixture
def orphaned(demo: pytest.Pytester) -> pytest.Pytester:
    """The demo project plus ``golden/demo/gone.npz``, whose case does not exist."""
    shutil.copy(demo.path / "golden" / "demo" / "sine.npz", demo.path / "golden" / "demo" / "gone.npz")
    return demo


def test_a_full_run_warns_about_orphans(orphaned: pytest.Pytester) -> None:
    run = orphaned.runpytest("golden")
    run.assert_outcomes(passed=16)
    assert run.ret == pytest.ExitCode.OK
    run.stdout.fnmatch_lines(
        [
            *ORPHAN_LINES,
            "1 orphan golden(s), not a failure; delete them with `gradgold prune` (`gradgold prune "
            "--dry-run` lists them first)",
        ]
    )


def test_orphans_fail_the_run_when_asked(orphaned: pytest.Pytester) -> None:
    run = orphaned.runpytest("golden", "--gradgold-orphans=fail")
    run.assert_outcomes(passed=16)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(
        [
            *ORPHAN_LINES,
            "1 orphan golden(s), this fails the run (--gradgold-orphans=fail); delete them with "
            "`gradgold prune` (`gradgold prune --dry-run` lists them first)",
        ]
    )


@pytest.mark.parametrize(
    "narrowing",
    [
        ["-k", "sine"],
        ["-m", "not gradgold"],
        ["golden/demo.py::sine[float64-reverse]"],
        ["--deselect", "golden/demo.py::product[float32-func]"],
    ],
    ids=["-k", "-m", "node id", "--deselect"],
)
def test_a_narrowed_run_does_not_report_orphans(orphaned: pytest.Pytester, narrowing: list[str]) -> None:
    args = narrowing if narrowing[0].startswith("golden/") else ["golden", *narrowing]
    run = orphaned.runpytest(*args, "--gradgold-orphans=fail")
    assert run.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    run.stdout.no_fnmatch_line("*orphan golden*")


def test_a_last_failed_run_does_not_report_orphans(orphaned: pytest.Pytester) -> None:
    case_file = orphaned.path / "golden" / "demo.py"
    case_file.write_text(case_file.read_text().replace("w * z**2", "w * z**2 + 1"))
    args = ["golden"]
    orphaned.runpytest(*args).assert_outcomes(failed=8, passed=8)
    run = orphaned.runpytest(*args, "--lf")
    run.assert_outcomes(failed=8)
    run.stdout.no_fnmatch_line("*orphan golden*")


def test_a_run_without_the_golden_dir_does_not_report_orphans(orphaned: pytest.Pytester) -> None:
    orphaned.makepyfile(test_other="def test_one():\n    pass\n")
    run = orphaned.runpytest("test_other.py", "--gradgold-orphans=fail")
    run.assert_outcomes(passed=1)
    run.stdout.no_fnmatch_line("*orphan golden*")


def test_a_suite_directory_linked_out_fails_a_full_run(
    demo: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue #15: the orphan search never follows a link out of golden/, and says so."""
    target = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(demo.path / "golden" / "demo" / "sine.npz", target / "precious.npz")
    (demo.path / "golden" / "cache").symlink_to(target)
    run = demo.runpytest("golden")
    run.assert_outcomes(passed=16)
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    run.stdout.fnmatch_lines(
        [
            "*= gradgold: golden directory =*",
            f"*golden/cache is a symbolic link to {target}, outside the golden directory*",
        ]
    )
    assert (target / "precious.npz").exists()
