"""Benchmarks 4 and 5: what the checker costs beyond the torch work, and what goldens weigh.

Import times are taken in fresh interpreters (a warm one has every module cached); the per-case
overhead is the gap between ``check_golden`` and the bare torch calls it makes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.autograd.forward_ad as fwad
import torch.func as tfunc

import gradgold as gg
from gradgold.cases import Case
from gradgold.check import check_case, check_golden, run_checks
from gradgold.golden import Golden, GridData, read_golden, write_golden
from gradgold.judge import Judges
from gradgold.metadata import case_metadata
from gradgold.modes import case_modes
from gradgold.schema import EngineStamp
from gradgold.suite import Project, golden_path

from .common import grid_points, make_case, measure, measure_interleaved, torch_golden

#: Modules only the generator may load; the checker and ``import gradgold`` must not.
FORBIDDEN = ("wolframclient", "mathics", "sympy", "zmq")

_IMPORTS = """
import json, sys, time
t0 = time.perf_counter(); import torch
t1 = time.perf_counter(); import gradgold
t2 = time.perf_counter(); import gradgold.check
t3 = time.perf_counter()
print(json.dumps({"torch": t1 - t0, "gradgold": t2 - t1, "gradgold.check": t3 - t2}))
"""

_ALONE = """
import json, sys, time
t0 = time.perf_counter(); import gradgold
t1 = time.perf_counter()
print(json.dumps({"gradgold_alone": t1 - t0, "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


def _fresh(code: str) -> Any:
    """The JSON printed last by ``code`` run in a fresh interpreter."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def forbidden_imports() -> dict[str, list[str]]:
    """Forbidden top-level modules that ``import gradgold`` / ``import gradgold.check`` load, in a
    fresh interpreter (the assertion the quick test repeats)."""
    out = {}
    for target in ("gradgold", "gradgold.check"):
        code = f"import sys, json; import {target}; print(json.dumps(sorted(sys.modules)))"
        mods = _fresh(code)
        out[target] = sorted({m.split(".")[0] for m in mods} & set(FORBIDDEN))
    return out


def import_times(repeat: int) -> dict[str, Any]:
    """Median import times (s) over ``repeat`` fresh interpreters; gradgold's after torch's."""
    runs = [_fresh(_IMPORTS) for _ in range(repeat)]
    alone = [_fresh(_ALONE) for _ in range(repeat)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["gradgold_alone"] = statistics.median(a["gradgold_alone"] for a in alone)
    med["gradgold_alone_imports_torch"] = "torch" in alone[0]["modules"]
    med["added_by_checker"] = med["gradgold"] + med["gradgold.check"]
    med["added_fraction_of_torch"] = med["added_by_checker"] / med["torch"]
    med["repeat"] = repeat
    med["forbidden_loaded"] = forbidden_imports()
    return med


def _double(x: torch.Tensor) -> torch.Tensor:
    return 2 * x


def trivial_cases(k: int) -> list[Case]:
    """``k`` cases of x -> 2 x at one scalar point each: the exact reference is 2 x and 2 (first
    order, as the bench's earlier rows measured)."""
    return [
        replace(
            gg.case(wolfram="2 x", points=[{"x": 0.5 + i / 1024}], name=f"t{i}", order=1)(_double),
            suite="trivial",
        )
        for i in range(k)
    ]


def trivial_golden(c: Case) -> Golden:
    """The exact golden of a trivial case, written without the engine (2 x is exact in floats)."""
    x = np.array([c.points[0]["x"]])
    numbers = {"value": 2 * x, "grad/x": np.array([2.0])}
    grid = GridData(
        inputs={"x": x},
        numbers=numbers,
        digits={q: np.array([repr(float(v[0]))]) for q, v in numbers.items()},
        certified={q: np.array([30], dtype=np.int16) for q in numbers},
    )
    # The metadata the case implies (what freshness compares), plus what only a generator knows.
    meta = case_metadata(c, engine=EngineStamp("bench", ""), out_shape=(), program="")
    return Golden(meta=meta, grids={"float64": grid})


def _bare(cases: list[Case], goldens: list[Golden]) -> None:
    """The torch work a check does for each case: build the leaf, forward, gradient."""
    for c, g in zip(cases, goldens, strict=True):
        x = torch.tensor(g.grids["float64"].inputs["x"][0], dtype=torch.float64).requires_grad_(True)
        torch.autograd.grad(c.fn(x), [x])


def _checked(cases: list[Case], goldens: list[Golden]) -> None:
    for c, g in zip(cases, goldens, strict=True):
        if not all(r.passed for r in check_golden(c, g, "float64")):
            raise RuntimeError(f"{c.id}: a trivial case failed")


def per_case_overhead(k: int, repeat: int) -> dict[str, Any]:
    """Per case: bare torch, ``check_golden`` in memory, and ``run_checks`` reading goldens from
    disk (what ``gradgold check`` does); the overheads are the gaps to bare torch. CPU time of this
    process (``clock``): on a shared machine wall time measures the other processes' load."""
    cases = trivial_cases(k)
    goldens = [trivial_golden(c) for c in cases]
    clock = time.process_time
    bare = measure(lambda: _bare(cases, goldens), repeat=repeat, budget_s=5, clock=clock)
    mem = measure(lambda: _checked(cases, goldens), repeat=repeat, budget_s=5, clock=clock)
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp), Path(tmp))
        for c, g in zip(cases, goldens, strict=True):
            write_golden(golden_path(project, c.id), g)
        disk = measure(
            lambda: run_checks(project, cases, dtypes=["float64"]), repeat=repeat, budget_s=8, clock=clock
        )
        reverse = measure(
            lambda: run_checks(project, cases, dtypes=["float64"], modes=["reverse"]),
            repeat=repeat,
            budget_s=8,
            clock=clock,
        )
        paths = [golden_path(project, c.id) for c in cases]
        read = measure(lambda: [read_golden(p) for p in paths], repeat=repeat, budget_s=5, clock=clock)
        prints = measure(lambda: [c.fingerprint() for c in cases], repeat=repeat, budget_s=5, clock=clock)
        checks = run_checks(project, cases, dtypes=["float64"])
        if not all(r.passed for r in checks):
            raise RuntimeError("a trivial case failed from disk")
    return {
        "cases": k,
        "bare_torch_per_case_s": bare.median / k,
        "check_golden_per_case_s": mem.median / k,
        "run_checks_from_disk_per_case_s": disk.median / k,
        "overhead_in_memory_per_case_s": (mem.median - bare.median) / k,
        "overhead_from_disk_per_case_s": (disk.median - bare.median) / k,
        "run_checks_reverse_only_from_disk_per_case_s": reverse.median / k,
        "clock": "process_time",
        "of_which_read_golden_per_case_s": read.median / k,
        "of_which_fingerprint_per_case_s": prints.median / k,
        # run_checks checks every execution mode a case allows; bare torch does one reverse pass.
        "checks_per_case": len(checks) / k,
    }


class _CustomExp(torch.autograd.Function):
    """exp with a hand-written backward and nothing else (no ``setup_context``, no ``jvp``): torch
    refuses the ``func`` and ``forward`` modes for it, as for many custom Functions in the wild."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * y


def _logsumexp(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x, 0)


def _custom_exp_sum(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = _CustomExp.apply(x)
    return out.sum()


#: Small-case subjects: (name, function, what torch does with the four default modes).
SMALL_SUBJECTS: tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor], str], ...] = (
    ("logsumexp", _logsumexp, "every mode runs"),
    ("custom_exp", _custom_exp_sum, "torch refuses func and forward"),
)


def _with_hessian(case: Case, golden: Golden, pts: list[dict[str, Any]]) -> Golden:
    """``golden`` plus the Hessian torch computes in float64 at each point: what an order-2 golden
    holds (the default up to 8 scalar inputs), so every mode checks a second derivative."""
    fn = case.fn
    hessians = [
        torch.autograd.functional.hessian(fn, torch.tensor(p["x"], dtype=torch.float64)).numpy()  # type: ignore[no-untyped-call]
        for p in pts
    ]
    grid = golden.grids["float64"]
    numbers = dict(grid.numbers) | {"hessian": np.stack(hessians)}
    return replace(golden, grids={"float64": replace(grid, numbers=numbers)})


Fn1 = Callable[[torch.Tensor], torch.Tensor]


def _bare_torch(fn: Fn1, mode: str, order: int, xs: list[torch.Tensor]) -> None:
    """The torch calls a check in ``mode`` makes at each point, without gradgold around them: a leaf,
    the forward pass, then the first derivative (and the Hessian at order 2) the way the mode's
    engine computes it (:mod:`gradgold.autodiff`). A derivative torch refuses at the first point is
    not tried again, as the checker does."""
    refused: set[int] = set()
    for x0 in xs:
        x = x0.detach().clone().requires_grad_(True)
        out = fn(x)
        graphs: dict[int, torch.Tensor] = {}  # the first derivative with its graph, made once
        for k in range(1, order + 1):
            if k in refused:
                continue
            try:
                _bare_level(fn, mode, k, x, out, graphs)
            except (RuntimeError, NotImplementedError):
                refused.add(k)


def _bare_level(
    fn: Fn1, mode: str, k: int, x: torch.Tensor, out: torch.Tensor, graphs: dict[int, torch.Tensor]
) -> None:
    grad = torch.autograd.grad
    if mode in ("reverse", "double_backward"):
        if k == 1 and mode == "reverse":
            grad(out, [x], retain_graph=True)
            return
        if 1 not in graphs:
            graphs[1] = grad(out, [x], retain_graph=True, create_graph=True)[0]
        if k == 2:
            for e in graphs[1]:
                grad(e, [x], retain_graph=True)
    elif mode == "func":
        transform = tfunc.jacrev(fn) if k == 1 else tfunc.jacfwd(tfunc.jacrev(fn))
        transform(x.detach())
    elif k == 1:
        with fwad.dual_level():
            for v in torch.eye(x.numel(), dtype=x.dtype):
                _ = fwad.unpack_dual(fn(fwad.make_dual(x.detach(), v))).tangent  # type: ignore[no-untyped-call]
    else:  # as gradgold nests them: one outer jvp per variable around one inner jvp per variable
        basis = torch.eye(x.numel(), dtype=x.dtype)

        def row(z: torch.Tensor) -> torch.Tensor:
            return torch.stack([tfunc.jvp(fn, (z,), (v,))[1] for v in basis], dim=-1)

        for u in basis:
            tfunc.jvp(row, (x.detach(),), (u,))


def _small_methods(
    fn: Callable[[torch.Tensor], torch.Tensor], n: int, points: int, order: int
) -> dict[str, Callable[[], object]]:
    """gradgold (the default modes as ``gradgold check`` runs them, reverse only, each mode alone)
    and torch (gradcheck, fast_mode, gradgradcheck at order 2, and each mode's bare torch calls)
    on the same ``points`` points of ``n`` inputs, float64; the references are torch's (as in
    benchmark 1), with the Hessian at order 2."""
    pts = [grid_points({"x": (n,)}, seed=100 * n + s) for s in range(points)]
    case = replace(make_case(fn.__name__.strip("_"), fn, "x", pts[0]), points=tuple(pts), order=order)
    golden = torch_golden(case, pts)
    if order == 2:
        golden = _with_hessian(case, golden, pts)
    modes = case_modes(case)
    for mode in modes:
        bad = [r.message for r in check_case(case, golden, "float64", mode).results if not r.passed]
        if bad:
            raise RuntimeError(f"{fn.__name__} n={n} {mode}: the correct function fails: {bad[0]}")
    xs = [torch.tensor(p["x"], dtype=torch.float64, requires_grad=True) for p in pts]

    def default_modes() -> object:
        judges = Judges(case, golden)  # as run_checks and the plugin share them for one golden
        return [check_case(case, golden, "float64", m, judges=judges) for m in modes]

    methods: dict[str, Callable[[], object]] = {
        "gradgold_default_modes": default_modes,
        "gradgold_reverse": lambda: check_case(case, golden, "float64", "reverse"),
        "gradcheck": lambda: [torch.autograd.gradcheck(fn, (x,)) for x in xs],
        "gradcheck_fast": lambda: [torch.autograd.gradcheck(fn, (x,), fast_mode=True) for x in xs],
    }
    if order == 2:
        methods["gradgradcheck"] = lambda: [torch.autograd.gradgradcheck(fn, (x,)) for x in xs]
        methods["gradgradcheck_fast"] = lambda: [
            torch.autograd.gradgradcheck(fn, (x,), fast_mode=True) for x in xs
        ]
    for mode in modes:
        if mode == "double_backward" and order < 2:
            continue  # not applicable: gradgold check skips it before running anything
        methods[f"mode/{mode}"] = lambda m=mode: check_golden(case, golden, "float64", mode=m)
        methods[f"torch/{mode}"] = lambda m=mode: _bare_torch(fn, m, order, xs)
    return methods


#: (inputs, order) of the small-case rows: order 2 is the default up to 8 scalar inputs.
SMALL_SIZES: tuple[tuple[int, int], ...] = ((8, 1), (8, 2), (16, 1), (32, 1))


def small_case_cost(
    repeat: int, sizes: tuple[tuple[int, int], ...] = SMALL_SIZES, points: int = 4
) -> list[dict[str, Any]]:
    """Issue 16's small-case targets, side by side in one process: the default-mode check of a
    case (``points`` points of n inputs, as ``gradgold check`` runs it: the modes share one judge
    of the golden, and ``double_backward`` is not applicable at order 1) against gradcheck at the
    same points (plus gradgradcheck for an order-2 case, which checks a Hessian), and the
    reverse-only check against fast_mode. Each mode alone is also timed beside the bare torch
    calls it makes, so gradgold's own overhead per mode is their difference. CPU time of this
    process (one torch thread), medians of interleaved runs, so the load of other processes on a
    shared machine inflates no method."""
    rows = []
    for name, fn, note in SMALL_SUBJECTS:
        for n, order in sizes:
            timed = measure_interleaved(
                _small_methods(fn, n, points, order), repeat=repeat, budget_s=3.0, clock=time.process_time
            )
            med = {k: t.median for k, t in timed.items()}
            baseline = med["gradcheck"] + med.get("gradgradcheck", 0.0)
            fast = med["gradcheck_fast"] + med.get("gradgradcheck_fast", 0.0)
            torch_total = sum(v for k, v in med.items() if k.startswith("torch/"))
            rows.append(
                {
                    "subject": name,
                    "note": note,
                    "inputs": n,
                    "order": order,
                    "points": points,
                    "cpu_s": {k: t.record() for k, t in timed.items()},
                    "baseline": "gradcheck + gradgradcheck" if order == 2 else "gradcheck",
                    "default_over_gradcheck": med["gradgold_default_modes"] / baseline,
                    "default_over_gradcheck_alone": med["gradgold_default_modes"] / med["gradcheck"],
                    "reverse_over_fast_mode": med["gradgold_reverse"] / fast,
                    "torch_of_default_modes_s": torch_total,
                    "overhead_of_default_modes_s": med["gradgold_default_modes"] - torch_total,
                }
            )
            print(
                f"  small {name:10s} n={n:2d} order {order} "
                + " ".join(f"{k}={v * 1e3:.2f}ms" for k, v in med.items()),
                flush=True,
            )
    return rows


# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of the
# bench would report the bench's own peak (gigabytes, after gradgradcheck's dense Jacobians).
_MAXRSS = """
import json, resource, sys, tracemalloc
from pathlib import Path

def hwm_kib():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

import torch
base = hwm_kib()
traced = failed = 0
if sys.argv[1] == "check":
    from gradgold.check import run_checks
    from gradgold.suite import find_project, load_cases
    tracemalloc.start()
    p = find_project(Path(sys.argv[2])); checks = run_checks(p, load_cases(p))
    traced = tracemalloc.get_traced_memory()[1]
    failed = sum(not c.passed and not c.problem for c in checks)
usage = hwm_kib()
print(json.dumps({"after_torch_kib": base, "peak_kib": usage, "tracemalloc_peak_bytes": traced,
                  "checks_not_passed": failed}))
"""


def peak_memory(root: Path) -> dict[str, Any]:
    """Peak RSS of a process that imports torch only, and of one that also checks the built-in suite
    (whose Python-side allocations tracemalloc counts: RSS hides them under torch's import peak)."""
    out = {}
    for mode in ("torch_only", "check"):
        run = subprocess.run(
            [sys.executable, "-c", _MAXRSS, mode, str(root)], capture_output=True, text=True, check=True
        )
        out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    out["check_added_kib"] = out["check"]["peak_kib"] - out["torch_only"]["peak_kib"]
    return out


def footprint(root: Path) -> dict[str, Any]:
    """Bytes of each golden and of the whole golden directory, and where a golden's bytes go."""
    files = sorted((root / "golden").rglob("*.npz"))
    sizes = {str(f.relative_to(root)): f.stat().st_size for f in files}
    breakdown: dict[str, int] = {}
    if files:
        import zipfile

        with zipfile.ZipFile(max(files, key=lambda f: f.stat().st_size)) as zf:
            for info in zf.infolist():
                kind = info.filename.split("/")[1] if "/" in info.filename else info.filename
                breakdown[kind] = breakdown.get(kind, 0) + info.file_size
    total_dir = sum(f.stat().st_size for f in (root / "golden").rglob("*") if f.is_file())
    return {
        "per_golden_bytes": sizes,
        "goldens_total_bytes": sum(sizes.values()),
        "golden_dir_bytes": total_dir,
        "largest_golden_breakdown_bytes": breakdown,
        "measured_at": time.strftime("%Y-%m-%d"),
    }
