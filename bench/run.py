"""`make bench`: measure gradgold against finite differences and write bench/results.json,
bench/RESULTS.md and the plots. ``--quick`` runs small sizes into a temp dir for development.

Every section is timed in the same run so the ratios compare like with like; the full run stays
under 15 minutes on 2 cores by capping the slow methods and killing symbolic generation at a
deadline (recorded in the results, never silently dropped).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script (`python bench/run.py`, what `make bench` does): make the bench package importable.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.batching import batching  # noqa: E402
from bench.cost import run_cost  # noqa: E402
from bench.generator import symbolic, throughput  # noqa: E402
from bench.golden_read import section as golden_read  # noqa: E402
from bench.overhead import (  # noqa: E402
    footprint,
    import_times,
    peak_memory,
    per_case_overhead,
    small_case_cost,
)
from bench.report import write_report  # noqa: E402
from bench.sensitivity import (  # noqa: E402
    batched,
    engine_subjects,
    entry_per_size,
    false_positives,
    mlp_subject,
    seed_subjects,
    sweep,
)

#: One intra-op thread: on a shared, oversubscribed 2-core machine OpenMP's two threads made single
#: timings of the same tiny op up to 40x slower at random, drowning the ratios in noise.
TORCH_THREADS = 1


@dataclass(frozen=True)
class Config:
    """What one mode measures; the quick mode keeps every section, only smaller."""

    ns: tuple[int, ...]
    repeat: int
    cap_s: float
    entry_slow_max_size: int
    #: (workload, sizes n, deadline in seconds for that workload's child process)
    symbolic: tuple[tuple[str, tuple[int, ...], float], ...]
    #: Case ids or suites to regenerate (empty: all), kernels counts to compare, deadline per run.
    throughput_only: tuple[str, ...]
    throughput_jobs: tuple[int, ...]
    throughput_deadline_s: float
    trivial_cases: int
    import_repeat: int
    #: Suites whose cases the batching evidence covers (empty: all).
    batching_suites: tuple[str, ...] = ()


FULL = Config(
    ns=(2, 4, 8, 16, 32, 64),
    repeat=7,
    cap_s=20.0,
    entry_slow_max_size=8192,
    symbolic=(("logdet", (2, 3, 4), 60.0), ("matrix_norm", (2, 3), 120.0)),
    throughput_only=(),
    throughput_jobs=(1, 2),
    throughput_deadline_s=120.0,
    trivial_cases=1000,
    import_repeat=7,
)
QUICK = Config(
    ns=(2, 4, 8),
    repeat=3,
    cap_s=2.0,
    entry_slow_max_size=128,
    symbolic=(("logdet", (2,), 60.0),),
    throughput_only=("seed/linear", "seed/sine", "seed/exp_cos"),
    throughput_jobs=(1,),
    throughput_deadline_s=60.0,
    trivial_cases=200,
    import_repeat=2,
    batching_suites=("seed",),
)


def machine() -> dict[str, Any]:
    """The machine and versions the numbers belong to."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        # Other processes' load: on a shared machine it inflates even CPU times (shared caches, SMT).
        "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _section(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> None:
    """Run one benchmark, storing its result and its wall time."""
    print(f"[{name}]", flush=True)
    start = time.perf_counter()
    try:
        results[name] = fn()
    except Exception:  # one broken section must not lose the others' numbers (the repo moves under us)
        results[name] = None
        results["section_errors"][name] = traceback.format_exc()[-2000:]
        print(results["section_errors"][name], file=sys.stderr, flush=True)
    results["section_seconds"][name] = time.perf_counter() - start


def sections(cfg: Config) -> dict[str, Callable[[], Any]]:
    """Every section of the bench, by name, in run order."""
    ns = list(cfg.ns)

    def sensitivity() -> dict[str, Any]:
        subjects, info = engine_subjects(budget_s=60)
        rows = sweep([*seed_subjects(ROOT), mlp_subject(), *subjects])
        return {"rows": rows, "engine": info, "epsilons": [10.0**-k for k in range(1, 15)]}

    return {
        "cost": lambda: run_cost(ns, cfg.repeat, cfg.cap_s),
        "sensitivity": sensitivity,
        "batched": batched,
        "one_entry_per_size": lambda: entry_per_size(ns, cfg.entry_slow_max_size),
        "false_positives": lambda: false_positives(ROOT),
        "throughput": lambda: [
            throughput(ROOT, j, cfg.throughput_only, cfg.throughput_deadline_s) for j in cfg.throughput_jobs
        ],
        "symbolic": lambda: [symbolic(w, list(n), d) for w, n, d in cfg.symbolic],
        "imports": lambda: import_times(cfg.import_repeat),
        "per_case": lambda: per_case_overhead(cfg.trivial_cases, cfg.repeat),
        "small_cases": lambda: small_case_cost(cfg.repeat),
        "batching": lambda: batching(ROOT, cfg.batching_suites),
        "memory": lambda: peak_memory(ROOT),
        "footprint": lambda: footprint(ROOT),
        "golden_read": lambda: golden_read(max(cfg.repeat, 5)),
    }


def run(cfg: Config, only: list[str] | None = None, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every section, or only those named, into the previous results (whose other sections
    and machine line stay; each re-measured section records its machine under ``remeasured``)."""
    results: dict[str, Any] = previous or {
        "machine": machine(),
        "config": asdict(cfg),
        "section_seconds": {},
        "section_errors": {},
    }
    for name, fn in sections(cfg).items():
        if only is None or name in only:
            results["section_errors"].pop(name, None)
            _section(results, name, fn)
            if only is not None:
                results.setdefault("remeasured", {})[name] = machine()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, written to a temp dir")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default bench/)")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated sections to re-measure into results.json (e.g. small_cases,per_case)",
    )
    args = parser.parse_args(argv)
    out = args.out or (Path(tempfile.gettempdir()) / "gradgold-bench-quick" if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(TORCH_THREADS)
    cfg = QUICK if args.quick else FULL
    only = args.only.split(",") if args.only else None
    unknown = sorted(set(only or ()) - set(sections(cfg)))
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; sections: {', '.join(sections(cfg))}")
    previous = json.loads((out / "results.json").read_text()) if only else None
    start = time.perf_counter()
    results = run(cfg, only, previous)
    if only is None:
        results["mode"] = "quick" if args.quick else "full"
        results["total_seconds"] = time.perf_counter() - start
    (out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    write_report(results, out)
    took = time.perf_counter() - start
    print(f"bench: took {took:.0f} s; wrote {out}/results.json, RESULTS.md and plots", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
