"""The rigorous evaluator against the issue #12 targets, with the engine path beside it (issue #12).

Measures, in one run on this machine:
1. an 8-16-1 tanh MLP loss over 169 inputs: value + gradient, and the full Hessian (both with the
   magnitudes of terms the generator stores), by one jet pass and, side by side, by directional
   passes (one per input, one per pair of inputs);
2. ``Total[Sin[x]]`` and ``x . x`` with ``projections=4, full_jacobian=False`` at 10^4 and 10^5 inputs;
3. every built-in suite under golden/ recomputed (in process, no file written), with how many
   cases the evaluator supports and whether every float64 equals the committed one (cross-check);
4. peak memory (max RSS) of this process;
5. the same MLP gradient and ``Total[Sin[x]]`` at 10^4 with the embedded engine (``--engine-timeout``
   seconds each, in a subprocess through ``gradgold generate --embedded``), for the ratio;
6. the embedded engine's held tree of every built-in rigorous case compared with gradgold's parse
   (``rigorous.crosstree``): the kernel's start and the comparison, CPU seconds of both processes;
7. ``gradgold generate --force --compare-trees`` of every built-in suite into a temporary copy of
   golden/ (what ``make golden`` runs, everything regenerated), CPU seconds with the kernel's.

Goldens hold magnitudes of terms only for a case declared with ``magnitudes=True``: the MLP rows are
measured without (the default), and its gradient once more with them.

Writes bench/rigorous.json and bench/RIGOROUS.md.
Run: .venv/bin/python bench/rigorous.py [--quick] [--engine-timeout S] [--no-hessian]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import flint  # noqa: E402

import gradgold as gg  # noqa: E402
from gradgold.cases import Case  # noqa: E402
from gradgold.errors import EvaluationError  # noqa: E402
from gradgold.generation.rigorous import derivatives  # noqa: E402
from gradgold.generation.rigorous.reference import RigorousUnsupported, rigorous_golden_of  # noqa: E402
from gradgold.golden import read_golden  # noqa: E402
from gradgold.suite import find_project, golden_path, load_cases  # noqa: E402

MLP = "(w2 . Tanh[W1 . x + b1] + b2)^2"
MLP_SHAPES = {"W1": (16, 8), "b1": (16,), "w2": (16,), "b2": (), "x": (8,)}


def _mlp(W1: Any, b1: Any, w2: Any, b2: Any, x: Any) -> Any:
    return 0


def _vec(x: Any) -> Any:
    return 0


def mlp_case(order: int, magnitudes: bool = False) -> Case:
    pts = gg.uniform(-1, 1, shapes=MLP_SHAPES, n=1, seed=1)
    return gg.case(
        wolfram=MLP, points=pts, order=order, dtypes=["float64"], name=f"mlp{order}", magnitudes=magnitudes
    )(_mlp)


def gradient_case(wolfram: str, n: int) -> Case:
    """A full first-order gradient over ``n`` inputs (no projections)."""
    pts = gg.uniform(-1, 1, shapes={"x": (n,)}, n=1, seed=2)
    name = f"{'sin' if 'Sin' in wolfram else 'dot'}{n}g"
    return gg.case(wolfram=wolfram, points=pts, order=1, dtypes=["float64"], name=name)(_vec)


_GRADIENT_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {bench!r})
import rigorous as B
from gradgold.generation.rigorous import derivatives
if {dense!r}:
    from flint import arb_mat
    derivatives.SparseRow = lambda entries: arb_mat(1, {n}, [int(j in entries) for j in range({n})])
start, cpu = time.perf_counter(), time.process_time()
B.rigorous_golden_of(B.gradient_case({wolfram!r}, {n}))
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
# VmHWM: this process's own peak (ru_maxrss would include the parent's size when it forked)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"wall s": round(wall, 2), "cpu s": round(cpu, 2), "peak RSS MiB": round(peak, 1)}}))
"""


def full_gradients(quick: bool) -> dict[str, Any]:
    """Full gradients by one first-order jet pass, each in its own process (its peak memory is its
    own): sparse rows against the dense 1 x n rows jets carried before, side by side at 2,000
    inputs, and sparse rows at 10^4 and 10^5 (dense ones would need about 5 GB at 10^4)."""
    out: dict[str, Any] = {}
    sizes = (500,) if quick else (2000, 10_000, 100_000)
    for w in ("Total[Sin[x]]", "x . x"):
        for n in sizes:
            for dense in (False, True) if n <= 2000 else (False,):
                child = _GRADIENT_CHILD.format(bench=str(HERE), dense=dense, n=n, wolfram=w)
                run = subprocess.run(
                    [sys.executable, "-c", child], capture_output=True, text=True, timeout=1800, check=True
                )
                rows = "dense" if dense else "sparse"
                out[f"{w} n={n} full gradient, {rows} rows"] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def vector_case(wolfram: str, n: int) -> Case:
    pts = gg.uniform(-1, 1, shapes={"x": (n,)}, n=1, seed=2)
    name = f"{'sin' if 'Sin' in wolfram else 'dot'}{n}"
    return gg.case(
        wolfram=wolfram, points=pts, projections=4, full_jacobian=False, dtypes=["float64"], name=name
    )(_vec)


#: CPU seconds of each timed measurement (the wall clock counts other processes on a shared machine).
CPU: dict[str, float] = {}


def timed(fn: Callable[[], Any], label: str = "") -> tuple[float, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if label:
        CPU[label] = round(time.process_time() - cpu, 2)
    return time.perf_counter() - start, out


def width_bits(case: Case) -> int:
    """Worst certified digits over the golden (how wide the widest ball was, at the stored precision)."""
    g = rigorous_golden_of(case)
    return min(int(c.min()) for d in g.grids.values() for c in d.certified.values() if c.size)


def suites() -> dict[str, Any]:
    project = find_project(ROOT)
    cases = load_cases(project)
    supported = unsupported = refused = same = differ = 0
    disagreements: list[str] = []
    start = time.perf_counter()
    min_certified = 10**6
    for c in cases:
        try:
            fresh = rigorous_golden_of(c)
        except RigorousUnsupported:
            unsupported += 1
            continue
        except EvaluationError as exc:
            refused += 1
            disagreements.append(f"{c.id}: refused: {str(exc)[-160:]}")
            continue
        supported += 1
        committed = read_golden(golden_path(project, c.id), root=project.golden_dir)
        ok = True
        for grid, data in committed.grids.items():
            for q, arr in data.numbers.items():
                mine = np.ascontiguousarray(fresh.grids[grid].numbers[q], dtype=np.float64)
                if mine.shape != arr.shape or mine.tobytes() != np.ascontiguousarray(arr).tobytes():
                    ok = False
                    disagreements.append(f"{c.id} [{grid}] {q}")
                cert = fresh.grids[grid].certified[q]
                if cert.size:
                    min_certified = min(min_certified, int(cert.min()))
        same += ok
        differ += not ok
    return {
        "cases": len(cases),
        "supported": supported,
        "unsupported (engine fallback)": unsupported,
        "refused": refused,
        "identical float64s": same,
        "differing": differ,
        "disagreements": disagreements,
        "seconds": round(time.perf_counter() - start, 1),
        "min certified digits": min_certified,
    }


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def held_trees() -> dict[str, Any]:
    """The embedded engine's held tree of every built-in case the rigorous evaluator takes, compared
    with gradgold's parse (``rigorous.crosstree``): the kernel's start and the comparison, in wall
    seconds and in CPU seconds of this process and of the kernel, and every disagreement."""
    from gradgold.generation.engine import Engine, locate_kernel
    from gradgold.generation.rigorous.crosstree import compare_held_trees
    from gradgold.generation.rigorous.reference import support_problem

    cases = [
        c
        for c in load_cases(find_project(ROOT))
        if c.strategy in ("auto", "rigorous") and not support_problem(c)
    ]
    start, cpu = time.perf_counter(), time.process_time()
    with Engine(*locate_kernel(None, True)) as engine:
        kernel = engine._launched[-1].pid  # the kernel process wolframclient started
        started, ours, theirs = time.perf_counter(), time.process_time(), _process_cpu(kernel)
        out = {
            "cases": len(cases),
            "engine": f"{engine.info.name} {engine.info.version}",
            "start wall s": round(started - start, 1),
            "start cpu s (gradgold + kernel)": round(ours - cpu + theirs, 1),
        }
        refused = compare_held_trees(engine, cases, 300)
        out["compare wall s"] = round(time.perf_counter() - started, 1)
        out["compare cpu s (gradgold)"] = round(time.process_time() - ours, 1)
        out["compare cpu s (kernel)"] = round(_process_cpu(kernel) - theirs, 1)
    out["agree"] = len(cases) - len(refused)
    out["disagreements"] = list(refused.values())
    return out


def regenerate_all(extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``gradgold generate --force -q`` of every built-in suite into a temporary copy of golden/
    (the repository's goldens are not touched), as ``make golden`` would run it with ``extra``:
    wall seconds, CPU seconds of gradgold and of every process it started (the kernel included),
    the counts line and the held-tree line when there is one."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
        shutil.copytree(ROOT / "golden", root / "golden", ignore=shutil.ignore_patterns("__pycache__"))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        cmd = [sys.executable, "-m", "gradgold", "generate", "--force", *extra]
        run = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    said = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("held trees")]
    return {
        "args": " ".join(["generate", "--force", *extra]),
        "wall s": round(wall, 1),
        "cpu s (with children)": round(cpu, 1),
        "exit": run.returncode,
        "summary": run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:],
        "held trees": said[0] if said else "",
    }


ENGINE_CASES = """
import gradgold as gg
MLP_SHAPES = {shapes!r}

@gg.case(wolfram={mlp!r}, points=gg.uniform(-1, 1, shapes=MLP_SHAPES, n=1, seed=1), dtypes=["float64"],
         strategy="substituted")
def mlp(W1, b1, w2, b2, x):
    return 0

@gg.case(wolfram="Total[Sin[x]]", points=gg.uniform(-1, 1, shapes={{"x": (10000,)}}, n=1, seed=2),
         projections=4, full_jacobian=False, dtypes=["float64"], strategy="substituted")
def sin10000(x):
    return 0
"""


def engine(timeout: int) -> dict[str, Any]:
    """Each case with the embedded engine, in its own ``gradgold generate`` with --timeout."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
        (root / "golden").mkdir()
        (root / "golden" / "eng.py").write_text(ENGINE_CASES.format(shapes=MLP_SHAPES, mlp=MLP))
        for name in ("mlp", "sin10000"):
            cmd = [
                sys.executable,
                "-m",
                "gradgold",
                "generate",
                "--embedded",
                "-q",
                "--timeout",
                str(timeout),
            ]
            start = time.perf_counter()
            run = subprocess.run(
                [*cmd, f"eng/{name}"], cwd=root, capture_output=True, text=True, timeout=timeout + 240
            )
            seconds = time.perf_counter() - start
            ok = run.returncode == 0
            out[name] = {"seconds": round(seconds, 1), "ok": ok, "note": "" if ok else run.stdout[-300:]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes, no engine, no Hessian")
    ap.add_argument("--engine-timeout", type=int, default=120)
    ap.add_argument("--no-hessian", action="store_true")
    ap.add_argument("--no-engine", action="store_true")
    args = ap.parse_args()
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "python-flint": flint.__version__,
            "date": time.strftime("%Y-%m-%d"),
        }
    }
    t, _ = timed(lambda: rigorous_golden_of(mlp_case(1)), "mlp169 value+gradient s")
    results["mlp169 value+gradient s"] = round(t, 2)
    key = "mlp169 value+gradient, magnitudes=True s"
    t, _ = timed(lambda: rigorous_golden_of(mlp_case(1, magnitudes=True)), key)
    results[key] = round(t, 2)
    if not (args.quick or args.no_hessian):
        t, _ = timed(lambda: rigorous_golden_of(mlp_case(2)), "mlp169 hessian s")
        results["mlp169 hessian s"] = round(t, 1)
        # the same goldens by directional passes (one per input, one per pair: polarization)
        derivatives.JETS = False
        try:
            for order, label in ((1, "mlp169 value+gradient"), (2, "mlp169 hessian")):
                key = f"{label}, directional passes s"
                t, _ = timed(lambda order=order: rigorous_golden_of(mlp_case(order)), key)
                results[key] = round(t, 2)
        finally:
            derivatives.JETS = True
    sizes = (1000,) if args.quick else (10_000, 100_000)
    for n in sizes:
        for w in ("Total[Sin[x]]", "x . x"):
            label = f"{w} n={n} projections=4 s"
            t, _ = timed(lambda w=w, n=n: rigorous_golden_of(vector_case(w, n)), label)
            results[label] = round(t, 2)
    results["full gradients"] = full_gradients(args.quick)
    results["built-in suites"] = suites()
    results["peak RSS MiB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if not (args.quick or args.no_engine):
        results["held trees"] = held_trees()
        results["make golden, everything regenerated"] = regenerate_all(("--compare-trees", "--embedded"))
    results["cpu seconds"] = CPU
    if not (args.quick or args.no_engine):
        results[f"engine (embedded, --timeout {args.engine_timeout})"] = engine(args.engine_timeout)
    elif (HERE / "rigorous.json").exists():  # keep the last engine measurement, marked as such
        old = json.loads((HERE / "rigorous.json").read_text())
        for k, v in old.items():
            if k.startswith(("engine", "held trees", "make golden")):
                results[k if k.endswith("(from an earlier run)") else k + " (from an earlier run)"] = v
    (HERE / "rigorous.json").write_text(json.dumps(results, indent=1) + "\n")
    (HERE / "RIGOROUS.md").write_text(render(results))
    print(json.dumps(results, indent=1))


def _reverse_mode(r: dict[str, Any]) -> list[str]:
    """Why first-order gradients have no reverse (backward) sweep, from this run's numbers."""
    grads = r["full gradients"]
    sin4, sin5 = (f"Total[Sin[x]] n={n} full gradient, sparse rows" for n in (10_000, 100_000))
    dot5 = "x . x n=100000 full gradient, sparse rows"
    if not {sin4, sin5, dot5} <= set(grads) or "mlp169 value+gradient s" not in r:
        return []
    mlp = r["cpu seconds"]["mlp169 value+gradient s"]
    return [
        "Reverse mode (one backward sweep for a gradient) is not built, because no case of this bench",
        f"needs it: per input, a first-order jet pass costs {mlp / 169 * 1000:.2f} ms for the 169-input MLP",
        f"({mlp} CPU s in all), and {grads[sin4]['cpu s'] / 10:.2f} ms / {grads[sin5]['cpu s'] / 100:.2f} ms",
        "for `Total[Sin[x]]`'s full gradient at 10^4 / 10^5 inputs (`Total` and a vector `Dot` add sparse",
        "rows in place, in the left fold's order: the same balls, linear instead of quadratic). The 10^4",
        "and 10^5 projection rows ask for 4 projections (`full_jacobian=False`): 4 directional passes",
        "however a full gradient would be computed, so a backward sweep would not touch them. A full",
        f"gradient at 10^5 inputs takes {grads[sin5]['cpu s']} s (`Total[Sin[x]]`) and "
        f"{grads[dot5]['cpu s']} s (`x . x`), {grads[sin5]['peak RSS MiB']} MiB.",
    ]


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# The rigorous evaluator (issue #12)",
        "",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, Python {m['python']}, "
        f"python-flint {m['python-flint']}, {m['date']}. Produced by `bench/rigorous.py`; numbers in "
        "`bench/rigorous.json`.",
        "",
        "Wall seconds on a machine shared with other jobs, and this process's CPU seconds (what an",
        "idle machine would take, about):",
        "",
        "| measurement | wall s | CPU s |",
        "|---|---|---|",
    ]
    for k, v in r.items():
        if isinstance(v, (int, float)) and k.endswith(" s"):
            lines.append(f"| {k[:-2]} | {v} | {r.get('cpu seconds', {}).get(k, '')} |")
    lines += ["", f"Peak memory (max RSS of the whole run): {r['peak RSS MiB']} MiB.", ""]
    s = r["built-in suites"]
    lines += [
        f"Built-in suites: {s['cases']} cases; the evaluator supports {s['supported']} "
        f"({s['unsupported (engine fallback)']} fall back to the engine by name, {s['refused']} refused), "
        f"recomputed in {s['seconds']} s; {s['identical float64s']} have every float64 identical to the "
        f"committed golden, {s['differing']} differ; the fewest certified digits of any stored number: "
        f"{s['min certified digits']}.",
        "",
    ]
    for d in s["disagreements"]:
        lines.append(f"- {d}")
    if "full gradients" in r:
        lines += [
            "Full gradients by one first-order jet pass, each in its own process (gradient rows sparse:",
            "index -> ball, or dense 1 x N `arb_mat` rows as before; the same balls); its peak memory is",
            "the process's own (`VmHWM`), imports included (about 50 MiB):",
            "",
            "| measurement | wall s | CPU s | peak RSS MiB of its process |",
            "|---|---|---|---|",
        ]
        for k, v in r["full gradients"].items():
            lines.append(f"| {k} | {v['wall s']} | {v['cpu s']} | {v['peak RSS MiB']} |")
        if r.get("full gradients run"):
            lines += ["", r["full gradients run"]]
        lines += ["", *_reverse_mode(r), ""]
    held = [k for k in r if k.startswith("held trees")]
    if held:
        h = r[held[0]]
        lines += [
            "",
            f"Held trees ({held[0]}; {h['engine']}): {h['agree']} of {h['cases']} built-in rigorous cases "
            f"read alike by the engine and gradgold's parser. The kernel started in {h['start wall s']} s "
            f"wall ({h['start cpu s (gradgold + kernel)']} CPU s); the comparison took "
            f"{h['compare wall s']} s wall ({h['compare cpu s (gradgold)']} CPU s in gradgold, "
            f"{h['compare cpu s (kernel)']} in the kernel).",
        ]
        lines += [f"- {d}" for d in h["disagreements"]]
    regen = [k for k in r if k.startswith("make golden")]
    if regen:
        g = r[regen[0]]
        lines += [
            "",
            f"{regen[0]} (`gradgold {g['args']}` into a copy of golden/): {g['wall s']} s wall, "
            f"{g['cpu s (with children)']} CPU s with the kernel's, exit {g['exit']}: {g['summary']}; "
            f"{g['held trees']}.",
        ]
    eng = [k for k in r if k.startswith("engine")]
    if eng:
        lines += ["", f"Engine path ({eng[0]}):", ""]
        for name, e in r[eng[0]].items():
            state = "ok" if e["ok"] else "did not finish / failed"
            lines.append(f"- {name}: {e['seconds']} s, {state}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
