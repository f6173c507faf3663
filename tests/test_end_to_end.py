"""Generate then check, through the real CLI and the real embedded engine, on a temporary suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = """
import torch
import gradgold as gg

@gg.case(wolfram="x^3 + Sin[y]", points=[{"x": 0.5, "y": 0.1}, {"x": -2.0, "y": 3.0}])
def poly(x, y):
    return x**3 + torch.sin(y)

@gg.case(wolfram="{x^2, x y, Exp[y]}", points=[{"x": 1.5, "y": 0.25}])
def vector(x, y):
    return torch.stack([x**2, x * y, torch.exp(y)])

@gg.case(wolfram="Sqrt[x]", points=[{"x": -1.0}])
def complex_root(x):
    return torch.sqrt(x)

@gg.case(wolfram="x + q", points=[{"x": 1.0}])
def free_symbol(x):
    return x
"""


def gradgold(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WOLFRAM_KERNEL"}
    return subprocess.run(
        [sys.executable, "-m", "gradgold", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
    (root / "golden").mkdir()
    (root / "golden" / "demo.py").write_text(CASES)
    return root


@pytest.fixture(scope="module")
def first_run(suite: Path) -> subprocess.CompletedProcess[str]:
    before = gradgold(suite, "list")
    assert before.stdout.split() == [
        "missing",
        "demo/poly",
        "missing",
        "demo/vector",
        "missing",
        "demo/complex_root",
        "missing",
        "demo/free_symbol",
    ]
    return gradgold(suite, "generate", "--embedded")


def test_missing_goldens_fail_the_check_with_the_fix(suite: Path) -> None:
    fresh = suite.parent / "fresh"
    fresh.mkdir(exist_ok=True)
    (fresh / "golden").mkdir(exist_ok=True)
    (fresh / "golden" / "demo.py").write_text(CASES)
    run = gradgold(fresh, "check", "demo/poly")
    assert run.returncode == 2
    assert (
        "demo/poly: golden file" in run.stdout
        and "is missing; run `gradgold generate demo/poly`" in run.stdout
    )


def test_generate_writes_good_cases_and_reports_bad_ones(
    suite: Path, first_run: subprocess.CompletedProcess[str]
) -> None:
    out = first_run.stdout
    assert first_run.returncode == 1, out + first_run.stderr
    # poly, vector and complex_root are the rigorous evaluator's; free_symbol falls back to the engine
    assert "engine: Mathics3 (gradgold embedded engine)" in out
    assert "generated  demo/poly" in out and "generated  demo/vector" in out and "[rigorous]" in out
    assert "failed  demo/complex_root" in out and "Sqrt is not real (or not defined) at -1.0" in out
    assert "[engine: the rigorous evaluator does not implement q (a free symbol" in out
    assert "failed  demo/free_symbol" in out and "gg$x" not in out.split("free_symbol")[0]
    assert "not a real number: Plus[" in out or "not a real number: " in out.split("free_symbol")[-1]
    assert "2 generated, 0 unchanged, 0 skipped, 2 failed" in out
    assert not (suite / "golden" / "demo" / "complex_root.npz").exists()
    assert not (suite / "golden" / "demo" / "free_symbol.npz").exists()
    assert not [p for p in (suite / "golden" / "demo").iterdir() if p.name.startswith(".gradgold-tmp")]


def test_regenerating_is_byte_identical(suite: Path, first_run: subprocess.CompletedProcess[str]) -> None:
    files = sorted((suite / "golden" / "demo").glob("*.npz"))
    before = {p.name: p.read_bytes() for p in files}
    skipped = gradgold(suite, "generate", "--embedded", "demo/poly", "demo/vector")
    assert skipped.returncode == 0 and "0 generated, 0 unchanged, 2 skipped, 0 failed" in skipped.stdout
    forced = gradgold(suite, "generate", "--embedded", "--force", "demo/poly", "demo/vector")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "0 generated, 2 unchanged, 0 skipped, 0 failed" in forced.stdout
    assert {p.name: p.read_bytes() for p in files} == before


def test_check_passes_and_json_has_the_records(
    suite: Path, first_run: subprocess.CompletedProcess[str]
) -> None:
    run = gradgold(suite, "check", "demo/poly", "demo/vector")
    assert run.returncode == 0, run.stdout
    assert "PASS  demo/vector [float32-reverse]" in run.stdout and "16 passed, 0 failed" in run.stdout
    records = [
        json.loads(line) for line in gradgold(suite, "check", "demo/vector", "--jsonl").stdout.splitlines()
    ]
    assert {(r["dtype"], r["mode"], r["device"], r["quantity"]) for r in records} == {
        (d, m, "cpu", q)
        for d in ("float64", "float32")
        for m in ("reverse", "double_backward", "func", "forward")
        for q in ("value", "grad/x", "grad/y", "hessian")  # 2 scalar inputs: order 2 by default
    }
    assert all(r["passed"] and r["max_ulp_err"] is not None for r in records)


def test_show_json_holds_the_jacobian_of_a_tensor_output(
    suite: Path, first_run: subprocess.CompletedProcess[str]
) -> None:
    doc = json.loads(gradgold(suite, "show", "demo/vector", "--json").stdout)
    assert doc["wolfram"] == "{x^2, x y, Exp[y]}"
    point = doc["points"][0]
    assert point["value"][:2] == [2.25, 0.375]
    assert point["grad"]["x"] == [3.0, 0.25, 0.0] and point["grad"]["y"][:2] == [0.0, 1.5]
    assert point["certified"]["value"] >= 20


def test_show_unknown_id_suggests_the_closest(suite: Path) -> None:
    run = gradgold(suite, "show", "demo/polly")
    assert run.returncode == 2 and "unknown case id 'demo/polly'; did you mean demo/poly" in run.stderr


def test_an_edited_case_is_stale_until_regenerated(
    suite: Path, first_run: subprocess.CompletedProcess[str]
) -> None:
    edited = suite.parent / "edited"
    edited.mkdir(exist_ok=True)
    (edited / "golden").mkdir(exist_ok=True)
    (edited / "golden" / "demo.py").write_text(CASES.replace('"x^3 + Sin[y]"', '"x^3 + Sin[y] + 0"'))
    (edited / "golden" / "demo").mkdir(exist_ok=True)
    for p in (suite / "golden" / "demo").glob("*.npz"):
        (edited / "golden" / "demo" / p.name).write_bytes(p.read_bytes())
    listing = gradgold(edited, "list").stdout.split()
    assert listing[:4] == ["stale", "demo/poly", "fresh", "demo/vector"]
    run = gradgold(edited, "check", "demo/poly")
    assert run.returncode == 2
    assert "is stale: the case's expression, points or settings changed since it was generated" in run.stdout
    assert "run `gradgold generate demo/poly`" in run.stdout
    (edited / "golden" / "demo" / "gone.npz").write_bytes(b"")
    assert "orphan     demo/gone" in gradgold(edited, "list").stdout
