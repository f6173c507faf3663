"""The rigorous evaluator's magnitude pass: each element's derivative with every sum replaced by the
sum of absolute values, stored where it exceeds |ref| materially, and re-derived by verify."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flint import arb

import gradgold as gg
from conftest import gradgold_cli
from gradgold.freshness import stale_reason
from gradgold.generation.rigorous.magnitude import MATERIAL, round_up
from gradgold.generation.rigorous.reference import rigorous_golden_of
from gradgold.golden import Golden, read_golden, write_golden


def _case(wolfram: str, points: list[dict[str, Any]], **kw: Any) -> gg.Case:
    scope: dict[str, Any] = {}
    exec(f"def c({', '.join(points[0])}):\n    return 0", scope)
    return gg.case(wolfram=wolfram, points=points, dtypes=["float64"], **({"magnitudes": True} | kw))(
        scope["c"]
    )


def test_magnitudes_are_the_sums_of_absolute_terms() -> None:
    """x1^2 + x2^2 + x3^2 - 2 x1 x2 at (1, 1, 1/8), every term by hand; the Hessian, where nothing
    cancels, stores none."""
    g = rigorous_golden_of(_case("Total[x^2] - 2 x[[1]] x[[2]]", [{"x": [1.0, 1.0, 0.125]}], order=2))
    grid = g.grids["float64"]
    assert g.meta.magnitudes == ("value", "grad/x")
    assert grid.numbers["value"][0] == 0.125**2
    assert grid.magnitudes["value"][0] == math.nextafter(4.02, 5)  # 4 + 1/64 rounded up, at or above 4.02
    np.testing.assert_array_equal(grid.numbers["grad/x"][0], [0.0, 0.0, 0.25])
    np.testing.assert_array_equal(grid.magnitudes["grad/x"][0], [4.0, 4.0, 0.25])
    assert "hessian" not in grid.magnitudes


def test_a_result_without_cancellation_stores_no_magnitude() -> None:
    g = rigorous_golden_of(_case("Exp[x] Sin[y] + x^2", [{"x": 0.5, "y": 1.25}], order=2))
    assert not g.meta.magnitudes and not g.grids["float64"].magnitudes


def test_only_a_case_that_asks_stores_magnitudes() -> None:
    """The majorant follows the sums of the wolfram= text: x - Tanh[x] at small x cancels in the
    formula, which torch should avoid (activations/tanhshrink-small records that bug), so a case
    gets magnitudes only with magnitudes=True (and its fingerprint says so)."""
    plain = _case("x - Tanh[x]", [{"x": 1e-3}], magnitudes=False)
    assert not rigorous_golden_of(plain).grids["float64"].magnitudes
    asked = _case("x - Tanh[x]", [{"x": 1e-3}])
    assert rigorous_golden_of(asked).meta.magnitudes == ("value", "grad/x")
    assert asked.fingerprint() != plain.fingerprint()


def test_a_golden_with_magnitudes_the_case_does_not_ask_for_is_stale() -> None:
    """Magnitudes widen allowances, so only the case file may ask for them: a golden that holds
    them for a case without magnitudes=True (edited, or made before the case dropped them) is
    stale, whatever its fingerprint says."""
    asked = _case("x - Tanh[x]", [{"x": 1e-3}])
    plain = _case("x - Tanh[x]", [{"x": 1e-3}], magnitudes=False)
    golden = rigorous_golden_of(asked)
    forged = dataclasses.replace(
        golden, meta=dataclasses.replace(golden.meta, fingerprint=plain.fingerprint())
    )
    assert stale_reason(asked, rigorous_golden_of(asked)) == ""
    reason = stale_reason(plain, forged)
    assert reason.startswith(
        "it holds magnitudes of terms, which widen the allowances, but the case does not "
    )


def test_a_softmax_gradient_stores_the_magnitude_of_its_terms() -> None:
    """The label-smoothed cross entropy's gradient softmax - target cancels: its magnitude is about
    softmax + target, far above |ref|, and never below it."""
    lse = "Log[Total[Exp[x]]]"
    c = _case(f"(9/10) (-x[[3]] + {lse}) + (1/10) Total[{lse} - x]/4", [{"x": [0.5, -1.0, 7.0, 0.25]}])
    grid = rigorous_golden_of(c).grids["float64"]
    ref, mag = grid.numbers["grad/x"][0], grid.magnitudes["grad/x"][0]
    assert np.all(mag >= np.abs(ref))
    assert mag[2] > MATERIAL * abs(ref[2])  # 0.072 out of terms of about 1.93
    assert mag[2] == pytest.approx(0.9 + 0.1 + 2 * 0.1 / 4 + 0.9 * 0.996, rel=2e-2)


def test_a_magnitude_is_rounded_up_to_three_digits() -> None:
    assert round_up(arb("0.12341")) == math.nextafter(0.124, 1)  # the float64 at or above 0.124
    assert round_up(arb(2)) == 2.0 and round_up(arb("0.125")) == 0.125
    assert round_up(arb("0.1")) >= 0.1 and round_up(arb("-0.5")) == 0.0


def test_where_the_pass_cannot_be_made_the_case_stores_none() -> None:
    """A removable singularity (Sin[x]/x at 0) has no majorant expansion: no magnitude, never a wrong one."""
    g = rigorous_golden_of(_case("Sin[x]/x - Cos[x]", [{"x": 0.0}, {"x": 0.5}]))
    assert g.grids["float64"].numbers["value"][0] == 0.0
    assert not g.grids["float64"].magnitudes


def test_verify_rigorous_fails_an_inflated_magnitude(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "m.py").write_text(
        "import gradgold as gg\n\n"
        '@gg.case(wolfram="w + Sin[2 z]", points=[{"w": 1.0, "z": 2.0}], dtypes=["float64"],\n'
        "    magnitudes=True)\n"
        "def sine(w, z):\n    import torch\n    return w + torch.sin(2 * z)\n"
    )
    assert gradgold_cli(tmp_path, "generate", timeout=300).returncode == 0
    path = tmp_path / "golden" / "m" / "sine.npz"
    g = read_golden(path)
    data = g.grids["float64"]
    assert g.meta.magnitudes == ("value",)  # 1 + |sin 4| = 1.76 against 0.243
    assert data.magnitudes["value"][0] == 1.76
    forged = type(data)(
        data.inputs, data.numbers, data.digits, data.certified, {"value": data.magnitudes["value"] * 1.5}
    )
    write_golden(path, Golden(meta=g.meta, grids={"float64": forged}, directions=g.directions))
    run = gradgold_cli(tmp_path, "verify", "--rigorous", timeout=300)
    assert run.returncode == 1, run.stdout
    assert (
        "magnitude/value, index (0,): the committed magnitude of terms 2.64 is above the recomputed one "
        "1.76 by more than its rounding" in run.stdout
    ), run.stdout
