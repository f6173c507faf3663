"""Magnitudes of terms in goldens: recomputation catches an inflated one (offline, the loader
refuses only one below the reference)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import numpy as np

from conftest_goldens import stub_metadata
from gradgold.cases import Case
from gradgold.generation.verify import magnitude_agreements
from gradgold.golden import Golden, GridData


def _golden(mag: float | None) -> Golden:
    numbers = {"value": np.array([1.0]), "grad/x": np.array([2.0])}
    mags = {} if mag is None else {"grad/x": np.array([mag])}
    grid = GridData({"x": np.array([0.5])}, numbers, {}, {}, mags)
    return Golden(meta=stub_metadata(magnitudes=tuple(mags)), grids={"float64": grid})


CASE = cast(Case, SimpleNamespace(id="s/c", min_digits=20))


def test_a_magnitude_consistent_with_its_recomputation_passes() -> None:
    [a] = magnitude_agreements(CASE, _golden(6.0), _golden(5.0))
    assert a.passed and a.quantity == "magnitude/grad/x"
    assert "consistent with its recomputation" in a.message


def test_an_inflated_magnitude_fails_recomputation() -> None:
    [a] = magnitude_agreements(CASE, _golden(1e6), _golden(5.0))
    assert not a.passed and a.index == (0,)
    assert "more than 2 times the recomputed one: an inflated magnitude widens" in a.message


def test_a_magnitude_the_engine_cannot_recompute_is_an_error() -> None:
    [a] = magnitude_agreements(CASE, _golden(6.0), _golden(None))
    assert not a.passed
    assert "which this engine does not compute, so it cannot be re-verified" in a.message
    assert magnitude_agreements(CASE, _golden(None), _golden(6.0)) == []
