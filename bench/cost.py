"""Benchmark 1: the cost of one gradgold check against finite-difference checkers, per input size.

gradgold's check is the real one (``check.check_golden`` on a golden built in memory, so the
forward, the reverse-mode Jacobian and ``compare.compare`` all run); its references come from
torch in float64 because the symbolic engine cannot produce 8192-input goldens in bench time,
and the comparison costs the same wherever the reference came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gradgold.check import check_golden

from .common import grid_points, make_case, measure_interleaved, to_tensors, torch_golden
from .workloads import WORKLOADS, Workload

#: Default cap: a method is skipped once the previous size predicts more than this many seconds.
CAP_S = 20.0


def _methods(w: Workload, n: int) -> dict[str, Callable[[], Any]]:
    """The operations compared at size n, each checking the same function at the same point."""
    point = grid_points(w.shapes(n), seed=n, scale=w.scale(n))
    case = make_case(w.name, w.fn, w.wl(n), point)
    golden = torch_golden(case, [point])
    xs = to_tensors(case, point)
    results = check_golden(case, golden, "float64")
    if not all(r.passed for r in results):
        raise RuntimeError(f"{w.name} n={n}: the correct function fails its own float64 reference")

    def gg_check() -> None:
        check_golden(case, golden, "float64")

    return {
        "gradgold": gg_check,
        "gradcheck": lambda: torch.autograd.gradcheck(w.fn, xs),
        "gradcheck_fast": lambda: torch.autograd.gradcheck(w.fn, xs, fast_mode=True),
        "gradgradcheck": lambda: torch.autograd.gradgradcheck(w.fn, xs),
        "gradgradcheck_fast": lambda: torch.autograd.gradgradcheck(w.fn, xs, fast_mode=True),
    }


#: How much slower each method gets when the size grows 4x (n doubles): finite differences do
#: O(N) evaluations of an O(n^3) function; gradgradcheck's numerical part differentiates the
#: backward N times.
_GROWTH = {"gradcheck": 6.0, "gradgradcheck": 16.0}


def run_cost(ns: list[int], repeat: int, cap: float = CAP_S) -> list[dict[str, Any]]:
    """One row per workload and size: median seconds per method and the ratios to gradgold."""
    rows: list[dict[str, Any]] = []
    for w in WORKLOADS:
        prev: dict[str, float] = {}
        for n in ns:
            row: dict[str, Any] = {"workload": w.name, "n": n, "size": 2 * n * n, "timings": {}}
            ops = _methods(w, n)
            # Skip a method where the last size's time (inf once skipped) predicts more than cap.
            active = {m: op for m, op in ops.items() if prev.get(m, 0.0) * _GROWTH.get(m, 1.0) <= cap}
            timed = measure_interleaved(active, repeat=repeat, budget_s=min(cap, 3.0))
            for method in ops:
                t = timed.get(method)
                prev[method] = t.median if t is not None else float("inf")
                row["timings"][method] = t.record() if t is not None else None
            base = row["timings"]["gradgold"]["median_s"]
            row["ratios"] = {
                m: (t["median_s"] / base if t is not None else None)
                for m, t in row["timings"].items()
                if not m.startswith("gradgold")
            }
            rows.append(row)
            print(f"  cost {w.name:12s} n={n:3d} size={2 * n * n:5d} " + _line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    parts = []
    for m, t in row["timings"].items():
        parts.append(f"{m}={t['median_s'] * 1e3:.2f}ms" if t else f"{m}=skipped")
    return " ".join(parts)
