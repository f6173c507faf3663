"""Peak memory of loading a large golden (issue #15: an 800 MB golden loaded using 2.2 GB).

Writes a synthetic golden of about ``--mb`` MB in the current format (one scalar parameter, value
and gradient with 40-character digit strings; the point count is sized from two small goldens)
and reports the peak resident memory of a fresh process that only imports gradgold and reads it,
minus that of a process that only imports gradgold.

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
    from gradgold.schema import EngineStamp, Metadata, program_sha256

    numbers = {q: np.full(n, 0.5) for q in ("value", "grad/x")}
    digits = {q: np.full(n, "0." + "5" * 38) for q in numbers}
    certified = {q: np.full(n, 38, dtype=np.int16) for q in numbers}
    meta = Metadata(
        id="big/case",
        wolfram="x",
        precision=40,
        fingerprint="0" * 64,
        params=(("x", ()),),
        grids=("float64",),
        n_points=n,
        engine=EngineStamp("synthetic", "0"),
        out_shape=(),
        program_sha256=program_sha256("x"),
        min_digits=20,
    )
    inputs = {"x": np.full(n, 0.5)}
    write_golden(path, Golden(meta=meta, grids={"float64": GridData(inputs, numbers, digits, certified)}))


def _written_bytes(path: Path, n: int) -> int:
    """The size of the golden of ``n`` points, written by a child (see :func:`main`)."""
    subprocess.run([sys.executable, __file__, "--write", str(path), str(n)], check=True)
    return path.stat().st_size


def _points_for(mb: float, tmp: str) -> int:
    """How many points make a golden of about ``mb`` MB, in the format the writer produces now:
    measured from two small goldens (bytes per point and fixed overhead), so the sizing follows the
    encoding (version 2 stores a digit string as 40 ASCII bytes, version 1 as 160 of UTF-32)."""
    small, large = 1_000, 11_000
    a, b = _written_bytes(Path(tmp, "a.npz"), small), _written_bytes(Path(tmp, "b.npz"), large)
    per_point = (b - a) / (large - small)
    return max(1, int((mb * 1e6 - (a - small * per_point)) / per_point))


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
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "big", "case.npz")
        # Written by a child: a process's peak memory is inherited by the children it forks, so
        # this one must stay small for the readers' peaks to mean anything.
        size = _written_bytes(path, _points_for(args.mb, tmp))
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
