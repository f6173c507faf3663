"""The tolerance rule: ULPs of the dtype scaled by conditioning taken from the golden itself."""

from __future__ import annotations

import math

import numpy as np

from conftest_goldens import make_case, make_golden
from gradgold.check import check_golden
from gradgold.compare import compare, compare_exact, eps_of


def test_conditioning_widens_only_where_the_function_is_ill_conditioned() -> None:
    ref = np.array([1e-8])
    got = ref + 1e-8 * 2**-40  # relative 1e-12 off: far beyond 64 ULPs of float64 ...
    assert not compare(got, ref, "float64").passed
    # ... but not beyond what x * f'(x) allows when the value comes from cancelling O(1) terms.
    assert compare(got, ref, "float64", cond=np.array([1.0])).passed
    assert not compare(ref * (1 + 1e-10), ref, "float64", cond=np.array([1e-8])).passed


def test_the_value_of_a_cancellation_uses_its_gradient() -> None:
    """sin(x) near pi in float32: the exact sine at the float32 point is tiny, torch's float32 result
    carries an error relative to |x cos x| ~ 3, not to |sin x|."""

    def sine(x):  # type: ignore[no-untyped-def]
        import torch

        return torch.sin(x)

    x = float(np.float32(math.pi))
    case = make_case(sine, [{"x": x}], dtypes=("float32",))
    golden = make_golden(case, {"value": [math.sin(x)], "grad/x": [math.cos(x)]})
    assert all(r.passed for r in check_golden(case, golden, "float32"))


def test_exact_comparison_treats_nan_as_equal_and_nothing_else() -> None:
    assert compare_exact(np.array([np.nan, 0.0]), np.array([np.nan, 0.0])).passed
    bad = compare_exact(np.array([0.0, -np.inf]), np.array([np.nan, np.inf]))
    assert not bad.passed and bad.mismatched == 2


def test_allowance_in_ulps_is_the_same_across_dtypes() -> None:
    for dtype in ("float64", "float32", "float16", "bfloat16"):
        eps = eps_of(dtype)
        ref = np.array([1.0, 2.0])
        assert compare(ref * (1 + 8 * eps), ref, dtype).passed
        assert not compare(ref * (1 + 200 * eps), ref, dtype).passed
