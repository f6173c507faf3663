"""Generator cost per strategy, and serial vs parallel kernels (issue: "the generator you can trust").

For f(W) = ||exp(3W + cos W) + W.W||_F with W n x n, time the embedded engine computing value and
gradient with the symbolic strategy (D, then the exact point) and the substituted one (the point as
high-precision numbers, then one derivative along each input), and the Hessian (symbolic), n = 2..6
as the time cap allows. Then regenerate the built-in suites serially and with --jobs 2. Writes
bench/strategies.json and bench/STRATEGIES.md. Run: .venv/bin/python bench/strategies.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CAP_SECONDS = 240

CASE = """
import torch
import gradgold as gg

@gg.case(
    wolfram='Norm[Exp[3 W + Cos[W]] + W . W, "Frobenius"]',
    points=gg.uniform(-1, 1, shapes={{"W": ({n}, {n})}}, n=1, seed={n}),
    strategy="{strategy}", order={order}, name="f{n}",
)
def f(W):
    return torch.linalg.norm(torch.exp(3 * W + torch.cos(W)) + W @ W)
"""


def _time_case(n: int, strategy: str, order: int) -> float | None:
    """Seconds to generate one case (engine start excluded), or None past the cap."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[tool.gradgold]\n")
        (root / "golden").mkdir()
        (root / "golden" / "m.py").write_text(CASE.format(n=n, strategy=strategy, order=order))
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "gradgold",
                "generate",
                "--embedded",
                "-j",
                "1",
                "--json",
                "--timeout",
                str(CAP_SECONDS),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        doc = json.loads(run.stdout)
        case = doc["cases"][0]
        return float(case["seconds"]) if case["status"] == "generated" else None


def _suites(jobs: int) -> float:
    """Wall seconds to regenerate a copy of golden/ with ``jobs`` kernels."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
        shutil.copytree(
            ROOT / "golden", root / "golden", ignore=shutil.ignore_patterns("*.npz", "__pycache__")
        )
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gradgold", "generate", "--embedded", "-j", str(jobs), "-q"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="n = 2..3 only, no suite regeneration")
    args = parser.parse_args()
    sizes = [2, 3] if args.quick else [2, 3, 4, 5, 6]
    rows = []
    give_up: set[tuple[str, int]] = set()
    for n in sizes:
        row: dict[str, object] = {"n": n, "inputs": n * n}
        for label, strategy, order in (
            ("gradient, symbolic", "symbolic", 1),
            ("gradient, substituted", "substituted", 1),
            ("Hessian, symbolic", "symbolic", 2),
        ):
            if (label, 0) in give_up:
                row[label] = None
                continue
            seconds = _time_case(n, strategy, order)
            row[label] = seconds
            if seconds is None or seconds > CAP_SECONDS / 3:
                give_up.add((label, 0))  # the next size would exceed the cap
            print(f"n={n} {label}: {seconds}", flush=True)
        rows.append(row)
    suites = {} if args.quick else {"serial": _suites(1), "jobs 2": _suites(2)}
    doc = {
        "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "cap_seconds": CAP_SECONDS,
        "strategies": rows,
        "suites": suites,
    }
    (HERE / "strategies.json").write_text(json.dumps(doc, indent=1) + "\n")
    (HERE / "STRATEGIES.md").write_text(_markdown(doc))
    print(_markdown(doc))


def _fmt(x: object) -> str:
    return f"{x:.1f}" if isinstance(x, float) else f"> {CAP_SECONDS} s or skipped"


def _markdown(doc: dict) -> str:
    lines = [
        "# Generator cost per strategy (embedded engine, Mathics3)",
        "",
        f"Measured {doc['date']} on {doc['machine']}, Python {doc['python']}, one kernel, engine start "
        "excluded. f(W) = ||exp(3W + cos W) + W.W||_F at one point; seconds per case (value, "
        "derivatives, two working precisions).",
        "",
        "| n | inputs | gradient, symbolic (s) | gradient, substituted (s) | Hessian, symbolic (s) |",
        "|---|---|---|---|---|",
    ]
    for r in doc["strategies"]:
        lines.append(
            f"| {r['n']} | {r['inputs']} | {_fmt(r['gradient, symbolic'])} | "
            f"{_fmt(r['gradient, substituted'])} | {_fmt(r['Hessian, symbolic'])} |"
        )
    lines += [
        "",
        '`strategy="auto"` substitutes numbers for cases with more than 8 scalar inputs and first '
        "derivatives only; full Hessians are symbolic.",
    ]
    if doc["suites"]:
        s = doc["suites"]
        lines += [
            "",
            "## Built-in suites: serial vs parallel kernels",
            "",
            f"Regenerating every case under golden/ from nothing: serial {s['serial']:.0f} s, "
            f"`--jobs 2` {s['jobs 2']:.0f} s ({s['serial'] / s['jobs 2']:.2f}x).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
