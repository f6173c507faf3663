"""RESULTS.md and the plots, from the results dict alone (so a report can be rebuilt from
results.json without rerunning anything: ``python -m bench.report bench/results.json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

COST_METHODS = ("gradgold", "gradcheck", "gradcheck_fast", "gradgradcheck", "gradgradcheck_fast")


def _ms(t: dict[str, Any] | None) -> str:
    return "skipped (> cap)" if t is None else f"{t['median_s'] * 1e3:.3g}"


def _x(r: float | None) -> str:
    return "" if r is None else f" ({r:.3g}x)"


def _table(head: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _mark(v: bool | None) -> str:
    return {True: "caught", False: "**missed**", None: "n/a"}[v]


def goals(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, where we stand, met?) for each goal of issue 7."""
    cost = res["cost"]
    big = [r["ratios"]["gradcheck"] for r in cost if r["size"] >= 1000 and r["ratios"]["gradcheck"]]
    fast = [r["ratios"]["gradcheck_fast"] for r in cost]
    slower = [f"{r['workload']} {r['size']}" for r in cost if r["ratios"]["gradcheck_fast"] <= 1]
    rows = [r for r in res["sensitivity"]["rows"] if "scaled" in r]

    def worst_floor(method: str) -> float | None:
        floors = [r[k]["floor"] for r in rows if r["method"] == method for k in ("scaled", "one_entry")]
        return None if not floors or None in floors else max(floors)

    f64, f32 = worst_floor("gradgold_float64"), worst_floor("gradgold_float32")
    entry = [r[f"{d}/gradgold_float64"] for r in res["one_entry_per_size"] for d in ("abs_1", "rel_1e-6")]
    pc, imp = res["per_case"], res["imports"]
    out = [
        (
            "check >= 100x cheaper than gradcheck at 1000+ inputs",
            f"min {min(big):.3g}x over {len(big)} measured (workload, size) pairs" if big else "not measured",
            "met" if big and min(big) >= 100 else "MISSED",
        ),
        (
            "cheaper than gradcheck fast_mode at every size",
            f"fast_mode / gradgold from {min(fast):.3g}x to {max(fast):.3g}x"
            + (f"; gradgold is slower at: {', '.join(slower)}" if slower else ""),
            "met" if min(fast) > 1 else "MISSED",
        ),
        (
            "detection floor <= 1e-10 relative in float64",
            f"worst floor {f64:.0e}" if f64 else "not measured",
            "met" if f64 and f64 <= 1e-10 else "MISSED",
        ),
        (
            "detection floor <= 1e-5 relative in float32",
            f"worst floor {f32:.0e}" if f32 else "not measured",
            "met" if f32 and f32 <= 1e-5 else "MISSED",
        ),
        (
            "a single wrong Jacobian entry caught at every size",
            f"{sum(map(bool, entry))} / {len(entry)} (sizes {res['config']['ns']}, +1.0 and +1e-6 relative)",
            "met" if all(entry) else "MISSED",
        ),
        (
            "checker overhead per case <= 1 ms beyond torch",
            f"{pc['overhead_in_memory_per_case_s'] * 1e3:.2f} ms (check_golden); "
            f"{pc['overhead_from_disk_per_case_s'] * 1e3:.2f} ms (run_checks, goldens read from disk)",
            "met in memory; "
            + ("met" if pc["overhead_from_disk_per_case_s"] <= 1e-3 else "MISSED")
            + f" from disk ({pc.get('checks_per_case', 1):g} mode checks per case)",
        ),
        *_issue16_goals(res),
        (
            "importing the checker adds <= 50 ms to import torch",
            f"{imp['added_by_checker'] * 1e3:.0f} ms (gradgold + gradgold.check after torch)",
            "met" if imp["added_by_checker"] <= 0.05 else "MISSED",
        ),
    ]
    return out


def cost_section(res: dict[str, Any]) -> str:
    rows = []
    for r in res["cost"]:
        t, q = r["timings"], r["ratios"]
        rows.append(
            [r["workload"], r["size"], _ms(t["gradgold"])]
            + [_ms(t[m]) + (_x(q[m]) if t[m] else "") for m in COST_METHODS[1:]]
        )
    return _table(
        [
            "function",
            "inputs",
            "gradgold check (ms)",
            "gradcheck (ms, ratio)",
            "fast_mode",
            "gradgradcheck",
            "gradgradcheck fast_mode",
        ],
        rows,
    )


def _floor(r: dict[str, Any], key: str) -> str:
    if key not in r:
        return ""
    f = r[key]["floor"]
    return "none caught" if f is None else f"{f:.0e}"


def sensitivity_section(res: dict[str, Any]) -> str:
    rows = []
    for r in res["sensitivity"]["rows"]:
        fp = r["false_positive"]
        status = {False: "passes", True: "**fails**", None: "n/a"}[fp]
        if fp is not False:
            status += f" ({r['why'][:110]})"
        cells = [
            r["subject"],
            r["reference"],
            r["method"].replace("gradgold_", "gradgold "),
            status,
            _floor(r, "scaled"),
            _floor(r, "one_entry"),
        ]
        cells += [_mark(r[k]) if k in r else "" for k in ("one_entry_abs_1", "transpose", "missing_term")]
        rows.append(cells)
    return _table(
        [
            "subject",
            "reference",
            "method",
            "correct fn",
            "floor: all entries",
            "floor: one entry",
            "one entry +1.0",
            "transpose",
            "missing term",
        ],
        rows,
    )


def batched_section(res: dict[str, Any]) -> str:
    """One row per method: the correct function's verdict and the floor of one wrong entry, the
    smallest of 16 (4.2e-18 beside 1), by a relative error."""
    rows = []
    for r in res["batched"]:
        fp = {False: "passes", True: "**fails**", None: "n/a"}[r["false_positive"]]
        if r["false_positive"] is not False:
            fp += f" ({r['why'][:90]})"
        rows.append(
            [r["subject"], r["method"].replace("gradgold_", "gradgold "), fp, _floor(r, "smallest_entry")]
        )
    table = _table(["subject", "method", "correct fn", "floor: smallest of 16 entries"], rows)
    rerun = res.get("batched_rerun")
    return table + (f"\n\n(Measured alone on {rerun}, added to this run's results.)" if rerun else "")


def entry_section(res: dict[str, Any]) -> str:
    rows = []
    for r in res["one_entry_per_size"]:
        cells = [r["workload"], r["size"], f"{r['max_abs_grad']:.3g}"]
        for d in ("abs_1", "rel_1e-6"):
            cells += [_mark(r[f"{d}/{m}"]) for m in ("gradgold_float64", "gradcheck_fast", "gradcheck")]
        rows.append(cells)
    return _table(
        [
            "function",
            "inputs",
            "max abs grad",
            "+1.0: gradgold",
            "+1.0: fast_mode",
            "+1.0: gradcheck",
            "+1e-6 rel: gradgold",
            "+1e-6 rel: fast_mode",
            "+1e-6 rel: gradcheck",
        ],
        rows,
    )


def generator_section(res: dict[str, Any]) -> str:
    runs = res["throughput"]
    deadlines = ", ".join(f"{x['workload']} {x['deadline_s']:.0f} s" for x in res["symbolic"])
    serial = runs[0]
    slowest = sorted(((v, k) for k, v in serial["per_case_s"].items() if v is not None), reverse=True)[:5]
    lines = [
        f"Regenerating a copy of the built-in suites ({runs[0]['selection']}; embedded engine"
        f"{(' ' + serial['engine']) if serial['engine'] else ''}), engine start included, "
        f"killed at a {serial['deadline_s']:.0f} s deadline:",
        "",
        _table(
            ["kernels (`jobs`)", "cases", "finished", "seconds", "cases / minute"],
            [
                [
                    r["jobs"],
                    r["cases"],
                    f"{r['finished']}" + (" (deadline)" if r["killed_at_deadline"] else ""),
                    f"{r['elapsed_s']:.1f}",
                    f"**{r['cases_per_minute']:.0f}**",
                ]
                for r in runs
            ],
        ),
        "",
        "Slowest cases (serial run): "
        + (", ".join(f"{k} {v:.1f} s" for v, k in slowest) or "not known (the run was cut at its deadline)")
        + ".",
        "",
        "gradgold's default generation program (symbolic `D`; the substituted strategy and the Hessian "
        "landed in the core during this work and are not benchmarked yet), "
        "n x n inputs, one point, one engine process per function, killed at a deadline per function "
        f"({deadlines}). "
        "Value = the expression made symbolic, then the point substituted, then `N`; value + gradient = "
        "gradgold's real program (`generate.evaluate_case`: `D`, two precisions, certification):",
        "",
    ]
    rows = []
    for s in res["symbolic"]:
        got = {(r["n"], r["kind"]): r for r in s["rows"]}
        ns = sorted({r["n"] for r in s["rows"]} | {int(m.split()[0][2:]) for m in s["not_reached"]})
        killed = False
        for n in ns:
            cells: list[Any] = [s["workload"], f"{n}x{n}"]
            for kind in ("value", "gradient"):
                r = got.get((n, kind))
                if r:
                    cells.append(f"{r['s']:.2f}" + ("" if r["ok"] else " (failed)"))
                elif not killed:
                    killed = True
                    spent = sum(x["s"] for x in s["rows"])
                    cells.append(f"> {s['deadline_s'] - spent:.0f} (killed at the deadline)")
                else:
                    cells.append("not attempted")
            cells.append(s["hessian"])
            rows.append(cells)
    lines.append(_table(["function", "n", "value (s)", "value + gradient (s)", "Hessian"], rows))
    return "\n".join(lines)


def _issue16_goals(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Issue 16's checker-cost targets, from the small-case and per-case sections."""
    small, pc = res.get("small_cases"), res.get("per_case", {})
    if not small:
        return [("issue 16: small-case checker cost", "not measured in this run", "not measured")]
    at16 = [r for r in small if r["inputs"] == 16]
    default = ", ".join(f"{r['subject']} {r['default_over_gradcheck']:.2f}x" for r in at16)
    second = [r for r in small if r.get("order", 1) == 2]
    second_text = ", ".join(f"{r['subject']} {r['default_over_gradcheck']:.2f}x" for r in second)
    reverse = [r["reverse_over_fast_mode"] for r in small]
    disk = pc.get("run_checks_from_disk_per_case_s")
    goals = [
        (
            "default-mode check of a small case (4 points x 16 inputs) <= gradcheck (issue 16)",
            f"gradgold / gradcheck, CPU time: {default}",
            "met"
            if all(r["default_over_gradcheck"] <= 1 for r in at16)
            else "MISSED for " + ", ".join(r["subject"] for r in at16 if r["default_over_gradcheck"] > 1),
        ),
        (
            "reverse-only check <= gradcheck fast_mode at 8-32 inputs (issue 16)",
            f"gradgold / fast_mode from {min(reverse):.2f}x to {max(reverse):.2f}x",
            "met" if max(reverse) <= 1 else "MISSED",
        ),
        (
            "<= 0.5 ms per case from disk (issue 16)",
            f"{disk * 1e3:.2f} ms per trivial case, {pc.get('checks_per_case', 1):g} mode checks "
            f"({pc.get('run_checks_reverse_only_from_disk_per_case_s', float('nan')) * 1e3:.2f} ms "
            "reverse only)"
            if disk is not None
            else "not measured",
            "met" if disk is not None and disk <= 5e-4 else "MISSED",
        ),
        _golden_read_goal(res),
    ]
    if second:
        goals.insert(
            1,
            (
                "default-mode check of an order-2 case (4 points x 8 inputs, Hessian included) <= "
                "gradcheck + gradgradcheck",
                f"gradgold / (gradcheck + gradgradcheck), CPU time: {second_text}",
                "met"
                if all(r["default_over_gradcheck"] <= 1 for r in second)
                else "MISSED for "
                + ", ".join(r["subject"] for r in second if r["default_over_gradcheck"] > 1),
            ),
        )
    return goals


def _ms_of(t: dict[str, float], *keys: str) -> str:
    """The sum of the named methods' times in ms ("" if any is absent)."""
    return f"{sum(t[k] for k in keys) * 1e3:.2f}" if all(k in t for k in keys) else ""


def _golden_read_goal(res: dict[str, Any]) -> tuple[str, str, str]:
    """Reading one committed golden (``read_golden``, validation included) <= 0.5 ms."""
    read = res.get("golden_read")
    if not read:
        return ("reading a committed golden <= 0.5 ms (issue 16)", "not measured in this run", "not measured")
    cur = read["current"]
    return (
        "reading a committed golden <= 0.5 ms (issue 16)",
        f"median {cur['median_s'] * 1e3:.2f} ms, p90 {cur['p90_s'] * 1e3:.2f} ms "
        f"over {read['goldens']} goldens",
        "met" if cur["median_s"] <= 5e-4 else "MISSED (median)",
    )


def golden_read_section(res: dict[str, Any]) -> str:
    """Reading the committed goldens: the current loader beside the baseline one, same run."""
    read = res["golden_read"]
    rows = [
        [name if name == "current" else f"before (git {read['baseline_rev']})"]
        + [f"{read[name][k] * 1e3:.3f}" for k in ("median_s", "p90_s", "mean_s")]
        for name in ("current", "baseline")
        if name in read
    ]
    return (
        f"Reading every committed golden ({read['goldens']} files, `read_golden` with the golden "
        "directory as root, every check included), CPU time per golden: each golden's median of "
        f"{read['repeat']} reads, then the median and 90th percentile over goldens; the loaders are "
        "interleaved file by file in one run (`bench/golden_read.py`).\n\n"
        + _table(["loader", "median (ms)", "p90 (ms)", "mean (ms)"], rows)
    )


def small_cases_section(res: dict[str, Any]) -> str:
    """The small-case table: each method's CPU time and the two ratios issue 16 sets targets for."""
    rows = []
    for r in res["small_cases"]:
        t = {k: v["median_s"] for k, v in r["cpu_s"].items()}
        order = r.get("order", 1)
        fast = ("gradcheck_fast", "gradgradcheck_fast") if order == 2 else ("gradcheck_fast",)
        rows.append(
            [
                f"{r['subject']} ({r['note']})",
                r["inputs"],
                order,
                _ms_of(t, "gradgold_default_modes"),
                _ms_of(t, "gradcheck"),
                _ms_of(t, "gradgradcheck") or "-",
                f"**{r['default_over_gradcheck']:.2f}**",
                f"{r.get('default_over_gradcheck_alone', r['default_over_gradcheck']):.2f}",
                _ms_of(t, "gradgold_reverse"),
                _ms_of(t, *fast),
                f"{r['reverse_over_fast_mode']:.2f}",
            ]
        )
    head = [
        "function",
        "inputs",
        "order",
        "gradgold, default modes (ms)",
        "gradcheck (ms)",
        "gradgradcheck (ms)",
        "ratio to gradcheck (+ gradgradcheck at order 2)",
        "ratio to gradcheck alone",
        "gradgold reverse (ms)",
        "fast_mode (ms; + gradgradcheck's at order 2)",
        "ratio",
    ]
    return _table(head, rows)


def small_gap_note(res: dict[str, Any]) -> str:
    """Where the default-mode check of a small case still exceeds gradcheck, why, in this run's
    numbers: torch's own calls against gradgold's own work."""
    lines = []
    for r in res["small_cases"]:
        if r["default_over_gradcheck"] <= 1:
            continue
        t = {k: v["median_s"] * 1e3 for k, v in r["cpu_s"].items()}
        base = t["gradcheck"] + t.get("gradgradcheck", 0.0)
        torch_ms, own = r["torch_of_default_modes_s"] * 1e3, r["overhead_of_default_modes_s"] * 1e3
        modes = [k.removeprefix("torch/") for k in t if k.startswith("torch/")]
        top = max(modes, key=lambda m: t[f"torch/{m}"])
        checks = len(modes) * r["points"]
        total, than = t["gradgold_default_modes"], "less" if torch_ms < base else "more"
        lines.append(
            f"- {r['subject']}, {r['inputs']} inputs, order {r.get('order', 1)}: {total:.1f} ms "
            f"against {base:.1f} ms ({r['baseline']}). Torch's own calls take {torch_ms:.1f} ms "
            f"({than} than {r['baseline']} alone), {t[f'torch/{top}']:.1f} ms "
            f"of them in {top} mode; gradgold's own work is {own:.1f} ms, {own / checks:.2f} ms per mode and "
            f"point ({checks}: leaf, output checks, the Jacobian split, results and comparisons)."
        )
    if not lines:
        return "Every default-mode check above costs no more than its baseline."
    return "Where the default modes still cost more than the baseline (this run):\n\n" + "\n".join(lines)


def suite_cost_note(res: dict[str, Any]) -> str:
    """The whole committed suite checked before and after a change to the checker's cost (measured
    by hand with bench/records.py and ``pytest golden``, recorded under ``suite_cost``)."""
    sc = res.get("suite_cost")
    if not sc:
        return ""
    pg, rc = sc["pytest_golden_cpu_s"], sc["run_checks_cpu_s"]
    return (
        f"The whole committed suite ({sc['measured']}; {sc['how']}): `pytest golden -n 0 -q -p "
        f"no:cacheprovider` {pg['before']:.0f} CPU s before the judge and forward-mode changes, "
        f"{pg['after']:.0f} after ({(1 - pg['after'] / pg['before']) * 100:.1f}% less; "
        f"{sc['pytest_golden_outcome']}); `run_checks` alone (bench/records.py) {rc['before']:.0f} and "
        f"{rc['after']:.0f} CPU s, its {sc['records']} records (verdicts, numbers, messages, a hash of "
        f"every obtained array) {'identical' if sc['records_identical'] else 'DIFFERENT'}. The suite's "
        "time is torch's: profiled on activations + reductions, forward-mode Hessians (nested `jvp`) "
        "take about half and `torch.func` transforms a third, the comparisons under 2%."
    )


def small_modes_section(res: dict[str, Any]) -> str:
    """Where a small case's default-mode check goes, mode by mode: the check of each mode alone
    against the bare torch calls it makes (their difference is gradgold's own work)."""
    rows = []
    for r in res["small_cases"]:
        t = {k: v["median_s"] for k, v in r["cpu_s"].items()}
        modes = [k.removeprefix("mode/") for k in t if k.startswith("mode/")]
        if not modes:
            return "(not measured in this run)"
        for m in modes:
            alone, bare = t[f"mode/{m}"], t[f"torch/{m}"]
            label = f"{r['subject']} {r['inputs']} (order {r.get('order', 1)})"
            rows.append([label, m, f"{alone * 1e3:.2f}", f"{bare * 1e3:.2f}", f"{(alone - bare) * 1e3:.2f}"])
        total, torch_s = t["gradgold_default_modes"], r["torch_of_default_modes_s"]
        rows.append(
            [
                f"{r['subject']} {r['inputs']} (order {r.get('order', 1)})",
                "**all, as checked** (one judge)",
                f"{total * 1e3:.2f}",
                f"{torch_s * 1e3:.2f}",
                f"{(total - torch_s) * 1e3:.2f}",
            ]
        )
    head = ["case", "mode", "gradgold check (ms)", "bare torch calls (ms)", "gradgold's own (ms)"]
    return _table(head, rows)


def overhead_section(res: dict[str, Any]) -> str:
    imp, pc, mem, fp = res["imports"], res["per_case"], res["memory"], res["footprint"]
    per_case_checks = pc.get("checks_per_case", 1)
    ms = 1e3
    return "\n".join(
        [
            f"Import times, median of {imp['repeat']} fresh interpreters: "
            f"`import torch` {imp['torch'] * ms:.0f} ms; "
            f"then `import gradgold` {imp['gradgold'] * ms:.1f} ms and `import gradgold.check` "
            f"{imp['gradgold.check'] * ms:.1f} ms: the checker adds {imp['added_by_checker'] * ms:.0f} ms "
            f"({imp['added_fraction_of_torch'] * 100:.1f}% of torch). `import gradgold` alone (no torch): "
            f"{imp['gradgold_alone'] * ms:.0f} ms, imports torch: {imp['gradgold_alone_imports_torch']}. "
            f"Forbidden modules ({', '.join(['wolframclient', 'mathics', 'sympy', 'zmq'])}) loaded: "
            f"{imp['forbidden_loaded']}. The pytest plugin's own load time is not measured here.",
            "",
            f"{pc['cases']} trivial cases (x -> 2x, exact goldens), per case"
            + (" (CPU time of the bench process)" if pc.get("clock") == "process_time" else "")
            + ": "
            "bare torch (leaf, forward, grad) "
            f"{pc['bare_torch_per_case_s'] * 1e6:.0f} us; `check_golden` with the golden in memory "
            f"{pc['check_golden_per_case_s'] * 1e6:.0f} us "
            f"(overhead {pc['overhead_in_memory_per_case_s'] * 1e6:.0f} us);"
            f" `run_checks` reading each golden from disk (what `gradgold check` does) "
            f"{pc['run_checks_from_disk_per_case_s'] * 1e6:.0f} us (overhead "
            f"{pc['overhead_from_disk_per_case_s'] * 1e6:.0f} us), of which `read_golden` "
            f"{pc['of_which_read_golden_per_case_s'] * 1e6:.0f} us and `Case.fingerprint` "
            f"{pc['of_which_fingerprint_per_case_s'] * 1e6:.0f} us (measured apart). `run_checks` checks "
            f"every execution mode a case allows: {pc.get('checks_per_case', 1):g} checks per case here "
            "(reverse, double_backward, func, forward), against one reverse pass for bare torch, so per "
            f"check it costs {pc['run_checks_from_disk_per_case_s'] / per_case_checks * 1e6:.0f} us.",
            "",
            "Small cases (issue 16), 4 points each, float64, CPU time of the bench process (one torch "
            "thread; medians of interleaved runs): a gradgold check in the default modes, as "
            "`gradgold check` runs it (reverse, func, forward, and double_backward where the golden "
            "holds a second derivative; the modes share one judge of the golden, `gradgold.judge`), "
            "against `gradcheck` at the same points, and in reverse mode alone against "
            "`gradcheck(fast_mode=True)`. Order 2 (the default up to 8 scalar inputs) checks the Hessian "
            "too, in every mode, so its fair baseline is `gradcheck` + `gradgradcheck` (fast_mode: both "
            "fast); the table gives the ratio to gradcheck alone as well. A ratio below 1 means gradgold "
            "is cheaper. A mode torch refuses for a function is tried at the first point only; forward "
            "mode runs one dual-number pass per input, and at order 2 one inner `jvp` per Hessian entry, "
            "inside one outer `jvp` per variable "
            "(batching the tangents with vmap would change torch's numbers, see the note below).",
            "",
            _safe(small_cases_section, res),
            "",
            "Mode by mode (same run): each mode's check alone (its own judge of the golden) beside the "
            "bare torch calls it makes at the same points (leaf, forward, the mode's first derivative, "
            "and its Hessian at order 2: one backward per gradient element in the reverse modes, "
            "`jacfwd(jacrev)` in func, in forward one outer `jvp` per variable around one inner `jvp` "
            "per variable); the difference "
            "is gradgold's own work (results, comparisons, messages). The last row of each case is the "
            "default-mode check as `gradgold check` runs it, its modes sharing one judge, against the "
            "sum of the modes' torch calls.",
            "",
            _safe(small_modes_section, res),
            "",
            _safe(small_gap_note, res),
            "",
            _safe(suite_cost_note, res),
            "",
            _safe(batching_note, res),
            "",
            _safe(golden_read_section, res),
            "",
            "Peak memory (VmHWM, fresh processes): a process that imports torch "
            f"{mem['torch_only']['peak_kib'] / 1024:.0f} MiB; "
            f"one that also checks the built-in suite {mem['check']['peak_kib'] / 1024:.0f} MiB "
            f"(+{mem['check_added_kib'] / 1024:.1f} MiB); "
            f"Python-side peak of the check run (tracemalloc, loading cases included): "
            f"{mem['check']['tracemalloc_peak_bytes'] / 1024:.0f} KiB.",
            "",
            "## 5. Footprint",
            "",
            _table(
                ["suite", "goldens", "bytes", "mean bytes / golden", "smallest", "largest"],
                _suites(fp["per_golden_bytes"]),
            ),
            "",
            f"All goldens: {fp['goldens_total_bytes']} bytes; the whole `golden/` directory: "
            f"{fp['golden_dir_bytes']} bytes. Where the largest golden's bytes go (uncompressed entries): "
            + ", ".join(f"{k} {v}" for k, v in fp["largest_golden_breakdown_bytes"].items())
            + ".",
        ]
    )


def batching_note(res: dict[str, Any]) -> str:
    """What the batching measurement found (``batching`` in the results, measured apart)."""
    from .batching import batching_text

    b = res.get("batching")
    return batching_text(b) if b else "Batching: not measured in this run."


def _suites(sizes: dict[str, int]) -> list[list[Any]]:
    """Per suite: count, total, mean, min and max bytes of its goldens."""
    by: dict[str, list[int]] = {}
    for path, size in sizes.items():
        by.setdefault(path.split("/")[-2], []).append(size)
    return [[k, len(v), sum(v), sum(v) // len(v), min(v), max(v)] for k, v in sorted(by.items())]


def _safe(render: Callable[[dict[str, Any]], Any], res: dict[str, Any]) -> str:
    """Render one part of the report; a section that failed in the run (its result is None) or
    renders badly says so in place instead of losing the whole report."""
    try:
        out = render(res)
    except Exception as exc:
        return f"**This part could not be rendered** ({type(exc).__name__}: {exc}); see results.json."
    return "" if out is None else str(out)


def sensitivity_note(res: dict[str, Any]) -> str:
    rerun = res["sensitivity"].get("rerun")
    return f"Note: this section was {rerun}." if rerun else ""


def engine_seconds(res: dict[str, Any]) -> str:
    return f"{res['sensitivity']['engine'].get('seconds', 0):.1f}"


def false_positive_text(res: dict[str, Any]) -> str:
    fpos = res["false_positives"]
    return (
        f"(`run_checks` on this repository, suites {', '.join(fpos['suites'])}): {fpos['cases']} cases, "
        f"{fpos['checks']} checks, {fpos['comparisons']} comparisons; outcomes {fpos['statuses']} "
        "(XFAIL: a torch bug recorded on the case, failing as expected); false positives (mismatches "
        f"not recorded as torch bugs): {fpos['failed'] or 'none'}. Cases not checkable because their "
        f"golden is missing or stale (work in progress when the bench ran): "
        f"{len(fpos.get('no_usable_golden', []))} ({', '.join(fpos.get('no_usable_golden', [])[:6])}"
        f"{', ...' if len(fpos.get('no_usable_golden', [])) > 6 else ''})."
    )


def _remeasured(res: dict[str, Any]) -> str:
    """Sections re-measured after the full run (``bench/run.py --only``), each with its date."""
    again = res.get("remeasured") or {}
    if not again:
        return ""
    listed = ", ".join(
        f"{k} ({m['date']}, {m['cpu']}, {m['cores']} cores"
        + (f", load average {m['load_1min']:.1f})" if m.get("load_1min") is not None else ")")
        for k, m in again.items()
    )
    note = f" {res['remeasured_note']}" if res.get("remeasured_note") else ""
    return (
        f"\nRe-measured later with `bench/run.py --only` (the rest is from the full run): {listed}; "
        f"a ratio within a re-measured section compares numbers from that one run.{note}"
    )


def write_report(res: dict[str, Any], out: Path) -> None:
    """RESULTS.md and the PNGs."""
    from .plots import plot_cost, plot_floors

    _safe(lambda r: plot_cost(r, out / "cost.png"), res)
    _safe(lambda r: plot_floors(r, out / "floors.png"), res)
    m = res["machine"]
    text = f"""# gradgold benchmarks

Generated by `make bench` ({res["mode"]} mode, {res["total_seconds"] / 60:.1f} min) on {m["date"]}.
Machine: {m["cpu"]}, {m["cores"]} cores ({m["torch_threads"]} torch threads); Python {m["python"]}, torch
{m["torch"]}, numpy {m["numpy"]}; {m["platform"]}. Every time is the median of repeated runs (up to
{res["config"]["repeat"]}, fewer for operations over a few seconds); ratios compare numbers from this one run.
Raw numbers: `results.json`.{_remeasured(res)}

## Goals (issue 7)

{_safe(lambda r: _table(["goal", "where we stand", "status"], goals(r)), res)}

## 1. Check cost vs finite differences

One gradgold check = `gradgold.check.check_golden` (leaf tensors, forward, reverse-mode Jacobian, and
`compare.compare` against the reference, all of gradgold's real code). **For these sizes the reference
arrays were computed by torch in float64, not by the symbolic engine** (which cannot produce an 8192-input
golden in bench time); the comparison costs the same wherever the reference came from. Every function
returns a scalar, so the Jacobian takes one backward pass (the checker does one backward per output
element). Inputs: two n x n matrices, n = 2..64. Slow `gradcheck` and `gradgradcheck` are skipped at a
size where the previous size predicts more than {res["config"]["cap_s"]:.0f} s. gradgold has no
second-order check yet: the `gradgradcheck` columns are the cost of the second-order alternative, ratios
against gradgold's first-order check.

{_safe(cost_section, res)}

![cost](cost.png)

## 2. Sensitivity (detection floor)

Each function is wrapped in a custom `torch.autograd.Function` whose forward is right and whose backward
is wrong: every entry by a relative epsilon (swept 1e-1..1e-14), one entry (the largest of the first
input's gradient) by epsilon times itself, one entry by +1.0 absolute, the matrix gradients transposed (the
inputs are not symmetric, so a transposed gradient differs), or a missing term (a periodic term
sin^2(pi w) + sin^2(pi z) whose derivative vanishes at integer and half-integer points). The floor is the
smallest epsilon caught with every larger one caught too. gradcheck runs in float64 with its defaults at
the golden's points. "n/a" for gradgold float16/bfloat16 on the seed goldens: those goldens hold no such
grid and their points are not representable (gradgold has no bfloat16 grid at all). Engine goldens:
{_safe(engine_seconds, res)} s to generate.

{_safe(sensitivity_note, res)}

{_safe(sensitivity_section, res)}

Batched: `exp(x).sum()` over 16 integers from -40 to 0, so the gradient row runs from 1 down to 4.2e-18, as
in a batch of ordinary and saturated points; the smallest entry is wrong by a relative epsilon. Each element
is judged on its own scale, so gradgold catches it as it would alone; a tolerance scaled by the largest
element (gradgold before 2026-11-30, and gradcheck's atol) cannot. In float16 the entry and its error both
underflow to 0, so nothing is there to catch.

{_safe(batched_section, res)}

The missing term is a property of the points, not of the method: `periodic_nice` (w, z at integers and
half-integers, the kind of points people write by hand, like the seed's) hides it from every method, and
`periodic_uniform` (points drawn from the k/256 grid, as `gg.uniform` draws them) shows it to every method.
gradgold's defence is drawing points, and that golden points cost nothing at check time.

![floors](floors.png)

A single wrong Jacobian entry at every size of benchmark 1 (float64 torch reference; slow gradcheck only up
to {res["config"]["entry_slow_max_size"]} inputs):

{_safe(entry_section, res)}

False positives: the correct functions of the built-in suites, every case in every dtype it declares
{_safe(false_positive_text, res)}
The correct wrapped functions above ("correct fn") are the other false-positive check.

## 3. Generator throughput

{_safe(generator_section, res)}

## 4. Checker overhead

{_safe(overhead_section, res)}

## Section times

{_table(["section", "seconds"], [[k, f"{v:.0f}"] for k, v in res["section_seconds"].items()])}

Sections that failed in this run: {", ".join(res.get("section_errors", {})) or "none"} (tracebacks in
`results.json`, key `section_errors`).
"""
    (out / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    path = Path(sys.argv[1])
    write_report(json.loads(path.read_text()), path.parent)
