"""Cases for code you did not write (issue #17), end to end with the real CLI and the embedded
engine: torch's own functions with underscore parameter names and decimal constants, no wrapper;
decimals as exact as the fraction they name; strict JSON from every ``--json``. Generation runs
the real command; check, verify --offline and show run in this process (``gradgold_here``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import PYPROJECT, gradgold_here
from gradgold.generation.generate import evaluation_points
from gradgold.generation.wlprogram import build_program
from gradgold.golden import program_sha256
from gradgold.suite import find_project, load_cases

CASES = """\
import torch
import torch.nn.functional as F

import gradgold as gg

# torch's own functions, no wrapper. A builtin has no signature: its parameter names come from
# the points, in order; attn_mask is written attnMask in wolfram= (camelCase).
gg.case(
    wolfram="Map[Exp[#]/Total[Exp[#]] &, query . Transpose[key] + attnMask] . value",
    points=[
        {
            "query": [[0.5]],
            "key": [[0.75], [-1.0]],
            "value": [[1.5], [0.25]],
            "attn_mask": [[0.0, -0.5]],
        }
    ],
    name="attention",
)(F.scaled_dot_product_attention)

# 0.5 and 0.01 are the exact 1/2 and 1/100 (no machine numbers); parameters with defaults (full,
# eps, reduction; negative_slope) keep them
gg.case(
    wolfram="Total[0.5 (Log[var] + (input - target)^2/var)]/2",
    points=[{"input": [0.5, -1.25], "target": [0.25, 0.75], "var": [2.0, 0.5]}],
    name="gaussian_nll",
)(F.gaussian_nll_loss)
gg.case(
    wolfram="Piecewise[{{input, input > 0}}, 0.01 input]",
    points=[{"input": 0.75}, {"input": -1.5}],
    name="leaky_relu",
)(F.leaky_relu)

# the README's recipe for an intentional eps: the reference adds the same eps as the code
gg.case(
    wolfram="x/Sqrt[Total[x^2]/3 + 1.*^-6]",
    points=[{"x": [0.5, -0.25, 1e-3]}],
    name="rms_norm",
)(lambda x: F.rms_norm(x, (3,), eps=1e-6))

# builtins have no signature: parameter names come from the points
gg.case(wolfram="x Log[y]", points=[{"x": 0.5, "y": 2.0}], name="xlogy")(torch.special.xlogy)
gg.case(wolfram="Exp[x]", points=[{"x": 0.5}], name="exp")(torch.exp)


def srgb(c):
    return ((c + 0.055) / 1.055) ** 2.4


# strategy="symbolic": the engine's WL program (the rigorous evaluator parses decimals itself)
pts = [{"c": 0.5}, {"c": 0.75}]
gg.case(wolfram="((c + 0.055)/1.055)^2.4", points=pts, name="srgb_decimal", strategy="symbolic")(srgb)
rational = "((c + 11/200)/(211/200))^(12/5)"
gg.case(wolfram=rational, points=pts, name="srgb_rational", strategy="symbolic")(srgb)
"""

BROKEN = """\
import torch

import gradgold as gg


@gg.case(wolfram="{x, 0}", points=[{"x": 0.5}], dtypes=["float64"], modes=["reverse"])
def zero_entry(x):  # an infinite relative error: the reference is 0, torch is not
    return torch.stack([x, x * 1e-3])


@gg.case(wolfram="x^2", points=[{"x": 0.5}], dtypes=["float64"], modes=["reverse"])
def not_a_number(x):
    return x * float("nan")


@gg.case(wolfram="N[Sqrt[x]]", points=[{"x": 0.5}])
def machine(x):
    return torch.sqrt(x)
"""


def _reject(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def strict(text: str) -> Any:
    """``text`` parsed as strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` are refused."""
    return json.loads(text, parse_constant=_reject)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A project with the cases above, generated once by ``gradgold generate --embedded --json``."""
    root = tmp_path_factory.mktemp("thirdparty")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "golden").mkdir()
    (root / "golden" / "lib.py").write_text(CASES)
    (root / "golden" / "broken.py").write_text(BROKEN)
    run = subprocess.run(
        [sys.executable, "-m", "gradgold", "generate", "--embedded", "-j", "2", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return root, run


def test_third_party_functions_generate_and_check_without_wrappers(project: Any) -> None:
    root, run = project
    doc = strict(run.stdout)
    status = {c["case_id"]: c["status"] for c in doc["cases"]}
    lib = {k: v for k, v in status.items() if k.startswith("lib/")}
    assert set(lib.values()) == {"generated"}, run.stdout + run.stderr
    check = gradgold_here(root, "check", "lib")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "PASS  lib/attention [float32-forward]" in check.stdout
    assert "PASS  lib/gaussian_nll [float64-reverse]" in check.stdout
    assert "PASS  lib/rms_norm [float32-reverse]" in check.stdout
    assert "PASS  lib/leaky_relu [float64-reverse]" in check.stdout
    assert "PASS  lib/xlogy [float64-double_backward]" in check.stdout
    verified = gradgold_here(root, "verify", "--offline", "lib")
    assert verified.returncode == 0 and "verified 8 case(s): 0 failure(s)" in verified.stdout, verified.stdout


def test_decimal_literals_give_the_same_golden_as_the_fraction(project: Any) -> None:
    root, _ = project
    with (
        np.load(root / "golden" / "lib" / "srgb_decimal.npz") as a,
        np.load(root / "golden" / "lib" / "srgb_rational.npz") as b,
    ):
        keys = sorted(k for k in a.files if k != "metadata")
        assert keys == sorted(k for k in b.files if k != "metadata") and "float64/value" in keys
        for k in keys:
            assert a[k].tobytes() == b[k].tobytes(), k
        stored = json.loads(a["metadata"].tobytes().decode("utf-8"))["program_sha256"]
    # the golden records (as its hash) a program that holds the fraction: the decimals were
    # converted before any engine saw them
    (case,) = [c for c in load_cases(find_project(root)) if c.id == "lib/srgb_decimal"]
    program = build_program(case, evaluation_points(case)[0]).text
    assert "Hold[((c + (11/200))/(211/200))^(12/5)]" in program
    assert stored == program_sha256(program)


def test_a_machine_number_is_named_when_precision_is_lost(project: Any) -> None:
    _, run = project
    (machine,) = [c for c in strict(run.stdout)["cases"] if c["case_id"] == "broken/machine"]
    assert machine["status"] == "failed"
    assert (
        "machine-precision number 0.7071067811865476; the machine number comes from N[Sqrt[x]] in "
        in (machine["reason"])
    )


def test_show_says_how_parameters_are_written_in_wolfram(project: Any) -> None:
    root, _ = project
    shown = gradgold_here(root, "show", "lib/attention")
    assert "parameters written differently in wolfram=: attn_mask is attnMask" in shown.stdout
    doc = strict(gradgold_here(root, "show", "lib/attention", "--json").stdout)
    assert doc["wl_names"] == {"query": "query", "key": "key", "value": "value", "attn_mask": "attnMask"}


def test_every_json_output_is_strict_json(project: Any) -> None:
    root, run = project
    strict(run.stdout)  # generate --json
    strict(gradgold_here(root, "show", "broken/zero_entry", "--json").stdout)
    checked = gradgold_here(root, "check", "broken/zero_entry", "broken/not_a_number", "--json")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    doc = strict(checked.stdout)
    assert doc["counts"] == {"checks": 2, "failed": 2, "passed": 0, "xfailed": 0, "skipped": 0}
    values = {r["id"]: r for r in doc["records"] if r["quantity"] == "value"}
    assert values["broken/zero_entry"]["max_rel_err"] == "inf"
    assert values["broken/not_a_number"]["max_abs_err"] == "nan"
    lines = gradgold_here(root, "check", "broken/zero_entry", "broken/not_a_number", "--jsonl").stdout
    assert [strict(line) for line in lines.splitlines()] == doc["records"]
    both = gradgold_here(root, "check", "--json", "--jsonl")
    assert both.returncode == 2 and "--json prints one JSON document and --jsonl JSON Lines" in both.stderr
