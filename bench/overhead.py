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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gradgold as gg
from gradgold.cases import Case
from gradgold.check import check_golden, run_checks
from gradgold.golden import Golden, GridData, read_golden, write_golden
from gradgold.suite import Project, golden_path

from .common import measure

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
    """``k`` cases of x -> 2 x at one scalar point each: the exact reference is 2 x and 2."""
    return [
        replace(
            gg.case(wolfram="2 x", points=[{"x": 0.5 + i / 1024}], name=f"t{i}")(_double), suite="trivial"
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
    meta = {
        "id": c.id,
        "wolfram": c.wolfram,
        "program": "",
        "engine": {"name": "bench", "version": ""},
        "precision": 30,
        "fingerprint": c.fingerprint(),
        "params": [["x", []]],
        "out_shape": [],
        "grids": ["float64"],
        "n_points": 1,
    }
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
    disk (what ``gradgold check`` does); the overheads are the gaps to bare torch."""
    cases = trivial_cases(k)
    goldens = [trivial_golden(c) for c in cases]
    bare = measure(lambda: _bare(cases, goldens), repeat=repeat, budget_s=5)
    mem = measure(lambda: _checked(cases, goldens), repeat=repeat, budget_s=5)
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp), Path(tmp))
        for c, g in zip(cases, goldens, strict=True):
            write_golden(golden_path(project, c.id), g)
        disk = measure(lambda: run_checks(project, cases, dtypes=["float64"]), repeat=repeat, budget_s=8)
        paths = [golden_path(project, c.id) for c in cases]
        read = measure(lambda: [read_golden(p) for p in paths], repeat=repeat, budget_s=5)
        prints = measure(lambda: [c.fingerprint() for c in cases], repeat=repeat, budget_s=5)
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
        "of_which_read_golden_per_case_s": read.median / k,
        "of_which_fingerprint_per_case_s": prints.median / k,
        # run_checks checks every execution mode a case allows; bare torch does one reverse pass.
        "checks_per_case": len(checks) / k,
    }


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
