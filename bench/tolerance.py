"""Tolerance evidence: how far torch is from the exact references, per dtype, and how small an error
in a gradient the checker still catches. Rewrites its own sections of bench/TOLERANCE.md.

    .venv/bin/python bench/tolerance.py                      # all built-in suites, default modes
    .venv/bin/python bench/tolerance.py --dtypes float16     # refresh one dtype's row only
    .venv/bin/python bench/tolerance.py --quick --out x.md   # reverse mode only, elsewhere
    .venv/bin/python bench/tolerance.py --overrides          # the per-case overrides, without them

Measured in *allowance units*: an element's error divided by the checker's own per-element
allowance (:func:`gradgold.check.allowance_terms` fed to :func:`gradgold.tolerance.allowance`) with
rtol_ulps = atol_ulps = 1, that is ``eps * (|ref| + cond + tiny + mag)``. The largest value over
every case, mode and point is the smallest ``rtol_ulps`` that would pass them all. Also shown: the
largest error in ULPs of the element itself (elements at least 2^-10 of their quantity's largest).

References: float64 and float32 (and complex128 and complex64, whose parts they are) use the goldens
(exact). float16 and bfloat16 use the golden's own grid where it has one, else, for points the
dtype cannot hold, torch in float64 at the rounded point (its error, about 1e-16 relative, is 1e-13
of a float16 ULP), marked "f64 ref" in the table. Left out there: a ``magnitudes=True`` case (the
golden holds its magnitudes of terms at its own points only) and a case with a recorded torch bug in
any dtype or mode (torch's float64 may carry it at the rounded points: a reference of 0 for a tiny
Hessian entry made bfloat16 look 7e17 allowances off). Cases with a recorded torch bug
(``xfail=``) are left out: their errors are the bug. A mode that does not apply to a case
(``double_backward`` where the golden holds no second derivative) is not measured, as the checker
skips it.

The script owns only the text between its markers in TOLERANCE.md (``<!-- bench/tolerance.py:
begin NAME -->`` ... ``end NAME``: the table, and the overrides); everything else there is
hand-written evidence and survives a rerun. A run with ``--dtypes`` replaces those dtypes' rows and
keeps the others (measured in the same modes), under a file lock, so runs per dtype may go in
parallel.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gradgold.artifacts import obtained  # noqa: E402
from gradgold.cases import Case  # noqa: E402
from gradgold.check import allowance_terms, check_golden, reference_grid, skip_reason  # noqa: E402
from gradgold.errors import GradgoldError  # noqa: E402
from gradgold.exact import COMPLEX_PARTS, grid_of, round_to_grid  # noqa: E402
from gradgold.golden import Golden, GridData  # noqa: E402
from gradgold.modes import DEFAULT_MODES, case_modes  # noqa: E402
from gradgold.suite import find_project, fresh_golden, load_cases  # noqa: E402
from gradgold.tolerance import DEFAULT_RTOL_ULPS, allowance, eps_of  # noqa: E402
from gradgold.xfail import expected_failure  # noqa: E402

DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64")
LADDER = [10.0**-k for k in range(1, 14)]
DOC = ROOT / "bench" / "TOLERANCE.md"
TABLE, OVERRIDES = "table", "overrides"
CPU_LINE = "CPU seconds per dtype (process time, the last run of each row):"
TABLE_HEADER = (
    "| dtype | checks | error in allowance units: median / 90% / 99% / max | worst case |"
    " largest error, element ULPs |"
    " default rtol_ulps | smallest injected gradient error caught (worst case / median) |"
)


class Scaled(torch.autograd.Function):
    """Identity whose derivative is scaled by ``scale`` in every mode: a gradient off by a relative
    ``scale - 1`` everywhere."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        return x.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.scale = inputs[1]

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return g * ctx.scale, None

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor, _: Any) -> torch.Tensor:
        return t * ctx.scale


def f64_grid(case: Case, golden: Golden, dtype: str) -> tuple[GridData, bool]:
    """The dtype's references: the golden's, else torch float64 at the rounded points."""
    try:
        return reference_grid(golden, dtype), False
    except GradgoldError:
        pass
    base = golden.grids["float64"]
    inputs = {p: round_to_grid(base.inputs[p], dtype) for p in case.params}
    numbers = {q: np.zeros_like(v) for q, v in base.numbers.items()}
    data = GridData(inputs=inputs, numbers=numbers, digits={}, certified={})
    got = obtained(case, data, "float64", mode="reverse")
    return GridData(inputs=inputs, numbers=got, digits={}, certified={}), True


def usage(case: Case, golden: Golden, data: GridData, dtype: str, mode: str) -> tuple[float, float]:
    """(largest error in allowance units, largest error in the element's ULPs) of one check."""
    got = obtained(case, data, dtype, mode=mode)
    eps, worst, worst_ulp = eps_of(dtype), 0.0, 0.0
    for q, ref in data.numbers.items():
        for i in range(data.n_points):
            r, g = ref[i], got[q][i]
            cond, mag = allowance_terms(case, golden, data, i, q)
            allowed = allowance(r, dtype, rtol_ulps=1.0, atol_ulps=1.0, cond=cond, magnitude=mag).total
            err = np.abs(g - r)
            if not np.all(np.isfinite(err)):
                return float("inf"), float("inf")
            worst = max(worst, float(np.max(err / allowed))) if r.size else worst
            scale = float(np.max(np.abs(r))) if r.size else 0.0
            big = np.abs(r) >= scale * 2.0**-10
            if np.any(big):
                _, e = np.frexp(np.abs(r[big]))
                worst_ulp = max(worst_ulp, float(np.max(err[big] / (eps * np.ldexp(1.0, e - 1)))))
    return worst, worst_ulp


#: What :func:`floor` gives when the correct function already fails (it says nothing of detection).
BASELINE_FAILS = -1.0


def floor(case: Case, golden: Golden, dtype: str) -> float | None:
    """The smallest relative error in the gradient (all entries scaled) that the reverse-mode check
    catches, down the ladder 1e-1 .. 1e-13; None if not even 1e-1 is caught, :data:`BASELINE_FAILS`
    if the correct function fails."""
    fn: Callable[..., Any] = case.fn
    if not all(r.passed for r in check_golden(case, golden, dtype, mode="reverse")):
        return BASELINE_FAILS
    best = None
    for eps in LADDER:

        def wrong(*args: torch.Tensor, s: float = 1 + eps) -> torch.Tensor:
            return Scaled.apply(fn(*args), s)

        results = check_golden(case, golden, dtype, fn=wrong, mode="reverse")
        if not any(not r.passed for r in results if r.quantity.startswith("grad/")):
            break
        best = eps
    return best


def measured(case: Case, dtype: str, modes: Sequence[str]) -> list[str]:
    """The modes in which ``case`` is measured in ``dtype`` (none: left out): not a dtype of its
    kind, a recorded torch bug or a per-case rtol_ulps in that dtype leaves it out; the modes are
    those the checker runs for the case, less those it skips as not applicable."""
    if any(expected_failure(case, dtype, m) for m in modes) or dtype in case.rtol_ulps:
        return []
    if (dtype in COMPLEX_PARTS) != bool(case.complex_params):
        return []  # complex dtypes for complex inputs, real dtypes for the others
    if dtype in ("float64", "float32") and dtype not in case.dtypes:
        return []  # float16/bfloat16 go over every real case, listed or not
    return [m for m in case_modes(case, modes) if not skip_reason(case, dtype, m)]


def collect(modes: Sequence[str], dtypes: Sequence[str]) -> dict[str, Any]:
    """Per dtype: every check's usage and ULP error, every case's detection floor, and the
    process CPU seconds the dtype took."""
    project = find_project(ROOT)
    rows: dict[str, Any] = {
        d: {"usage": [], "ulps": [], "floors": [], "f64ref": 0, "checks": 0, "cpu_s": 0.0} for d in dtypes
    }
    cases = load_cases(project)
    for dtype in dtypes:
        start, row = time.process_time(), rows[dtype]
        for case in cases:
            chosen = measured(case, dtype, modes)
            if not chosen:
                continue
            try:
                golden = fresh_golden(project, case)
            except GradgoldError:
                continue
            data, synthetic = f64_grid(case, golden, dtype)
            if synthetic and (case.magnitudes or case.xfail):
                continue  # no magnitudes off the golden's points; torch's recorded bug in the reference
            row["f64ref"] += synthetic
            for mode in chosen:
                u, ulp = usage(case, golden, data, dtype, mode)
                row["usage"].append((u, case.id, mode))
                row["ulps"].append((ulp, case.id, mode))
                row["checks"] += 1
            if not synthetic and any(
                np.any(v != 0) for q, v in data.numbers.items() if q.startswith("grad/")
            ):
                row["floors"].append(
                    (floor(case, Golden(golden.meta, {dtype: data, "float64": data}), dtype), case.id)
                )
        row["cpu_s"] = time.process_time() - start
        print(f"  {dtype}: {row['checks']} checks, {row['cpu_s']:.0f} CPU s", file=sys.stderr, flush=True)
    return rows


def table_row(dtype: str, row: dict[str, Any]) -> str:
    """One dtype's line of the table."""
    finite = [x for x in row["usage"] if np.isfinite(x[0])]
    u = max(finite)
    q = np.quantile([x[0] for x in finite], [0.5, 0.9, 0.99])
    ulp = max(x for x in row["ulps"] if np.isfinite(x[0]))
    nonfinite = len(row["usage"]) - len(finite)
    found = [(f, c) for f, c in row["floors"] if f is not None and f != BASELINE_FAILS]
    missed = [c for f, c in row["floors"] if f is None]
    failing = [c for f, c in row["floors"] if f == BASELINE_FAILS]
    caught = "n/a (no exact grid)"
    if found:
        worst = max(f for f, _ in found)
        at = [c for f, c in found if f == worst]
        caught = (
            f"{worst:.0e} ({_few(at, 2)}) / {float(np.median([f for f, _ in found])):.0e} ({len(found)} cases"
            + (f"; not caught at 1e-1: {_few(missed, 6)}" if missed else "")
            + (f"; failing baseline: {_few(failing, 6)}" if failing else "")
            + ")"
        )
    ref = f" ({row['f64ref']} f64 ref)" if row["f64ref"] else ""
    return (
        f"| {dtype} | {row['checks']}{ref}, {nonfinite} non-finite |"
        f" {q[0]:.2g} / {q[1]:.2g} / {q[2]:.2g} / {u[0]:.3g} | {u[1]} [{u[2]}] |"
        f" {ulp[0]:.3g} ({ulp[1]} [{ulp[2]}]) | {DEFAULT_RTOL_ULPS[grid_of(dtype)]:g} | {caught} |"
    )


def _few(names: Sequence[str], n: int) -> str:
    """The first ``n`` of ``names``, and how many more."""
    return ", ".join(list(names[:n]) + ([f"{len(names) - n} more"] if len(names) > n else []))


def render_table(lines_by_dtype: dict[str, str], modes: Sequence[str], cpu: dict[str, float]) -> str:
    """The generated table section: what was measured, how to rerun, the rule, the rows (in
    :data:`DTYPES` order) and how to read them."""
    cost = ", ".join(f"{d} {cpu[d]:.0f}" for d in DTYPES if d in cpu)
    return "\n".join(
        [
            f"torch {torch.__version__}, CPU; modes: {', '.join(modes)}; every case of the built-in suites",
            "except those with a recorded torch bug (`xfail=`) and, per dtype, those with a per-case",
            "rtol_ulps; a mode the checker skips as not applicable (`double_backward` without a second",
            "derivative in the golden) is not measured. Regenerate: `.venv/bin/python bench/tolerance.py`",
            "(`--dtypes D ...` refreshes those rows only).",
            f"{CPU_LINE} {cost}.",
            "",
            "Rule (`gradgold.tolerance`, the checker's allowance with rtol_ulps = atol_ulps = 1):",
            "`|got - ref| <= eps * (rtol_ulps * (|ref| + cond + tiny) + atol_ulps * mag)` per element,",
            "`cond = sum_i |x_i| |d ref / d x_i|` from the golden's next derivative order (0 at the",
            "highest), `mag` the element's stored magnitude of terms (`magnitudes=True` cases), else its",
            "own `|ref|` (`max|ref|` for `normwise=` cases); `tiny` the dtype's smallest normal.",
            "",
            TABLE_HEADER,
            "|---|---|---|---|---|---|---|",
            *(lines_by_dtype[d] for d in DTYPES if d in lines_by_dtype),
            "",
            "Reading: a check passes when its allowance-unit error is below rtol_ulps (atol_ulps is the",
            "floor term). The injected error scales every gradient entry by (1 + e) through a custom",
            "autograd.Function; 'caught' means some gradient quantity of the case fails in reverse mode.",
        ]
    )


def markers(name: str) -> tuple[str, str]:
    """The comment lines that delimit the section ``name`` this script owns in TOLERANCE.md."""
    return (
        f"<!-- bench/tolerance.py: begin {name} (generated: edits here are lost on a rerun) -->",
        f"<!-- bench/tolerance.py: end {name} -->",
    )


#: A new file (``--out`` elsewhere): both sections, empty.
BLANK = "\n".join([*markers(TABLE), *markers(OVERRIDES), ""])


def section(text: str, name: str) -> str:
    """The current body of section ``name`` of ``text`` (between its markers)."""
    begin, end = markers(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SystemExit(
            f"bench/tolerance.py: {DOC.name} must hold the lines {begin!r} and {end!r} once each, in "
            "that order, around the generated section; restore them (git show HEAD:bench/TOLERANCE.md)"
        )
    return text[text.index(begin) + len(begin) : text.index(end)].strip("\n")


def splice(text: str, name: str, body: str) -> str:
    """``text`` with section ``name``'s body replaced by ``body``; every other byte kept."""
    section(text, name)  # refuses a file without the markers
    begin, end = markers(name)
    return text[: text.index(begin) + len(begin)] + "\n" + body.strip("\n") + "\n" + text[text.index(end) :]


def kept_rows(body: str, modes: Sequence[str]) -> tuple[dict[str, str], dict[str, float]]:
    """The rows (and CPU seconds) of an existing table section, by dtype, for a partial rerun;
    refuses rows measured in other modes, which a table must not mix."""
    found = re.search(r"modes: ([a-z_, ]+);", body)
    if found is None or found.group(1) != ", ".join(modes):
        raise SystemExit(
            f"bench/tolerance.py: the table was measured in other modes ({found.group(1) if found else '?'});"
            " rerun every dtype (no --dtypes) or keep --quick runs out of TOLERANCE.md (--out)"
        )
    rows = {d: line for line in body.splitlines() for d in DTYPES if line.startswith(f"| {d} |")}
    line = next((x for x in body.splitlines() if x.startswith(CPU_LINE)), "")
    cpu = {d: float(n) for d, n in re.findall(r"(\w+) (\d+)", line.removeprefix(CPU_LINE)) if d in DTYPES}
    return rows, cpu


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` itself (created empty if absent), so parallel runs per
    dtype each read and rewrite it whole, one after the other."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_table(path: Path, rows: dict[str, Any], modes: Sequence[str]) -> str:
    """Put the measured dtypes' rows into ``path``'s table section, keeping the other dtypes'."""
    new = {d: table_row(d, r) for d, r in rows.items() if r["checks"]}
    cpu = {d: r["cpu_s"] for d, r in rows.items()}
    with locked(path):
        text = path.read_text() or BLANK
        if set(rows) != set(DTYPES) and section(text, TABLE):
            old_rows, old_cpu = kept_rows(section(text, TABLE), modes)
            # a rerun dtype's row is the new one, or none when it measured nothing
            new = {d: line for d, line in old_rows.items() if d not in rows} | new
            cpu = old_cpu | cpu
        body = render_table(new, modes, cpu)
        path.write_text(splice(text, TABLE, body))
    return body


def overrides() -> list[str]:
    """Every case with a tolerance override (``rtol_ulps=``, ``normwise=``) checked without it and
    with it, in its dtypes and default modes (those the checker runs, less a recorded torch bug's):
    the worst element's error over its allowance, per quantity (without it above 1: the override is
    needed there; with it at most 1: it suffices), and the check that needs it most. Markdown rows."""
    project = find_project(ROOT)
    rows = [
        "| case | override | without it: worst error / default allowance, per quantity | worst at"
        " | with it |",
        "|---|---|---|---|---|",
    ]
    for case in load_cases(project):
        if not (case.rtol_ulps or case.normwise):
            continue
        golden = fresh_golden(project, case)
        bare = _worst(dataclasses.replace(case, rtol_ulps={}, normwise=""), golden)
        kept = max((w for w, _ in _worst(case, golden).values()), default=0.0)
        kinds = [f"rtol_ulps[{d}]={v:g}" for d, v in case.rtol_ulps.items()]
        kind = ", ".join(kinds + ["normwise="] * bool(case.normwise))
        per = "; ".join(f"{q} {w:.3g}" for q, (w, _) in bare.items())
        where = max(bare.values(), default=(0.0, ""))[1]
        rows.append(f"| {case.id} | {kind} | {per} | {where} | {kept:.3g} |")
    return rows


def _worst(case: Case, golden: Golden) -> dict[str, tuple[float, str]]:
    """Per quantity, the largest error over allowance of ``case``'s checks (its dtypes and modes,
    less the checks and quantities a recorded torch bug covers and the checks not applicable), and
    where."""
    worst: dict[str, tuple[float, str]] = {}
    for dtype in case.dtypes:
        for mode in case_modes(case):
            recorded = expected_failure(case, dtype, mode)
            if (recorded and not recorded.quantities) or skip_reason(case, dtype, mode):
                continue
            for r in check_golden(case, golden, dtype, mode=mode):
                c = r.comparison
                if c is None or recorded.covers(r.quantity):
                    continue
                ratio = c.worst_err / c.allowed_abs if c.allowed_abs > 0 else 0.0
                if ratio >= worst.get(r.quantity, (-1.0, ""))[0]:
                    worst[r.quantity] = (ratio, f"{dtype}-{mode}, point {r.point}, {r.quantity}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reverse mode only")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES), help="rows to refresh")
    parser.add_argument(
        "--overrides", action="store_true", help="only the table of per-case overrides, checked without them"
    )
    parser.add_argument("--out", default=str(DOC), help="the file whose generated sections are rewritten")
    args = parser.parse_args()
    out = Path(args.out)
    if args.overrides:
        body = "\n".join(overrides())
        with locked(out):
            text = out.read_text() or BLANK
            out.write_text(splice(text, OVERRIDES, body))
        print(body)
        return
    modes = ("reverse",) if args.quick else DEFAULT_MODES
    if args.quick and out.resolve() == DOC.resolve():
        raise SystemExit("bench/tolerance.py: --quick measures reverse mode only; write it elsewhere (--out)")
    dtypes = [d for d in DTYPES if d in args.dtypes]
    # torch's NaN and inf are counted as non-finite checks; numpy's warnings about them are noise
    warnings.simplefilter("ignore", RuntimeWarning)
    print(write_table(out, collect(modes, dtypes), modes))


if __name__ == "__main__":
    main()
