"""Would batching make the checker cheaper without changing what it measures? Bitwise evidence.

Two ways to batch, each compared bit for bit with what the checker does, over the committed cases
of real inputs (float64 and float32):

* forward mode: one dual-number pass per input (the checker) against ``torch.func.jacfwd``, which
  pushes every tangent through one vmapped pass;
* points: the function at each point alone (the checker) against the function on all points
  stacked along a batch dimension, for cases of one scalar input.

A difference means batching is a different computation: it could hide a discrepancy or create one,
so the checker does not batch where any difference was found.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gradgold.autodiff import ForwardEngine
from gradgold.check import reference_grid
from gradgold.errors import GradgoldError
from gradgold.suite import find_project, fresh_golden, load_cases

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))


def batching(root: Path, suites: Sequence[str] | None = None) -> dict[str, Any]:
    """Counts of (case, dtype) pairs and elements whose numbers batching changes, with examples."""
    project = find_project(root)
    cases = [c for c in load_cases(project) if not c.is_complex and (not suites or c.suite in suites)]
    forward = ["fwd_pairs", "fwd_pairs_differ", "fwd_elements", "fwd_elements_differ", "fwd_refused"]
    points = ["pts_pairs", "pts_pairs_differ", "pts_values", "pts_values_differ"]
    stats = dict.fromkeys([*forward, *points], 0)
    examples: list[list[Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for case in cases:
            try:
                golden = fresh_golden(project, case)
            except GradgoldError:
                continue
            for dtype in (d for d in case.dtypes if d in _DTYPES):
                try:
                    data = reference_grid(golden, dtype)
                except GradgoldError:
                    continue
                _forward(case, data, dtype, stats, examples)
                _points(case, data, dtype, stats, examples)
    return stats | {"examples": examples, "suites": list(suites or [])}


def _forward(case: Any, data: Any, dtype: str, stats: dict[str, int], examples: list[list[Any]]) -> None:
    params = tuple(p for p in case.params if p in data.inputs)
    differ = False
    for i in range(data.n_points):
        xs = [torch.tensor(data.inputs[p][i], dtype=_DTYPES[dtype]).requires_grad_(True) for p in params]
        try:
            engine = ForwardEngine(case.fn, xs, case.fn(*xs))
            one_by_one = engine.full(1).numpy()
            batched = torch.func.jacfwd(engine.flat_fn)(engine.point()).detach().numpy()
        except Exception:  # a mode torch refuses: nothing to compare
            stats["fwd_refused"] += 1
            return
        same = _same(one_by_one, batched.reshape(one_by_one.shape))
        stats["fwd_elements"] += same.size
        stats["fwd_elements_differ"] += int(np.count_nonzero(~same))
        if not same.all():
            differ = True
            k = int(np.argmax(~same.ravel()))
            examples.append(
                ["forward", case.id, dtype, i, float(one_by_one.ravel()[k]), float(batched.ravel()[k])]
            )
    stats["fwd_pairs"] += 1
    stats["fwd_pairs_differ"] += differ


def _points(case: Any, data: Any, dtype: str, stats: dict[str, int], examples: list[list[Any]]) -> None:
    params = tuple(p for p in case.params if p in data.inputs)
    if len(params) != 1 or data.inputs[params[0]].ndim != 1 or data.numbers["value"].ndim != 1:
        return
    x = torch.tensor(data.inputs[params[0]], dtype=_DTYPES[dtype])
    try:
        with torch.no_grad():
            alone = np.array([float(case.fn(x[j])) for j in range(len(x))])
            together = case.fn(x).numpy()
    except Exception:  # the function does not take a batch
        return
    if together.shape != alone.shape:
        return
    same = _same(alone, together)
    stats["pts_pairs"] += 1
    stats["pts_pairs_differ"] += int(not same.all())
    stats["pts_values"] += same.size
    stats["pts_values_differ"] += int(np.count_nonzero(~same))
    if not same.all():
        k = int(np.argmax(~same))
        examples.append(["points", case.id, dtype, float(x[k]), float(alone[k]), float(together[k])])


def batching_text(b: dict[str, Any]) -> str:
    """The RESULTS.md note."""
    shown = "; ".join(
        f"{e[1]} {e[2]}: {e[-2]!r} alone, {e[-1]!r} batched ({e[0]})" for e in b["examples"][:4]
    )
    return (
        "Batching, measured bit for bit over the committed real cases (float64 and float32): forward "
        f"mode through `torch.func.jacfwd` (all tangents in one vmapped pass) differs from one dual "
        f"pass per input in {b['fwd_pairs_differ']} of {b['fwd_pairs']} (case, dtype) pairs "
        f"({b['fwd_elements_differ']} of {b['fwd_elements']} Jacobian entries); stacking the points "
        f"of one-input cases into one call differs in {b['pts_pairs_differ']} of {b['pts_pairs']} "
        f"pairs ({b['pts_values_differ']} of {b['pts_values']} values). Examples: {shown or 'none'}. "
        "Batching is a different computation (other kernels, another summation order), so the "
        "checker batches neither: it would check numbers users do not get, and could hide or create "
        "a discrepancy."
    )
