"""The embedded kernel's WXF codec: wolframclient's parser and serializer against the hand-written
codec it replaced, side by side on large results.

The old codec is no longer in the tree; it is read from git at the commit before the change
(:data:`OLD_COMMIT`) into a throw-away module, so both run in one process on the same Mathics3
expressions. Times are CPU seconds (``time.process_time``), taken round-robin so that load from other
processes hits both alike; each figure is the median of the rounds. Both codecs must produce the
same bytes (encode) and the same expressions (decode), or the bench stops.

Run: ``.venv/bin/python -m bench.wxf`` (writes bench/wxf.json; bench/WXF.md records a run).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The last commit with the hand-written codec (src/gradgold/generation/embedded/wxf.py).
OLD_COMMIT = "b42e447"
_OLD_PATH = "src/gradgold/generation/embedded/wxf.py"
ROOT = Path(__file__).resolve().parent.parent

#: Large results the kernel sends back: WL text evaluated by Mathics3 once, then encoded.
RESULTS = {
    "10^4 big decimals (50 digits)": "Table[N[Sin[k], 50], {k, 10^4}]",
    "nested Jacobian 10x30x30 (40 digits)": "Table[N[Sin[i + j/k], 40], {i, 10}, {j, 30}, {k, 30}]",
    "10^4 exact rationals and integers": "Table[If[OddQ[k], k^3/7, 2^k], {k, 10^4}]",
}


def _old_codec() -> types.ModuleType:
    """The hand-written codec as of :data:`OLD_COMMIT`, loaded from git without touching the tree."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:{_OLD_PATH}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType("old_wxf")
    exec(compile(source, f"{OLD_COMMIT}:{_OLD_PATH}", "exec"), module.__dict__)  # our own history, not input
    return module


def _cpu_interleaved(ops: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median CPU seconds of each operation, timed one run of each per round."""
    times: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            start = time.process_time()
            op()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def run(rounds: int = 5) -> dict[str, Any]:
    """Encode and decode every result with both codecs; return the timings and ratios."""
    from gradgold.generation.embedded import wxf as new
    from gradgold.generation.embedded.engine import MathicsEvaluator

    old = _old_codec()
    evaluator = MathicsEvaluator()
    rows: list[dict[str, Any]] = []
    for label, text in RESULTS.items():
        start = time.process_time()
        expr = evaluator.session.evaluate(text)
        evaluate_s = time.process_time() - start  # what the kernel spent before encoding
        frame = new.encode_expression(expr)
        if old.encode_expression(expr) != frame:
            raise SystemExit(f"{label}: the two encoders disagree")
        decoded = new.decode_request(frame, evaluator.symbol, evaluator.number)
        if not decoded.sameQ(old.decode_request(frame, evaluator.symbol, evaluator.number)):
            raise SystemExit(f"{label}: the two decoders disagree")
        cpu = _cpu_interleaved(
            {
                "encode old": lambda e=expr: old.encode_expression(e),
                "encode new": lambda e=expr: new.encode_expression(e),
                "decode old": lambda f=frame: old.decode_request(f, evaluator.symbol, evaluator.number),
                "decode new": lambda f=frame: new.decode_request(f, evaluator.symbol, evaluator.number),
            },
            rounds,
        )
        rows.append(
            {
                "result": label,
                "wl": text,
                "frame_bytes": len(frame),
                "evaluate_cpu_s": evaluate_s,
                "cpu_s": cpu,
                "encode_new_over_old": cpu["encode new"] / cpu["encode old"],
                "decode_new_over_old": cpu["decode new"] / cpu["decode old"],
            }
        )
    return {"machine": _machine(), "old_commit": OLD_COMMIT, "rounds": rounds, "rows": rows}


def _machine() -> dict[str, Any]:
    """What ran the bench: CPU model, cores, load (the numbers are CPU time, load still matters)."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_1min": os.getloadavg()[0],
        "python": platform.python_version(),
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    result = run(rounds)
    (ROOT / "bench" / "wxf.json").write_text(json.dumps(result, indent=1) + "\n")
    for row in result["rows"]:
        cpu = row["cpu_s"]
        print(
            f"{row['result']} ({row['frame_bytes']} bytes): encode old {cpu['encode old'] * 1e3:.1f} ms, "
            f"new {cpu['encode new'] * 1e3:.1f} ms (x{row['encode_new_over_old']:.2f}); decode old "
            f"{cpu['decode old'] * 1e3:.1f} ms, new {cpu['decode new'] * 1e3:.1f} ms "
            f"(x{row['decode_new_over_old']:.2f}); Mathics3 evaluated it in {row['evaluate_cpu_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
