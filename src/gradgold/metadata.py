"""The metadata a case implies for its golden: one builder for every generator, one comparison
for every reader.

The engine generator and the rigorous evaluator build a golden's
:class:`~gradgold.schema.Metadata` with :func:`case_metadata`, passing only what they alone know
(the program, the engine, the output shape, how they computed); freshness and ``verify`` compare a
stored golden's metadata with the same fields (:func:`metadata_mismatch`), so no module keeps its
own copy of the schema.
"""

from __future__ import annotations

from typing import Any

from .cases import Case
from .schema import EngineStamp, Metadata, program_sha256, quantity_shapes

__all__ = ["case_fields", "case_metadata", "case_quantity_shapes", "metadata_mismatch"]


def case_fields(case: Case) -> dict[str, Any]:
    """The :class:`Metadata` fields the case determines, except its fingerprint (which no
    comparison reads and which costs more than the rest together: freshness compares it apart,
    before the metadata). ``dtypes`` may change without regenerating: it picks what the checker
    runs, not what the golden holds, so :func:`metadata_mismatch` does not compare it."""
    return {
        "id": case.id,
        "wolfram": case.wolfram,
        "precision": case.precision,
        "min_digits": case.min_digits,
        "params": tuple((p, tuple(case.shapes[p])) for p in case.params),
        "grids": case.grids(),
        "n_points": len(case.points),
        "order": case.order,
        "projections": case.projections,
        # a golden states full_jacobian only beside projections; without them it holds every quantity
        "full_jacobian": case.full_jacobian if case.projections else True,
        "complex": tuple(case.complex_params),
        "complex_output": case.complex_output,
    }


def case_metadata(
    case: Case,
    *,
    engine: EngineStamp,
    out_shape: tuple[int, ...],
    program: str,
    evaluator: str | None = None,
    strategy: str | None = None,
    working_precision: int | None = None,
    magnitudes: tuple[str, ...] = (),
) -> Metadata:
    """The golden's metadata: every field the case determines, and what the generator passes (the
    ``program`` text, whose hash the file stores)."""
    return Metadata(
        **case_fields(case),
        fingerprint=case.fingerprint(),
        dtypes=tuple(case.dtypes),
        engine=engine,
        out_shape=tuple(out_shape),
        program=program,
        program_sha256=program_sha256(program),
        evaluator=evaluator,
        strategy=strategy,
        working_precision=working_precision,
        magnitudes=tuple(magnitudes),
    )


def case_quantity_shapes(case: Case) -> dict[str, tuple[int, ...]]:
    """The quantities the case's golden holds, with their shapes at one point but for the output's
    (which only the generator learns), as the schema lists them."""
    params = tuple((p, tuple(case.shapes[p])) for p in case.params)
    return quantity_shapes(params, (), case.order, case.projections, case.full_jacobian)


def metadata_mismatch(case: Case, meta: Metadata) -> list[tuple[str, Any, Any]]:
    """``(field, stored, expected)`` for each case-determined field of ``meta`` that is not the
    case's."""
    return [(k, getattr(meta, k), want) for k, want in case_fields(case).items() if getattr(meta, k) != want]
