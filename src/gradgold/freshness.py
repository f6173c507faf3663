"""Whether a golden was generated for a case as it is now, judged from the case, not the file.

A golden's ``fingerprint`` is a hash the generator stores, and whoever edits a golden can store
any hash. So freshness recomputes every part of the fingerprint the golden itself holds (its WL
expression, parameters, grids, precisions, order, projections, complex flags and, above all, the
inputs at which its references were computed) and compares each with the case: a genuine golden
computed at other points, relabelled with the case's fingerprint, is stale, and the checker, which
runs torch at the golden's stored inputs, never checks torch anywhere but at the case's points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cases import Case
from .exact import bitwise_differences, round_to_grid
from .golden import Golden
from .metadata import metadata_mismatch

__all__ = ["stale_reason"]


def stale_reason(case: Case, golden: Golden) -> str:
    """Why ``golden`` is not the case's golden as the case is now, or "" when it is."""
    if golden.fingerprint != case.fingerprint():
        return "the case's expression, points or settings changed since it was generated"
    wrong = _metadata_mismatch(case, golden.meta)
    if wrong:
        return f"its metadata is not the case's ({wrong}), although its fingerprint is"
    if not case.magnitudes and any(data.magnitudes for data in golden.grids.values()):
        return (
            "it holds magnitudes of terms, which widen the allowances, but the case does not ask for "
            "them (magnitudes=True): an edited golden, or one made before the case dropped them"
        )
    if tuple(golden.grids) != case.grids():
        return f"it holds grids {list(golden.grids)}, the case needs {list(case.grids())}"
    for grid, data in golden.grids.items():
        for p in case.params:
            want = np.stack([round_to_grid(pt[p], grid) for pt in case.points])
            got = data.inputs[p]
            if got.shape != want.shape or bitwise_differences(got, want) is not None:
                return (
                    f"its stored inputs ({grid} grid, parameter {p}) are not the case's points: its "
                    "references were computed elsewhere, although its fingerprint is the case's "
                    "(an edited or forged golden?)"
                )
    if case.projections and (
        golden.directions is None or not np.array_equal(golden.directions, case.directions())
    ):
        return "its projection directions are not the case's"
    return ""


def _metadata_mismatch(case: Case, meta: Any) -> str:
    """The metadata fields that disagree with what the case implies, as ``key=stored`` text."""
    return ", ".join(f"{k}={got!r:.60}" for k, got, _ in metadata_mismatch(case, meta))
