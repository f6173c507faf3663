"""The metadata a case implies for its golden: one builder for every generator, one comparison
for every reader.

The engine generator and the rigorous evaluator start a golden's metadata from
:func:`case_metadata` and add only what they alone know (the program, the engine, the output
shape); freshness and ``verify`` compare a stored golden's metadata with the same builder
(:func:`metadata_mismatch`), so no module keeps its own copy of the schema.
"""

from __future__ import annotations

from typing import Any

from .cases import Case

__all__ = ["OPTIONAL_KEYS", "case_metadata", "metadata_mismatch"]

#: Keys added after format 1 shipped: written only when they differ from these values, so
#: first-order real goldens keep their bytes; a reader takes an absent key as its default.
OPTIONAL_KEYS: dict[str, Any] = {
    "order": 1,
    "projections": 0,
    "full_jacobian": True,
    "complex": [],
    "complex_output": False,
}

#: Keys a golden of this case must hold with exactly these values (``dtypes`` may change without
#: regenerating: it picks what the checker runs, not what the golden holds).
_COMPARED = ("id", "wolfram", "precision", "min_digits", "params", "grids", "n_points", *OPTIONAL_KEYS)


def case_metadata(case: Case, *, fingerprint: bool = True) -> dict[str, Any]:
    """Every metadata entry the case determines (the generator adds ``program``, ``engine``,
    ``out_shape`` and, where they apply, ``working_precision``, ``strategy``, ``evaluator``).
    ``fingerprint=False`` leaves out the fingerprint, which no comparison reads and which costs
    more than the rest together (freshness compares it apart, before the metadata)."""
    meta: dict[str, Any] = {
        "id": case.id,
        "wolfram": case.wolfram,
        "precision": case.precision,
        "min_digits": case.min_digits,
    }
    if fingerprint:
        meta["fingerprint"] = case.fingerprint()
    meta |= {
        "params": [[p, list(case.shapes[p])] for p in case.params],
        "grids": list(case.grids()),
        "n_points": len(case.points),
        "dtypes": list(case.dtypes),
    }
    if case.order != 1:
        meta["order"] = case.order
    if case.projections:
        meta |= {"projections": case.projections, "full_jacobian": case.full_jacobian}
    if case.complex_params:
        meta["complex"] = list(case.complex_params)
    if case.complex_output:
        meta["complex_output"] = True
    return meta


def metadata_mismatch(case: Case, meta: Any) -> list[tuple[str, Any, Any]]:
    """``(key, stored, expected)`` for each compared entry of ``meta`` that is not the case's."""
    expected = case_metadata(case, fingerprint=False)
    out = []
    for key in _COMPARED:
        want = expected.get(key, OPTIONAL_KEYS.get(key))
        got = meta.get(key, OPTIONAL_KEYS.get(key))
        if got != want:
            out.append((key, got, want))
    return out
