"""Benchmark 3: generator throughput, and the cost of the symbolic strategy as matrices grow.

Symbolic generation can take minutes for one case, so each measurement runs in a child process
that the parent kills at a deadline: a slow size is recorded as "exceeded", never allowed to push
the bench past its time limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gradgold as gg
from gradgold.exact import wl_rational
from gradgold.generation.wlprogram import entry_symbols

from .common import grid_points
from .workloads import WORKLOADS, Workload

HERE = Path(__file__).resolve().parent


def _throughput_child(root: Path, jobs: int, only: list[str]) -> None:
    """In the child: regenerate a copy of the built-in suites (case files only, in a temp dir) with
    the embedded engine, printing one JSON line as each case finishes and a summary at the end."""
    from gradgold.generation.generate import generate
    from gradgold.suite import find_project, load_cases

    start = time.perf_counter()

    def progress(event: str, case: Any, *rest: Any) -> None:
        if event == "done":
            print(json.dumps({"done": case.id, "t": time.perf_counter() - start}), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(root / "golden", Path(tmp) / "golden", ignore=shutil.ignore_patterns("*.npz"))
        (Path(tmp) / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
        project = find_project(Path(tmp))
        cases = [c for c in load_cases(project) if not only or c.id in only or c.suite in only]
        print(json.dumps({"cases": len(cases)}), flush=True)
        kwargs: dict[str, Any] = {"jobs": jobs} if jobs > 1 else {}
        outcomes, info = generate(project, cases, embedded=True, force=True, progress=progress, **kwargs)
    print(
        json.dumps(
            {
                "total_s": time.perf_counter() - start,
                "per_case_s": {o.case_id: o.seconds for o in outcomes},
                "statuses": {o.case_id: o.status for o in outcomes},
                "engine": info.version if info else None,
            }
        ),
        flush=True,
    )


def _run_child(args: list[str], deadline_s: float) -> tuple[list[dict[str, Any]], bool]:
    """Run ``python -m bench.generator ARGS``; its JSON lines, and whether the deadline killed it.
    The child has its own process group, so its kernels die with it."""
    cmd = [sys.executable, "-m", "bench.generator", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=HERE.parent,
    )
    try:
        out, err = proc.communicate(timeout=deadline_s)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        killed = True
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if err.strip():
        rows.append({"stderr_tail": err[-1500:]})
    return rows, killed


def throughput(root: Path, jobs: int, only: tuple[str, ...], deadline_s: float) -> dict[str, Any]:
    """Cases per minute generating the built-in suites with ``jobs`` kernels, engine start included;
    a run cut by the deadline is rated on the cases it finished."""
    lines, killed = _run_child(["throughput", str(root), str(jobs), *only], deadline_s)
    cases = next((x["cases"] for x in lines if "cases" in x), 0)
    done = [x for x in lines if "done" in x]
    final = next((x for x in lines if "total_s" in x), None)
    elapsed = final["total_s"] if final else (done[-1]["t"] if done else deadline_s)
    return {
        "jobs": jobs,
        "selection": list(only) or "all suites",
        "cases": cases,
        "finished": len(done),
        "killed_at_deadline": killed,
        "deadline_s": deadline_s,
        "elapsed_s": elapsed,
        "cases_per_minute": 60.0 * len(done) / elapsed if done else 0.0,
        "per_case_s": final["per_case_s"] if final else {x["done"]: None for x in done},
        "statuses": final["statuses"] if final else {},
        "engine": final["engine"] if final else None,
        "stderr_tail": next((x["stderr_tail"] for x in lines if "stderr_tail" in x), ""),
    }


def _value_program(w: Workload, n: int, point: dict[str, Any], timeout: float) -> str:
    """WL text evaluating only the value at the point (no D): the other half of the strategy's
    cost, by difference with the full program."""
    binds = ", ".join(f"{p} -> {entry_symbols(p, (n, n))}" for p in w.params)
    rules = ", ".join(
        f"gg${p}${i + 1}${j + 1} -> {wl_rational(float(point[p][i, j]))}"
        for p in w.params
        for i in range(n)
        for j in range(n)
    )
    body = f"ReleaseHold[Hold[{w.wl(n)}] /. {{{binds}}}] /. {{{rules}}}"
    return f"TimeConstrained[N[{body}, 30], {int(timeout)}, $Aborted]"


def child(name: str, ns: list[int], timeout: float) -> None:
    """In the child process: time value-only and value+gradient generation for each n, printing
    one JSON line per measurement as soon as it is known."""
    from gradgold.generation.engine import Engine, locate_kernel
    from gradgold.generation.generate import evaluate_case

    w = next(x for x in WORKLOADS if x.name == name)
    path, kind = locate_kernel(None, True)
    with Engine(path, kind) as engine:
        for n in ns:
            point = grid_points(w.shapes(n), seed=n, scale=w.scale(n))
            start = time.perf_counter()
            outcome = engine.evaluate(_value_program(w, n, point, timeout))
            value_s = time.perf_counter() - start
            print(
                json.dumps(
                    {"n": n, "kind": "value", "s": value_s, "ok": "Aborted" not in str(outcome.result)}
                )
            )
            sys.stdout.flush()
            case = gg.case(wolfram=w.wl(n), points=[point], name=name, dtypes=("float64",))(w.fn)
            start = time.perf_counter()
            try:
                evaluate_case(engine, case, int(timeout))
                ok = True
            except gg.GradgoldError:
                ok = False
            print(json.dumps({"n": n, "kind": "gradient", "s": time.perf_counter() - start, "ok": ok}))
            sys.stdout.flush()


def symbolic(name: str, ns: list[int], deadline_s: float) -> dict[str, Any]:
    """Run :func:`child` for one workload; sizes not reached by the deadline are recorded as such."""
    lines, killed = _run_child(["symbolic", name, ",".join(map(str, ns)), str(deadline_s)], deadline_s)
    rows = [r for r in lines if "n" in r]
    done = {(r["n"], r["kind"]) for r in rows}
    missing = [f"n={n} {k}" for n in ns for k in ("value", "gradient") if (n, k) not in done]
    return {
        "workload": name,
        "deadline_s": deadline_s,
        "killed_at_deadline": killed,
        "rows": rows,
        "not_reached": missing,
        "stderr_tail": next((x["stderr_tail"] for x in lines if "stderr_tail" in x), ""),
        "hessian": "not measured yet (Hessians landed in the core during this work, commit 973ef64)",
    }


if __name__ == "__main__":
    if sys.argv[1] == "throughput":
        _throughput_child(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        child(sys.argv[2], [int(x) for x in sys.argv[3].split(",")], float(sys.argv[4]))
