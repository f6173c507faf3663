"""Low-precision dtypes: bfloat16 grids without numpy support, and checks in float16 and bfloat16
against references for the inputs as those dtypes represent them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest_goldens import make_case, make_golden
from gradgold.check import check_golden
from gradgold.errors import CheckError
from gradgold.exact import GRID_NAMES, round_to_grid

MODES = ("reverse", "double_backward", "func", "forward")


def test_bfloat16_rounding_is_correct_and_ties_go_to_even() -> None:
    assert "bfloat16" in GRID_NAMES
    x = np.array([0.2, 1 + 2.0**-8, 1 + 3 * 2.0**-8, -3.0e38, 1e-41, 0.0, np.inf])
    assert np.array_equal(
        round_to_grid(x, "bfloat16"), torch.from_numpy(x).to(torch.bfloat16).double().numpy()
    )
    assert round_to_grid(x, "bfloat16")[1:3].tolist() == [1.0, 1 + 2.0**-6]  # ties to even
    # Where float32 lands on a bfloat16 tie, the exact value decides (torch's own cast rounds twice).
    above_tie = np.array([1 + 2.0**-8 + 2.0**-40])
    assert round_to_grid(above_tie, "bfloat16").tolist() == [1 + 2.0**-7]
    rng = np.random.default_rng(0)
    many = rng.standard_normal(20000) * 10.0 ** rng.integers(-30, 30, 20000)
    mine = round_to_grid(many, "bfloat16")
    assert np.array_equal(torch.from_numpy(mine).to(torch.bfloat16).double().numpy(), mine)
    assert np.mean(mine == torch.from_numpy(many).to(torch.bfloat16).double().numpy()) > 0.999


def expsin(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.exp(x) * torch.sin(y)


@pytest.mark.parametrize(("dtype", "error"), [("float16", 0.02), ("bfloat16", 0.2)])
def test_low_precision_passes_every_mode_and_catches_a_wrong_gradient(dtype: str, error: float) -> None:
    x, y = 0.5, 1.25  # exact in both dtypes: the float64 grid serves them
    case = make_case(expsin, [{"x": x, "y": y}], dtypes=(dtype,))
    numbers = {
        "value": [math.exp(x) * math.sin(y)],
        "grad/x": [math.exp(x) * math.sin(y)],
        "grad/y": [math.exp(x) * math.cos(y)],
    }
    golden = make_golden(case, numbers)
    for mode in MODES:
        results = check_golden(case, golden, dtype, mode=mode)
        assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    wrong = make_golden(case, dict(numbers, **{"grad/y": [math.exp(x) * math.cos(y) * (1 + error)]}))
    failed = [r for r in check_golden(case, wrong, dtype) if not r.passed]
    assert [r.quantity for r in failed] == ["grad/y"]
    assert failed[0].message.startswith(f"expsin [{dtype}-reverse], point 0, d/dy: torch and the exact")


def test_the_dtype_grid_is_used_and_its_absence_named() -> None:
    case = make_case(expsin, [{"x": 0.1, "y": 1.0}], dtypes=("float16",))
    with pytest.raises(
        CheckError, match="input x is not exactly representable in float16 and the golden holds no"
    ):
        check_golden(case, make_golden(case, {"value": [0.0], "grad/x": [0.0], "grad/y": [0.0]}), "float16")
    x16 = float(round_to_grid(np.array(0.1), "float16"))
    numbers = {"value": [math.exp(x16) * math.sin(1.0)], "grad/x": [math.exp(x16) * math.sin(1.0)]}
    numbers["grad/y"] = [math.exp(x16) * math.cos(1.0)]
    golden = make_golden(case, numbers, grid="float16", inputs={"x": [x16], "y": [1.0]})
    assert all(r.passed for r in check_golden(case, golden, "float16"))
