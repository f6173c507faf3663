"""Shared pieces of the benchmarks: repeated timing with a median, and in-memory goldens.

Machines running the bench are shared and noisy, so every number is the median of several runs,
and every ratio is taken between numbers measured in the same run.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

import gradgold as gg
from gradgold.cases import Case
from gradgold.golden import Golden, GridData
from gradgold.metadata import case_metadata
from gradgold.schema import EngineStamp

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Timing:
    """Median and spread of repeated runs of one operation, in seconds."""

    median: float
    runs: int
    low: float
    high: float

    def record(self) -> dict[str, float | int]:
        return {"median_s": self.median, "runs": self.runs, "min_s": self.low, "max_s": self.high}


def measure(
    op: Callable[[], object],
    *,
    repeat: int = 7,
    budget_s: float = 2.0,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Run ``op`` up to ``repeat`` times, stopping early once ``budget_s`` is spent (a slow
    operation is timed fewer times rather than blowing the bench's time limit). ``clock`` as in
    :func:`measure_interleaved`."""
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (not times or spent < budget_s):
        start = clock()
        op()
        times.append(clock() - start)
        spent += times[-1]
    return Timing(statistics.median(times), len(times), min(times), max(times))


def measure_interleaved(
    ops: Mapping[str, Callable[[], object]],
    *,
    repeat: int = 7,
    budget_s: float = 3.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time several operations round-robin, one run of each per round, so that load from other
    processes on a shared machine hits every method alike; a method stops being repeated once it
    has spent ``budget_s``. ``clock=time.process_time`` measures this process's CPU time, which
    other processes' load does not inflate (the work is single-threaded: one torch thread)."""
    times: dict[str, list[float]] = {k: [] for k in ops}
    for _ in range(repeat):
        for name, op in ops.items():
            if times[name] and sum(times[name]) >= budget_s:
                continue
            start = clock()
            op()
            times[name].append(clock() - start)
    return {k: Timing(statistics.median(v), len(v), min(v), max(v)) for k, v in times.items()}


def grid_points(shapes: Mapping[str, tuple[int, ...]], seed: int, scale: float = 1.0) -> dict[str, Array]:
    """Non-symmetric inputs on the grid k/256, k in [-256, 256], times a power-of-two ``scale``:
    exactly representable in float64, float32, bfloat16 and float16, so one reference serves the
    checks of every dtype."""
    rng = np.random.default_rng(seed)
    return {
        p: rng.integers(-256, 257, size=shape).astype(np.float64) / 256.0 * scale
        for p, shape in shapes.items()
    }


def make_case(name: str, fn: Callable[..., torch.Tensor], wolfram: str, point: Mapping[str, Array]) -> Case:
    """A real :class:`gradgold.Case` for ``fn`` at one point (the wolfram text is only a label
    when the golden is built by :func:`torch_golden`)."""
    return gg.case(wolfram=wolfram, points=[dict(point)], name=name, dtypes=("float64",))(fn)


def torch_golden(case: Case, points: Sequence[Mapping[str, Array]]) -> Golden:
    """A golden whose references torch computed in float64 (value and full Jacobian).

    For timing this stands in for an exact golden: the checker's cost does not depend on where
    the reference came from. For sensitivity it is a float64 reference, not an exact one, and the
    report says so wherever it is used.
    """
    values: list[Array] = []
    grads: dict[str, list[Array]] = {p: [] for p in case.params}
    for pt in points:
        xs = tuple(torch.tensor(pt[p], dtype=torch.float64) for p in case.params)
        with torch.no_grad():
            values.append(case.fn(*xs).numpy())
        jac = torch.autograd.functional.jacobian(case.fn, xs)  # type: ignore[no-untyped-call]
        for p, j in zip(case.params, jac, strict=True):
            grads[p].append(j.numpy())
    numbers = {"value": np.stack(values)} | {f"grad/{p}": np.stack(g) for p, g in grads.items()}
    inputs = {p: np.stack([np.asarray(pt[p], dtype=np.float64) for pt in points]) for p in case.params}
    meta = dataclasses.replace(
        case_metadata(
            case,
            engine=EngineStamp("torch float64", torch.__version__),
            out_shape=values[0].shape,
            program="",
        ),
        n_points=len(points),
    )
    return Golden(meta=meta, grids={"float64": GridData(inputs, numbers, {}, {})})


def to_tensors(
    case: Case, point: Mapping[str, Array], requires_grad: bool = True
) -> tuple[torch.Tensor, ...]:
    """The point's inputs as float64 leaf tensors, in the case's parameter order."""
    return tuple(
        torch.tensor(point[p], dtype=torch.float64).requires_grad_(requires_grad) for p in case.params
    )
