"""Tolerances in ULPs and torch.testing-style mismatch reports."""

from __future__ import annotations

import numpy as np

from gradgold.compare import compare
from gradgold.tolerance import ulps


def test_ulps_of_the_checked_dtype() -> None:
    assert ulps(np.array([2.0**-52]), np.array([1.0]), "float64").tolist() == [1.0]
    assert ulps(np.array([2.0**-23]), np.array([1.0]), "float32").tolist() == [1.0]
    assert ulps(np.array([2.0**-22]), np.array([3.0]), "float32").tolist() == [1.0]
    assert ulps(np.array([0.0]), np.array([0.0]), "float64").tolist() == [0.0]


def test_a_few_ulps_pass_and_a_relative_error_fails() -> None:
    ref = np.array([1.0, -2.0, 3.0])
    assert compare(ref * (1 + 8 * 2.0**-52), ref, "float64").passed
    result = compare(ref * (1 + 1e-9), ref, "float64")
    assert not result.passed and result.mismatched == 3 and result.n == 3
    assert result.max_rel_err == np.float64(1e-9) or abs(result.max_rel_err - 1e-9) < 1e-15
    assert not compare(ref * (1 + 1e-4), ref, "float32").passed
    assert compare(ref * (1 + 1e-6), ref, "float32").passed


def test_each_element_is_judged_on_its_own_scale_not_its_neighbours() -> None:
    # sigmoid'(x) at x = [0.5, 40]: torch 2.13 returns 0 for the saturated element (exact 4.2e-18);
    # the largest neighbour's scale (0.235) used to hide it.
    ref = np.array([0.2350037122015945, 4.248354255291589e-18])
    result = compare(np.array([ref[0], 0.0]), ref, "float64")
    assert not result.passed and result.mismatched == 1 and result.worst_index == (1,)
    assert compare(ref * (1 + 8 * 2.0**-52), ref, "float64").passed


def test_a_stored_magnitude_of_terms_allows_the_rounding_of_a_cancelling_sum() -> None:
    # 1 - 1 + 1e-10: exact 1e-10, rounding ~ eps * (1 + 1 + 1e-10), counted by the element's magnitude.
    ref = np.array([1e-10, 3.0])
    got = ref + np.array([2.0**-52, 0.0])
    assert not compare(got, ref, "float64").passed
    with_mag = compare(got, ref, "float64", magnitude=np.array([2.0 + 1e-10, 3.0]))
    assert with_mag.passed and with_mag.absolute_used == 1
    # ... and only its own: the neighbour's magnitude does not widen it.
    assert not compare(got, ref, "float64", magnitude=np.array([1e-10, 1e6])).passed


def test_zero_references_pass_only_exactly_or_at_their_magnitude() -> None:
    ref = np.array([100.0, 0.0])
    assert compare(np.array([100.0, 0.0]), ref, "float64").passed
    assert not compare(np.array([100.0, 1e-13]), ref, "float64").passed
    assert compare(np.array([100.0, 1e-13]), ref, "float64", magnitude=np.array([100.0, 200.0])).passed
    assert not compare(np.array([100.0, 1e-9]), ref, "float64", magnitude=np.array([100.0, 200.0])).passed


def test_nan_is_a_mismatch_reported_as_such() -> None:
    result = compare(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), "float32")
    assert not result.passed and result.mismatched == 1 and result.worst_index == (0,)
    assert "nan" in result.table


def test_report_names_counts_index_and_worst_elements() -> None:
    ref = np.arange(1.0, 7.0).reshape(2, 3)
    got = ref.copy()
    got[1, 2] *= 1 + 1e-6
    text = compare(got, ref, "float64").summary()
    assert "Mismatched elements: 1 / 6 (16.7%)" in text
    assert "Worst element (furthest beyond its allowance): index (1, 2), difference 6e-06, allowed " in text
    assert "Greatest absolute difference: 6e-06\n" in text
    assert "Greatest relative difference: 1e-06" in text
    assert "Greatest difference in ULPs: 6.755e+09" in text
    rows = text.splitlines()[6:]
    assert len(rows) == 1 and rows[0].split()[:2] == ["(1,", "2)"]


def test_an_infinite_reference_is_matched_exactly() -> None:
    # an exact value beyond the float64 range is stored as the infinity it rounds to (issue #12)
    ref = np.array([np.inf, -np.inf, 2.0])
    assert compare(np.array([np.inf, -np.inf, 2.0]), ref, "float64").passed
    for got in ([1.7976931348623157e308, -np.inf, 2.0], [np.inf, np.inf, 2.0], [np.nan, -np.inf, 2.0]):
        result = compare(np.array(got), ref, "float64")
        assert not result.passed and result.mismatched == 1, got
    assert not compare(np.array([np.inf, -np.inf, np.inf]), ref, "float64").passed
    # with a huge conditioning (an overflowing next derivative) a finite reference still fails an infinity
    assert not compare(np.array([np.inf]), np.array([2.0]), "float64", cond=np.array([np.inf])).passed
