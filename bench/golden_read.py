"""The cost of reading a golden from disk (issue #16: at most 0.5 ms per golden).

Reads every committed golden under ``golden/`` with :func:`gradgold.golden.read_golden` (as
``gradgold check`` does: with the golden directory as root) and, with ``--baseline REV``, with the
loader of another git revision imported beside it, interleaved file by file in one run so both see
the same machine load. Reports each loader's median and 90th percentile per golden (each golden's
own median over ``--repeat`` reads), in CPU time of this process.

    .venv/bin/python bench/golden_read.py --baseline main --repeat 7
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gradgold.golden import read_golden  # noqa: E402

Reader = Callable[..., Any]


def baseline_reader(rev: str) -> Reader:
    """``read_golden`` of ``src/gradgold/golden.py`` at git revision ``rev``, imported as a module
    of the current package (so its relative imports resolve to today's modules)."""
    text = subprocess.run(
        ["git", "show", f"{rev}:src/gradgold/golden.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return reader_from_source(text)


def reader_from_source(text: str) -> Reader:
    """``read_golden`` of a ``golden.py`` given as its text, imported beside today's modules."""
    path = Path(tempfile.mkdtemp()) / "golden_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("gradgold._golden_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    reader: Reader = module.read_golden
    return reader


def read_cost(golden_dir: Path, readers: dict[str, Reader], repeat: int) -> dict[str, Any]:
    """Per loader: median and p90 over goldens of each golden's median read time (CPU seconds)."""
    files = sorted(golden_dir.rglob("*.npz"))
    for read in readers.values():  # warm: imports, header caches, the page cache
        for f in files:
            read(f, root=golden_dir)
    times: dict[str, dict[Path, list[int]]] = {name: {f: [] for f in files} for name in readers}
    order = list(readers)
    for r in range(repeat):
        for f in files:
            for name in order if r % 2 == 0 else reversed(order):
                start = time.process_time_ns()
                readers[name](f, root=golden_dir)
                times[name][f].append(time.process_time_ns() - start)
    out: dict[str, Any] = {"goldens": len(files), "repeat": repeat}
    for name, per_file in times.items():
        medians = [statistics.median(v) / 1e9 for v in per_file.values()]
        out[name] = {
            "median_s": statistics.median(medians),
            "p90_s": statistics.quantiles(medians, n=10)[8],
            "mean_s": statistics.mean(medians),
        }
    return out


#: The loader before gradgold read zips itself (zipfile's central directory, a file object, a
#: check of every header): what the section measures beside the current one.
BASELINE = "e8b44f2"


def section(repeat: int) -> dict[str, Any]:
    """``bench/run.py``'s ``golden_read`` section: the current loader and, while it still imports
    beside today's modules, the :data:`BASELINE` loader, side by side in one run."""
    readers: dict[str, Reader] = {"current": read_golden}
    with contextlib.suppress(Exception):  # a baseline that no longer imports is left out
        readers["baseline"] = baseline_reader(BASELINE)
    return read_cost(ROOT / "golden", readers, repeat) | {
        "baseline_rev": BASELINE if "baseline" in readers else None
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="a git revision whose loader to measure beside this one")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    readers: dict[str, Reader] = {"current": read_golden}
    if args.baseline:
        readers[f"baseline {args.baseline}"] = baseline_reader(args.baseline)
    print(json.dumps(read_cost(ROOT / "golden", readers, args.repeat), indent=1))


if __name__ == "__main__":
    main()
