"""Run the built-in golden suites on a GPU and write a short report, in a few minutes.

    python scripts/gpu_check.py [--device cuda] [--out gpu-report.md] [--modes reverse,func,...]

Goldens do not depend on the device: the same committed references check CUDA (or MPS) results.
The report lists, per dtype and mode, how many checks passed, failed, were expected failures or
skips, then each unexpected outcome with its first line. The CPU is run too for the same checks,
so a failure on the GPU alone stands out. Exit status: 0 when the GPU has no failure the CPU lacks.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from gradgold.check import CaseCheck, run_checks  # noqa: E402
from gradgold.devices import device_problem  # noqa: E402
from gradgold.modes import DEFAULT_MODES  # noqa: E402
from gradgold.suite import find_project, load_cases  # noqa: E402


def _counts(checks: list[CaseCheck]) -> dict[tuple[str, str], collections.Counter[str]]:
    table: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for c in checks:
        table[(c.dtype, c.mode)][c.status] += 1
    return table


def _first_line(c: CaseCheck) -> str:
    for r in c.results:
        if not r.passed:
            return r.message.splitlines()[0]
    return (c.problem or c.skip_reason).splitlines()[0] if (c.problem or c.skip_reason) else ""


def report(device: str, gpu: list[CaseCheck], cpu: list[CaseCheck], seconds: float) -> str:
    cpu_bad = {(c.case_id, c.dtype, c.mode) for c in cpu if not c.passed}
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else device
    lines = [
        f"# gradgold on {device}",
        "",
        f"torch {torch.__version__}; {name}; {len(gpu)} checks in {seconds:.0f} s",
        "",
        "| dtype | mode | PASS | FAIL | XFAIL | XPASS | SKIP |",
        "|---|---|---|---|---|---|---|",
    ]
    for (dtype, mode), n in sorted(_counts(gpu).items()):
        cells = " | ".join(str(n[s]) for s in ("PASS", "FAIL", "XFAIL", "XPASS", "SKIP"))
        lines.append(f"| {dtype} | {mode} | {cells} |")
    only_gpu = [c for c in gpu if not c.passed and (c.case_id, c.dtype, c.mode) not in cpu_bad]
    both = [c for c in gpu if not c.passed and (c.case_id, c.dtype, c.mode) in cpu_bad]
    lines += ["", f"## Failing on {device} only ({len(only_gpu)})", ""]
    lines += [f"- {c.status} {c.case_id} [{c.label}]: {_first_line(c)}" for c in only_gpu] or ["none"]
    lines += ["", f"## Failing on cpu too ({len(both)})", ""]
    lines += [f"- {c.status} {c.case_id} [{c.label}]: {_first_line(c)}" for c in both] or ["none"]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default="gpu-report.md")
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES))
    parser.add_argument("--dtypes", default="", help="comma-separated (default: each case's own)")
    args = parser.parse_args()
    absent = device_problem(args.device)
    if absent:
        print(f"gpu_check: {absent}", file=sys.stderr)
        return 2
    project = find_project(ROOT)
    cases = load_cases(project)
    modes = args.modes.split(",")
    dtypes = args.dtypes.split(",") if args.dtypes else None
    start = time.perf_counter()
    gpu = run_checks(project, cases, dtypes, args.device, modes)
    seconds = time.perf_counter() - start
    cpu = run_checks(project, cases, dtypes, "cpu", modes)
    text = report(args.device, gpu, cpu, seconds)
    Path(args.out).write_text(text)
    print(text)
    cpu_bad = {(c.case_id, c.dtype, c.mode) for c in cpu if not c.passed}
    return 1 if any(not c.passed and (c.case_id, c.dtype, c.mode) not in cpu_bad for c in gpu) else 0


if __name__ == "__main__":
    sys.exit(main())
