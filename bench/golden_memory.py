"""Peak memory of loading a large golden (issue #15: an 800 MB golden loaded using 2.2 GB).

Writes a synthetic golden of about ``--mb`` MB (one scalar parameter, value and gradient with
40-character digit strings) and reports the peak resident memory of a fresh process that only
imports gradgold and reads it, minus that of a process that only imports gradgold.

    .venv/bin/python bench/golden_memory.py --mb 800
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_READ = """
import resource, sys
from pathlib import Path
from gradgold.golden import read_golden
if sys.argv[1] != "-":
    g = read_golden(Path(sys.argv[1]))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _write(path: Path, n: int) -> None:
    import numpy as np

    from gradgold.golden import Golden, GridData, write_golden

    numbers = {q: np.full(n, 0.5) for q in ("value", "grad/x")}
    digits = {q: np.full(n, "0." + "5" * 38) for q in numbers}
    certified = {q: np.full(n, 38, dtype=np.int16) for q in numbers}
    meta = {
        "id": "big/case",
        "wolfram": "x",
        "program": "x",
        "engine": {"name": "synthetic", "version": "0"},
        "precision": 40,
        "min_digits": 20,
        "fingerprint": "0" * 64,
        "params": [["x", []]],
        "out_shape": [],
        "grids": ["float64"],
        "n_points": n,
    }
    inputs = {"x": np.full(n, 0.5)}
    write_golden(path, Golden(meta=meta, grids={"float64": GridData(inputs, numbers, digits, certified)}))


def _peak_kib(arg: str) -> int:
    done = subprocess.run([sys.executable, "-c", _READ, arg], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        _write(Path(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=800)
    args = parser.parse_args()
    per_point = 8 + 2 * (8 + 160 + 2)
    n = int(args.mb * 1e6 / per_point)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "big", "case.npz")
        # Written by a child: a process's peak memory is inherited by the children it forks, so
        # this one must stay small for the readers' peaks to mean anything.
        subprocess.run([sys.executable, __file__, "--write", str(path), str(n)], check=True)
        size = path.stat().st_size
        base, peak = _peak_kib("-"), _peak_kib(str(path))
    print(
        json.dumps(
            {
                "file_mb": round(size / 1e6, 1),
                "peak_rss_mb": round(peak / 1024 * 1.048576, 1),
                "import_only_rss_mb": round(base / 1024 * 1.048576, 1),
                "reading_costs_mb": round((peak - base) / 1024 * 1.048576, 1),
                "ratio": round((peak - base) * 1024 / size, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
