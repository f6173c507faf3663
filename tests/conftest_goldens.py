"""In-memory goldens for checker tests: exact values written by hand (or by mpmath), no engine.

The higher-order golden format is the generator's (``hessian``, ``d3``, ``d4`` over the flattened
variables; ``proj/grad``, ``proj/hess`` along top-level ``directions``); these build it directly, so
the checker is tested before, and independently of, the generator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import gradgold as gg
from gradgold.golden import Golden, GridData
from gradgold.schema import EngineStamp, Metadata


@dataclass(frozen=True)
class ProjectedGolden(Golden):
    """A golden with ``directions`` (k, N), as the generator's projected goldens hold them."""

    directions: np.ndarray | None = None


def stub_metadata(case_id: str = "t/case", **fields: Any) -> Metadata:
    """Metadata for a golden made in memory: placeholders where a generator would say what it
    computed with (the checker reads the case id, the order and the projections)."""
    base: dict[str, Any] = {
        "id": case_id,
        "wolfram": "0",
        "precision": 30,
        "fingerprint": "0" * 64,
        "params": (("x", ()),),
        "grids": ("float64",),
        "n_points": 1,
        "engine": EngineStamp("test", "0"),
        "out_shape": (),
        "program_sha256": "0" * 64,
    }
    return Metadata(**(base | fields))


def make_case(fn: Callable[..., Any], points: Sequence[Mapping[str, Any]], **kw: Any) -> gg.Case:
    kw.setdefault("dtypes", ("float64",))
    return gg.case(wolfram="0", points=points, name=kw.pop("name", fn.__name__), **kw)(fn)


def set_attr(case: gg.Case, **fields: Any) -> gg.Case:
    """Give a case fields the lead's ``Case`` is gaining (``expect``, ``modes``, ``require_modes``)."""
    for k, v in fields.items():
        object.__setattr__(case, k, v)
    return case


def make_golden(
    case: gg.Case,
    numbers: Mapping[str, Any],
    grid: str = "float64",
    inputs: Mapping[str, Any] | None = None,
    directions: Any = None,
    order: int = 1,
) -> Golden:
    """A golden with one grid holding ``numbers`` (each an array of n_points entries)."""
    ins = inputs or {p: np.stack([pt[p] for pt in case.points]) for p in case.params}
    data = GridData(
        inputs={p: np.asarray(v, dtype=np.float64) for p, v in ins.items()},
        numbers={q: np.asarray(v, dtype=np.float64) for q, v in numbers.items()},
        digits={},
        certified={},
    )
    meta = stub_metadata(case.id, order=order, projections=0 if directions is None else len(directions))
    grids = {grid: data} if grid == "float64" else {"float64": data, grid: data}
    if directions is None:
        return Golden(meta=meta, grids=grids)
    return ProjectedGolden(meta=meta, grids=grids, directions=np.asarray(directions, dtype=np.float64))
