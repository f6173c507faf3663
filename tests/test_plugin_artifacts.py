"""``--gradgold-artifacts DIR`` and ``CI``: what torch obtained in failed checks, kept for upload."""

from __future__ import annotations

import json

import numpy as np
import pytest


def _break_product(demo: pytest.Pytester) -> None:
    case_file = demo.path / "golden" / "demo.py"
    case_file.write_text(case_file.read_text().replace("w * z**2", "w * z.detach() ** 2"))


def test_failed_checks_leave_npz_and_text(demo: pytest.Pytester) -> None:
    _break_product(demo)
    run = demo.runpytest("golden", "--gradgold-artifacts", "out")
    run.assert_outcomes(failed=8, passed=8)
    run.stdout.fnmatch_lines(
        [
            "*= gradgold: artifacts =*",
            f"obtained results of 8 failed golden check(s) written to {demo.path / 'out'}; upload that "
            "directory from CI to inspect them",
        ]
    )
    assert sorted(p.name for p in (demo.path / "out" / "demo").iterdir()) == sorted(
        f"product.{d}-{m}.{ext}"
        for d in ("float32", "float64")
        for m in ("reverse", "double_backward", "func", "forward")
        for ext in ("npz", "txt")
    )
    with np.load(demo.path / "out" / "demo" / "product.float64-reverse.npz", allow_pickle=False) as npz:
        assert json.loads(str(npz["metadata"])) == {
            "dtype": "float64",
            "mode": "reverse",
            "device": "cpu",
            "id": "demo/product",
            "implementation": "the case's own function",
        }
        np.testing.assert_array_equal(npz["input/z"], [3.0, -1.0])
        np.testing.assert_array_equal(npz["expected/grad/z"], [3.0, -4.0])
        np.testing.assert_array_equal(npz["obtained/grad/z"], [0.0, 0.0])
        np.testing.assert_array_equal(npz["obtained/value"], [4.5, 2.0])
        np.testing.assert_array_equal(npz["failed/grad/z"], [True, True])
        np.testing.assert_array_equal(npz["failed/value"], [False, False])
    text = (demo.path / "out" / "demo" / "product.float64-reverse.txt").read_text()
    assert text.startswith(
        "demo/product [float64-reverse], point 0, d/dz: torch and the exact reference are not close!"
    )
    with np.load(demo.path / "out" / "demo" / "product.float64-forward.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["obtained/grad/z"], [0.0, 0.0])  # computed in forward mode


def test_ci_writes_to_the_default_directory(demo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _break_product(demo)
    monkeypatch.setenv("CI", "true")
    demo.runpytest("golden").assert_outcomes(failed=8, passed=8)
    assert (demo.path / "gradgold-artifacts" / "demo" / "product.float32-reverse.npz").is_file()


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_ci_off_values_write_nothing(
    demo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    _break_product(demo)
    monkeypatch.setenv("CI", value)
    run = demo.runpytest("golden")
    run.assert_outcomes(failed=8, passed=8)
    run.stdout.no_fnmatch_line("*artifacts*")
    assert not (demo.path / "gradgold-artifacts").exists()


def test_passing_runs_write_nothing(demo: pytest.Pytester) -> None:
    demo.runpytest("golden", "--gradgold-artifacts", "out").assert_outcomes(passed=16)
    assert not (demo.path / "out").exists()
