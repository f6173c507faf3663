"""The tolerance rule: ULPs of the dtype scaled by conditioning taken from the golden itself."""

from __future__ import annotations

import math

import numpy as np

from conftest_goldens import make_case, make_golden
from gradgold.check import check_golden
from gradgold.compare import compare, compare_exact
from gradgold.tolerance import eps_of


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


def test_every_grid_and_complex_dtype_has_the_rules_numbers() -> None:
    from gradgold.cases import DTYPE_NAMES
    from gradgold.tolerance import tolerance_of

    for dtype in DTYPE_NAMES:
        t = tolerance_of(dtype)
        assert 0 < t.tiny < t.eps < 1 and t.rtol_ulps > 0 and t.atol_ulps > 0
    assert tolerance_of("complex64") == tolerance_of("float32")


def test_conditioning_comes_from_the_next_order_split_by_parameter() -> None:
    from gradgold.tolerance import conditioning

    x = np.array([2.0, -1.0, 3.0])  # w (2,), z scalar
    shapes = {"w": (2,), "z": ()}
    numbers = {
        "value": np.array(5.0),
        "grad/w": np.array([1.0, -2.0]),
        "grad/z": np.array(4.0),
        "hessian": np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0], [-1.0, 0.0, 3.0]]),
    }
    assert conditioning("value", x, numbers, shapes) == 2 * 1 + 1 * 2 + 3 * 4
    np.testing.assert_array_equal(conditioning("grad/w", x, numbers, shapes), [2 + 3, 2])
    np.testing.assert_array_equal(conditioning("grad/z", x, numbers, shapes), 2 + 9)
    assert conditioning("hessian", x, numbers, shapes) is None  # the highest stored order
    without = {k: v for k, v in numbers.items() if k != "grad/z"}
    assert conditioning("value", x, without, shapes) is None  # an incomplete Jacobian


def test_a_normwise_magnitude_is_the_largest_element_and_a_stored_one_wins() -> None:
    from gradgold.tolerance import magnitude

    ref = np.array([1e-9, -3.0])
    assert magnitude(None, ref, normwise=False) is None
    np.testing.assert_array_equal(magnitude(None, ref, normwise=True), [3.0, 3.0])
    np.testing.assert_array_equal(magnitude(np.array([1.0, 4.0]), ref, normwise=True), [1.0, 4.0])


def test_the_readme_and_the_report_quote_the_tolerance_table() -> None:
    """The numbers people read are the numbers the checker uses (one table, no copies)."""
    from pathlib import Path

    from gradgold.report import _tolerance_lines
    from gradgold.tolerance import TOLERANCES

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    wide, narrow = TOLERANCES["float64"], TOLERANCES["float16"]
    assert TOLERANCES["float32"].rtol_ulps == wide.rtol_ulps
    assert f"R = {wide.rtol_ulps:g}, A = {wide.atol_ulps:g} for float64/float32" in readme
    assert f"R = {narrow.rtol_ulps:g}, A = {narrow.atol_ulps:g} for" in readme
    assert TOLERANCES["bfloat16"].rtol_ulps == narrow.rtol_ulps
    text = " ".join(_tolerance_lines())
    assert (
        f"within {wide.rtol_ulps:g} ULPs" in text and f"{narrow.rtol_ulps:g} and {narrow.atol_ulps:g}" in text
    )
