"""The check records of the committed suite, to show that a change to the checker's cost changed
no verdict and no number.

``dump`` runs :func:`gradgold.check.run_checks` over every case (every dtype and default mode, as
``gradgold check`` does) and writes one JSON line per record: the ``gradgold check --json`` record
of each quantity (verdict, errors, allowance at the worst element, index), the check's status,
the full mismatch message, and a hash of the bits torch obtained (so the comparison is bit for
bit on every computed quantity, not only on the numbers a record shows). ``compare`` reports the
records that differ between two dumps.
Run the dump on the code before a change and after it, then compare:

    .venv/bin/python -m bench.records dump before.jsonl [SUITE ...]
    .venv/bin/python -m bench.records compare before.jsonl after.jsonl

Each dump also prints the CPU time of the checking (``time.process_time``), so the same runs
measure the cost before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gradgold.check import CaseCheck, run_checks
from gradgold.jsonout import dumps
from gradgold.suite import find_project, load_cases

#: Source lines in messages (``at /path/file.py:123``) move when the checker's own code is edited;
#: the file names stay, the numbers are masked.
_LINE = re.compile(r"(\.py):\d+")


def records(checks: Sequence[CaseCheck]) -> Iterator[dict[str, Any]]:
    """One record per quantity (and one per check that compared nothing), with status and message."""
    for c in checks:
        head = {"id": c.case_id, "dtype": c.dtype, "mode": c.mode, "device": c.device, "status": c.status}
        if c.problem or c.skipped:
            yield head | {"problem": c.problem, "skipped": c.skipped}
        for r in c.results:
            got = None if r.obtained is None else hashlib.sha256(r.obtained.tobytes()).hexdigest()[:16]
            yield head | r.record() | {"message": _LINE.sub(r"\1:N", r.message), "obtained": got}


def dump(out: Path, suites: Sequence[str]) -> None:
    """Check the committed suite (or ``suites``) and write its records to ``out``."""
    project = find_project(Path(__file__).resolve().parent)
    cases = [c for c in load_cases(project) if not suites or c.suite in suites]
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checks = run_checks(project, cases)
    cpu = time.process_time() - start
    lines = [dumps(r) for r in records(checks)]
    out.write_text("\n".join(lines) + "\n")
    statuses: dict[str, int] = {}
    for c in checks:
        statuses[c.status] = statuses.get(c.status, 0) + 1
    print(f"{len(cases)} cases, {len(checks)} checks, {len(lines)} records, {statuses}")
    print(f"checking CPU time: {cpu:.1f} s")


def compare(before: Path, after: Path) -> int:
    """Print the records that differ (by position; a different count is a difference); 0 if none."""
    a = before.read_text().splitlines()
    b = after.read_text().splitlines()
    differ = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
    for x, y in differ[:10]:
        print(f"- {x}\n+ {y}")
    if len(a) != len(b):
        print(f"record counts differ: {len(a)} before, {len(b)} after")
    same = len(a) == len(b) and not differ
    print(f"{len(a)} records before, {len(b)} after: {'identical' if same else f'{len(differ)} differ'}")
    return 0 if same else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="check the suite and write its records")
    d.add_argument("out", type=Path)
    d.add_argument("suites", nargs="*")
    c = sub.add_parser("compare", help="compare two dumps")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.out, args.suites)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
