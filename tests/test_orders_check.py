"""Higher orders and projections on the checker side, against in-memory goldens of exact values.

``sinc''(0)`` is the sharpest case: torch 2.13 gives NaN by double backward and 0 by torch.func and
nested jvp; the truth is -pi^2/3 for ``torch.sinc(x) = sin(pi x) / (pi x)``.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest
import torch

from conftest_goldens import make_case, make_golden, set_attr
from gradgold.check import check_golden

MODES = ("reverse", "double_backward", "func", "forward")


def sinc(x: torch.Tensor) -> torch.Tensor:
    return torch.sinc(x)


def _sinc_derivatives(x: float, k: int) -> float:
    return float(mpmath.diff(lambda t: mpmath.sinc(mpmath.pi * t), x, k))


@pytest.fixture(scope="module")
def sinc_golden() -> tuple[Any, Any]:
    xs = [0.0, 0.5, 0.75]
    case = make_case(sinc, [{"x": x} for x in xs])
    numbers = {
        "value": [_sinc_derivatives(x, 0) for x in xs],
        "grad/x": [_sinc_derivatives(x, 1) for x in xs],
        "hessian": [[[_sinc_derivatives(x, 2)]] for x in xs],
    }
    return case, make_golden(case, numbers, order=2)


def test_sinc_second_derivative_at_zero_is_wrong_in_every_mode(sinc_golden: tuple[Any, Any]) -> None:
    case, golden = sinc_golden
    assert golden.grids["float64"].numbers["hessian"][0, 0, 0] == pytest.approx(-(math.pi**2) / 3, rel=1e-15)
    for mode in MODES:
        by = {(r.point, r.quantity): r for r in check_golden(case, golden, "float64", mode=mode)}
        assert all(by[(i, q)].passed for i in (1, 2) for q in ("value", "grad/x", "hessian")), mode
        assert by[(0, "value")].passed and by[(0, "grad/x")].passed
        bad = by[(0, "hessian")]
        assert not bad.passed, mode
        assert bad.message.startswith(f"sinc [float64-{mode}], point 0, Hessian: torch and the exact")
        assert "Variables (derivative indices): 0=x" in bad.message
    reverse = {r.quantity: r for r in check_golden(case, golden, "float64", mode="reverse") if r.point == 0}
    assert "nan" in reverse["hessian"].message  # double backward: NaN; torch.func: 0


def test_a_declared_nan_at_a_singular_point_is_compared_exactly(sinc_golden: tuple[Any, Any]) -> None:
    case, golden = sinc_golden
    set_attr(case, expect={0: {"hessian": "nan"}})
    try:
        reverse = check_golden(case, golden, "float64", mode="reverse")
        assert all(r.passed for r in reverse)
        func = [r for r in check_golden(case, golden, "float64", mode="func") if not r.passed]
        assert [(r.point, r.quantity) for r in func] == [(0, "hessian")]
        assert "torch does not give the declared result!" in func[0].message
        assert "fix the case's expect= entry for point 0, 'hessian'" in func[0].message
    finally:
        set_attr(case, expect=None)


def _wz(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return w * torch.sin(z) + w**3


def test_third_and_fourth_derivatives_of_two_variables() -> None:
    w, z = 0.75, 1.25
    case = make_case(_wz, [{"w": w, "z": z}], name="wz")
    s, c = math.sin(z), math.cos(z)
    d3 = np.zeros((2, 2, 2))
    d3[0, 0, 0] = 6.0
    d3[0, 1, 1] = d3[1, 0, 1] = d3[1, 1, 0] = -s
    d3[1, 1, 1] = -w * c
    d4 = np.zeros((2, 2, 2, 2))
    for idx in [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)]:
        d4[idx] = -c
    d4[1, 1, 1, 1] = w * s
    numbers = {
        "value": [w * s + w**3],
        "grad/w": [s + 3 * w**2],
        "grad/z": [w * c],
        "hessian": [[[6 * w, c], [c, -w * s]]],
        "d3": [d3],
        "d4": [d4],
    }
    golden = make_golden(case, numbers, order=4)
    for mode in MODES:
        results = check_golden(case, golden, "float64", mode=mode)
        assert [r.quantity for r in results] == ["value", "grad/w", "grad/z", "hessian", "d3", "d4"]
        assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    wrong = dict(numbers, d4=[d4 * (1 + 1e-9)])
    results = check_golden(case, make_golden(case, wrong, order=4), "float64", mode="forward")
    assert [r.quantity for r in results if not r.passed] == ["d4"]


def _cubes(x: torch.Tensor) -> torch.Tensor:
    return (x**3).sum()


def test_projections_without_a_full_jacobian() -> None:
    x = np.array([0.5, -1.25, 2.0, 0.375, -0.75])
    v = np.array([[1.0, 0.5, -0.25, 0.0, 2.0], [0.0, 1.0, 0.0, -1.0, 0.125]])
    case = make_case(_cubes, [{"x": x}], name="cubes")
    numbers = {
        "value": [float((x**3).sum())],
        "proj/grad": [(3 * x**2) @ v.T],
        "proj/hess": [(6 * x * v**2).sum(-1)],
    }
    golden = make_golden(case, numbers, directions=v, order=2)
    for mode in MODES:
        results = check_golden(case, golden, "float64", mode=mode)
        assert [r.quantity for r in results] == ["value", "proj/grad", "proj/hess"]
        assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    off = make_golden(
        case, dict(numbers, **{"proj/hess": [(6 * x * v**2).sum(-1) * (1 + 1e-10)]}), directions=v
    )
    failed = [r for r in check_golden(case, off, "float64", mode="reverse") if not r.passed]
    assert [r.quantity for r in failed] == ["proj/hess"]
    assert (
        "v'Hv along the golden's directions: torch and the exact reference are not close!"
        in failed[0].message
    )


def test_projections_without_directions_are_refused() -> None:
    from gradgold.errors import CheckError

    case = make_case(_cubes, [{"x": np.array([1.0, 2.0])}], name="cubes")
    golden = make_golden(case, {"value": [9.0], "proj/grad": [[3.0]]})
    with pytest.raises(CheckError, match="holds projections but no directions; regenerate it with"):
        check_golden(case, golden, "float64")


def test_an_unknown_quantity_is_refused_not_ignored() -> None:
    from gradgold.errors import CheckError

    case = make_case(_cubes, [{"x": np.array([1.0, 2.0])}], name="cubes")
    golden = make_golden(case, {"value": [9.0], "d5": [0.0]})
    with pytest.raises(CheckError, match="holds 'd5', which this gradgold cannot check; upgrade gradgold"):
        check_golden(case, golden, "float64")


def sum_sq(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum()


@pytest.mark.parametrize("mode", ["reverse", "double_backward", "func"])
def test_a_correct_float32_gradient_of_many_inputs_passes_its_projections(mode: str) -> None:
    """The checker's own sum <g, v> over 10^5 inputs runs in float64: summed in float32 it added an
    error above the tolerance and a correct gradient failed (bench/PROJECTIONS.md found it)."""
    from fractions import Fraction

    import gradgold as gg

    n = 100_000
    case = make_case(sum_sq, gg.uniform(-1, 1, shapes={"x": (n,)}, n=1, seed=1), projections=4)
    x, v = case.points[0]["x"], case.directions()
    xs = [Fraction(float(t)) for t in x]
    proj = [
        float(sum((2 * a * Fraction(float(b)) for a, b in zip(xs, row, strict=True)), Fraction(0)))
        for row in v
    ]
    value = float(sum((t * t for t in xs), Fraction(0)))
    golden = make_golden(case, {"value": [value], "proj/grad": [proj]}, directions=v)
    results = check_golden(case, golden, "float32", mode=mode)
    assert [r.quantity for r in results] == ["value", "proj/grad"]
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
