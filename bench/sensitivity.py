"""Benchmark 2: the detection floor. Which wrong backwards does each checker catch?

Each subject's function is wrapped in a custom ``autograd.Function`` whose forward is right and
whose backward is wrong in a controlled way. Exact goldens are used wherever they exist (the seed
goldens) or can be made in seconds by the embedded engine; elsewhere the reference is torch in
float64, and the result records which.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gradgold as gg
from gradgold.cases import Case
from gradgold.check import check_golden, run_checks
from gradgold.errors import GradgoldError
from gradgold.golden import Golden, read_golden
from gradgold.suite import Project, find_project, golden_path, load_cases

from .common import grid_points, make_case, torch_golden
from .workloads import WORKLOADS, Workload

Grads = list[torch.Tensor]
#: A bug: from the true Jacobian of a scalar function (one tensor per input) to the wrong one.
Bug = Callable[[Grads], Grads]

EPSILONS = [10.0**-k for k in range(1, 15)]
DTYPES = ("float64", "float32", "bfloat16", "float16")
METHODS = (*(f"gradgold_{d}" for d in DTYPES), "gradcheck", "gradcheck_fast")


class _Wrong(torch.autograd.Function):
    """Forward of ``fn``; backward is the Jacobian of ``grad_fn`` passed through ``bug``."""

    @staticmethod
    def forward(ctx: Any, fn: Callable[..., torch.Tensor], grad_fn: Any, bug: Bug, *xs: torch.Tensor) -> Any:
        ctx.grad_fn, ctx.bug = grad_fn, bug
        ctx.save_for_backward(*xs)
        return fn(*xs)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> Any:
        xs = [x.detach().requires_grad_(True) for x in ctx.saved_tensors]
        with torch.enable_grad():
            jac = list(torch.autograd.grad(ctx.grad_fn(*xs), xs))
        return (None, None, None, *(g * j for j in ctx.bug(jac)))


def wrong(
    fn: Callable[..., torch.Tensor], bug: Bug, grad_fn: Callable[..., torch.Tensor] | None = None
) -> Any:
    """``fn`` with a backward made wrong by ``bug`` (and computed from ``grad_fn`` if given)."""

    def wrapped(*xs: torch.Tensor) -> Any:
        return _Wrong.apply(fn, grad_fn or fn, bug, *xs)  # type: ignore[no-untyped-call]

    return wrapped


def no_bug(jac: Grads) -> Grads:
    return jac


def scaled(eps: float) -> Bug:
    """Every entry wrong by the relative amount ``eps``."""
    return lambda jac: [j * (1 + eps) for j in jac]


def one_entry(eps: float, absolute: bool = False) -> Bug:
    """The largest entry of the first input's gradient wrong by ``eps`` times the largest entry
    (or by ``eps`` itself when ``absolute``): a single wrong Jacobian entry."""

    def bug(jac: Grads) -> Grads:
        first = jac[0].clone().reshape(-1)
        k = int(torch.argmax(first.abs()))
        first[k] += eps if absolute else eps * first[k].abs()
        return [first.reshape(jac[0].shape), *jac[1:]]

    return bug


def smallest_entry(eps: float) -> Bug:
    """The smallest nonzero entry of the first input's gradient wrong by the relative ``eps``: one
    wrong element beside far larger ones, as in a batch."""

    def bug(jac: Grads) -> Grads:
        first = jac[0].clone().reshape(-1)
        size = torch.where(first != 0, first.abs(), torch.full_like(first, math.inf))
        k = int(torch.argmin(size))
        first[k] += eps * first[k].abs()
        return [first.reshape(jac[0].shape), *jac[1:]]

    return bug


def transposed(jac: Grads) -> Grads:
    return [j.mT if j.ndim == 2 else j for j in jac]


@dataclass(frozen=True)
class Subject:
    """A function under test, its golden and where the golden's references came from."""

    name: str
    case: Case
    golden: Golden
    reference: str
    grad_fn: Callable[..., torch.Tensor] | None = None

    @property
    def has_matrix(self) -> bool:
        return any(len(s) == 2 for s in self.case.shapes.values())


def caught(subject: Subject, method: str, fn: Callable[..., Any]) -> bool | None:
    """True if ``method`` flags ``fn`` at the golden's points, None if it cannot run there."""
    hit, _ = caught_why(subject, method, fn)
    return hit


def caught_why(subject: Subject, method: str, fn: Callable[..., Any]) -> tuple[bool | None, str]:
    """:func:`caught`, with the first line of the reason."""
    if method.startswith("gradgold_"):
        try:
            results = check_golden(subject.case, subject.golden, method.removeprefix("gradgold_"), fn=fn)
        except GradgoldError as exc:
            return None, str(exc).split(";")[0]
        bad = [r for r in results if not r.passed]
        return bool(bad), (_why(bad[0].message) if bad else "")
    data = subject.golden.grids["float64"]
    fast = method == "gradcheck_fast"
    for i in range(data.n_points):
        xs = tuple(
            torch.tensor(data.inputs[p][i], dtype=torch.float64, requires_grad=True)
            for p in subject.case.params
        )
        try:
            ok = torch.autograd.gradcheck(fn, xs, fast_mode=fast, raise_exception=False)
        except Exception:
            ok = False
        if not ok:
            return True, f"gradcheck failed at point {i}"
    return False, ""


def _why(message: str) -> str:
    """The headline of a gradgold failure and its ULP line, for the report."""
    lines = message.splitlines()
    ulps = [ln for ln in lines if ln.startswith(("Greatest difference in ULPs", "Greatest relative"))]
    return " | ".join([lines[0], *ulps])[:300]


def floor(subject: Subject, method: str, make_bug: Callable[[float], Bug]) -> dict[str, Any]:
    """The smallest swept epsilon caught, every larger one being caught too."""
    hits = [caught(subject, method, wrong(subject.case.fn, make_bug(e), subject.grad_fn)) for e in EPSILONS]
    smallest = None
    for e, hit in zip(EPSILONS, hits, strict=True):
        if not hit:
            break
        smallest = e
    return {"floor": smallest, "caught": dict(zip(map(str, EPSILONS), hits, strict=True))}


def seed_subjects(root: Path) -> list[Subject]:
    """The seed's matrix function and exp_cos, with their exact committed goldens. Only the seed
    suite is loaded (from a temp copy), so a broken case file elsewhere in a shared working tree
    cannot take this benchmark down."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(root / "golden" / "seed.py", Path(tmp) / "seed.py")
        shutil.copytree(root / "golden" / "seed", Path(tmp) / "seed")
        project = Project(Path(tmp), Path(tmp))
        cases = {c.id: c for c in load_cases(project)}
        out = []
        for cid in ("seed/matrix_norm", "seed/exp_cos"):
            golden = read_golden(golden_path(project, cid))
            out.append(Subject(cid, cases[cid], golden, "exact (committed seed golden)"))
    return out


def _exp_cos(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.exp(3 * w + torch.cos(z)) + 3 * (w**2 + torch.sin(2 * z))


def _periodic(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return _exp_cos(w, z) + torch.sin(math.pi * w) ** 2 + torch.sin(math.pi * z) ** 2


_PERIODIC_WL = "Exp[3 w + Cos[z]] + 3 (w^2 + Sin[2 z]) + Sin[Pi w]^2 + Sin[Pi z]^2"
_NICE = [{"w": 1.0, "z": 1.0}, {"w": 0.5, "z": -1.5}, {"w": 2.0, "z": 0.0}]


def engine_cases() -> list[Case]:
    """Small cases whose exact goldens the embedded engine makes in seconds: a 2x2 log-det, and a
    function with a periodic term whose derivative vanishes at "nice" points. Points are on the
    k/256 grid, not ``gg.uniform``'s float32 grid, because gradgold has no bfloat16 grid (numpy
    has no bfloat16), so only points exact in bfloat16 can be checked in it."""
    logdet_w = WORKLOADS[2]
    pts = [grid_points(logdet_w.shapes(2), seed=s, scale=0.5) for s in (1, 2, 3)]
    cases = [gg.case(wolfram=logdet_w.wl(2), points=pts, name="logdet", dtypes=DTYPES)(logdet_w.fn)]
    uni = [grid_points({"w": (), "z": ()}, seed=s) for s in (1, 2, 3)]
    for name, points in (("periodic_nice", _NICE), ("periodic_uniform", uni)):
        cases.append(gg.case(wolfram=_PERIODIC_WL, points=points, name=name, dtypes=DTYPES)(_periodic))
    return [replace(c, suite="bench") for c in cases]


def engine_subjects(budget_s: float) -> tuple[list[Subject], dict[str, Any]]:
    """Generate :func:`engine_cases` into a temp dir; any case that fails falls back to a torch
    float64 reference (recorded)."""
    from gradgold.generation.generate import generate

    cases = engine_cases()
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(Path(tmp), Path(tmp))
        start = time.perf_counter()
        try:
            outcomes, _ = generate(project, cases, embedded=True, force=True, timeout=int(budget_s))
        except GradgoldError as exc:
            outcomes, info["error"] = [], str(exc)
        info["seconds"] = time.perf_counter() - start
        done = {o.case_id: o for o in outcomes}
        subjects = []
        for c in cases:
            o = done.get(c.id)
            if o is not None and o.status in ("generated", "unchanged"):
                golden, ref = read_golden(golden_path(project, c.id)), "exact (embedded engine, this run)"
            else:
                golden, ref = torch_golden(c, list(c.points)), "torch float64 (engine failed)"
                info[c.id] = o.reason if o else "not generated"
            grad_fn = _exp_cos if c.name.startswith("periodic") else None
            subjects.append(Subject(c.id, c, golden, ref, grad_fn))
    return subjects, info


def mlp_subject() -> Subject:
    """The layer-norm MLP at 4x4: the embedded engine needs minutes for its gradient (measured:
    150 s for 4 points at 2x3), so its reference is torch in float64. (At 2 features layer norm's
    output is +-1 whatever X is, its gradient is O(eps) and pure cancellation: float32 misses it
    by 1e4 ULPs, a property of the function, so the subject uses 4 features.)"""
    w: Workload = WORKLOADS[1]
    points = [grid_points(w.shapes(4), seed=s) for s in (1, 2, 3)]
    case = make_case("ln_mlp", w.fn, w.wl(4), points[0])
    case = replace(case, points=tuple(points), dtypes=DTYPES, suite="bench")
    return Subject(case.id, case, torch_golden(case, points), "torch float64 (no exact golden)")


def batched_subject() -> Subject:
    """``exp(x).sum()`` over a vector of 16 integers from -40 to 0 (exact in every dtype): a gradient
    row from 1 down to 4.2e-18, like a batch of saturated and ordinary points. exp's backward is its
    own result, so torch's float64 Jacobian is correctly rounded: an exact reference in all but name."""
    x = np.round(np.linspace(-40.0, 0.0, 16))
    case = make_case("batched_exp", lambda x: torch.exp(x).sum(), "Total[Exp[x]]", {"x": x})
    case = replace(case, dtypes=DTYPES, suite="bench")
    return Subject(case.id, case, torch_golden(case, [{"x": x}]), "torch float64 (exp: correctly rounded)")


def batched(subject: Subject | None = None) -> list[dict[str, Any]]:
    """The "batched" row: per method, whether the correct function passes, and the smallest
    relative error in the smallest of 16 gradient entries that is caught (every larger one too)."""
    s = subject or batched_subject()
    rows = []
    for method in METHODS:
        base, why = caught_why(s, method, wrong(s.case.fn, no_bug))
        row: dict[str, Any] = {"subject": s.name, "method": method, "false_positive": base, "why": why}
        if base is False:
            row["smallest_entry"] = floor(s, method, smallest_entry)
        rows.append(row)
    return rows


def sweep(subjects: Sequence[Subject]) -> list[dict[str, Any]]:
    """For each subject and method: false positive on the correct function, floors of the two
    relative sweeps, and which structural bugs are caught."""
    rows = []
    for s in subjects:
        for method in METHODS:
            base, why = caught_why(s, method, wrong(s.case.fn, no_bug))
            row: dict[str, Any] = {"subject": s.name, "reference": s.reference, "method": method}
            row["false_positive"], row["why"] = base, why
            if base is None or base:
                rows.append(row)
                continue
            if s.grad_fn is None:
                row["scaled"] = floor(s, method, scaled)
                row["one_entry"] = floor(s, method, one_entry)
                row["one_entry_abs_1"] = caught(s, method, wrong(s.case.fn, one_entry(1.0, True)))
                tr = caught(s, method, wrong(s.case.fn, transposed)) if s.has_matrix else None
                row["transpose"] = tr
            else:
                row["missing_term"] = caught(s, method, wrong(s.case.fn, no_bug, s.grad_fn))
            rows.append(row)
        print(f"  sensitivity {s.name} done", flush=True)
    return rows


def entry_per_size(ns: Sequence[int], slow_max_size: int) -> list[dict[str, Any]]:
    """A single wrong Jacobian entry (+1.0 absolute, and +1e-6 of the largest entry) at every
    size of benchmark 1, against a torch float64 reference."""
    rows = []
    for w in WORKLOADS:
        for n in ns:
            point = grid_points(w.shapes(n), seed=n, scale=w.scale(n))
            case = make_case(w.name, w.fn, w.wl(n), point)
            s = Subject(w.name, case, torch_golden(case, [point]), "torch float64")
            jmax = max(
                float(np.max(np.abs(g))) for k, g in s.golden.grids["float64"].numbers.items() if k != "value"
            )
            row: dict[str, Any] = {"workload": w.name, "n": n, "size": 2 * n * n, "max_abs_grad": jmax}
            for label, bug in (("abs_1", one_entry(1.0, True)), ("rel_1e-6", one_entry(1e-6))):
                for method in ("gradgold_float64", "gradcheck_fast", "gradcheck"):
                    if method == "gradcheck" and 2 * n * n > slow_max_size:
                        row[f"{label}/{method}"] = None
                        continue
                    row[f"{label}/{method}"] = caught(s, method, wrong(w.fn, bug))
            rows.append(row)
            print(f"  one-entry {w.name} n={n} done", flush=True)
    return rows


def false_positives(root: Path) -> dict[str, Any]:
    """Every built-in case, in every dtype (and mode) it declares, checked with its own correct
    function: a mismatch that is not a recorded torch bug (XFAIL) is a false positive. A case whose
    golden is missing or stale (work in progress in the tree) cannot be checked, and is counted
    apart."""
    project = find_project(root)
    cases = load_cases(project)
    checks = run_checks(project, cases)
    statuses: dict[str, int] = {}
    for c in checks:
        status = str(getattr(c, "status", "PASS" if c.passed else "FAIL"))
        statuses[status] = statuses.get(status, 0) + 1
    unusable = sorted({c.case_id for c in checks if c.problem})
    failed = [f"{c.case_id} [{c.dtype}]: mismatch" for c in checks if not c.passed and not c.problem]
    return {
        "cases": len(cases),
        "suites": sorted({c.suite for c in cases}),
        "checks": len(checks),
        "comparisons": sum(len(c.results) for c in checks),
        "statuses": statuses,
        "no_usable_golden": unusable,
        "failed": failed,
    }
