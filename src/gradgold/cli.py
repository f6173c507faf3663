"""The ``gradgold`` command: thin click wiring over the core modules.

Exit statuses: 0 all good; 1 a check found a mismatch or a case failed to generate; 2 usage
errors, invalid cases or goldens, stale or missing goldens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from .cases import DTYPE_NAMES
from .errors import GradgoldError
from .jsonout import dumps
from .modes import MODES
from .printable import printable
from .suite import Project, find_project, golden_path, golden_state, load_cases, orphans, select

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


#: A case reports its points once it has run this long (``-v``: always): a run of hundreds of
#: fast cases printed thousands of "point i/n done, 0.0 s so far" lines.
POINT_LINES_AFTER_SECONDS = 2.0


def _fail(message: str) -> NoReturn:
    click.echo(f"gradgold: error: {printable(message, keep_newlines=True)}", err=True)
    sys.exit(EXIT_USAGE)


def _say(text: str) -> None:
    """Print a line of text output. Whatever a golden or a file name supplied has been escaped
    field by field already (newlines too); this escapes any control character left, keeping the
    line breaks of gradgold's own multi-line messages."""
    click.echo(printable(text, keep_newlines=True))


def _project(golden_dir: str | None) -> Project:
    return find_project(golden_dir=Path(golden_dir) if golden_dir else None)


golden_dir_option = click.option(
    "--golden-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory of case files and goldens (default: [tool.gradgold] golden_dir, or ./golden).",
)


@click.group()
@click.version_option(package_name="gradgold")
def main() -> None:
    """Golden-file regression tests for PyTorch autograd against exact mathematics."""


@main.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--kernel",
    "kernel",
    default=None,
    help="Path of a WolframKernel (default: $WOLFRAM_KERNEL, standard locations, then the embedded engine).",
)
@click.option(
    "--embedded",
    is_flag=True,
    help="Use the embedded engine (Mathics3) even if a Wolfram kernel is installed.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Regenerate fresh goldens too (rewrites only files whose bytes change).",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Seconds one case may take.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Kernels evaluating in parallel (default: the number of cores; 2 for a Wolfram kernel, the "
    "free Wolfram Engine's licence limit). Results are byte-identical to a serial run.",
)
@click.option(
    "--startup-timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds a kernel may take to start (a real kernel checking its licence can be slow).",
)
@click.option(
    "--kernel-memory",
    type=click.IntRange(min=0),
    default=None,
    metavar="MB",
    help="Memory (address space) each embedded kernel may use, in MiB; 0 for no limit (default: "
    "$GRADGOLD_KERNEL_MEMORY_MB, else 4096). A case that needs more fails, named.",
)
@click.option(
    "--compare-trees",
    is_flag=True,
    help="Start the engine to compare its reading of every selected case the rigorous evaluator takes "
    "with gradgold's parser (done anyway for the cases generated when some case needs the engine); "
    "a case read differently fails.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines; only failures and the summary.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="List every case in the closing table, skipped ones included, and every point's progress "
    f"(without it, only a case that has run for {POINT_LINES_AFTER_SECONDS:g} s reports its points).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON document.")
@golden_dir_option
def generate(
    ids: Sequence[str],
    kernel: str | None,
    embedded: bool,
    force: bool,
    timeout: int,
    jobs: int | None,
    startup_timeout: float,
    kernel_memory: int | None,
    compare_trees: bool,
    quiet: bool,
    verbose: bool,
    as_json: bool,
    golden_dir: str | None,
) -> None:
    """Evaluate cases with a Wolfram Language engine and write their goldens."""
    from .generation.engine import MEMORY_ENV
    from .generation.generate import generate as run
    from .generation.generate import size_note

    if kernel_memory is not None:  # the kernels this process starts read it (engine.kernel_memory_mb)
        os.environ[MEMORY_ENV] = str(kernel_memory)

    def progress(event: str, case: Any, done: int, total: int, seconds: float | None) -> None:
        if quiet or as_json:
            return
        if event == "start":
            note = size_note(case)
            if note:
                click.echo(f"note: {note}", err=True)
            left = f", about {seconds:.0f} s left" if seconds is not None else ""
            click.echo(f"[{done}/{total}] evaluating {case.id} ({_case_size(case)}){left}", err=True)
        elif event == "working":
            click.echo(f"      still evaluating {case.id}: {seconds or 0:.0f} s so far", err=True)
        elif event == "point" and total > 1 and (verbose or (seconds or 0) >= POINT_LINES_AFTER_SECONDS):
            click.echo(f"      {case.id}: point {done}/{total} done, {seconds or 0:.1f} s so far", err=True)

    def trees(event: str, compared: int, refused: int, seconds: float) -> None:
        if quiet or as_json:
            return
        if event == "start":
            click.echo(
                f"held trees: starting the engine to compare its reading of {compared} case(s) with "
                "gradgold's (the start can take a minute)",
                err=True,
            )
        else:
            click.echo(
                f"held trees: the engine read {compared - refused} of {compared} cases as gradgold's "
                f"parser does ({seconds:.1f} s, engine start included)",
                err=True,
            )

    try:
        project = _project(golden_dir)
        cases = select(load_cases(project), ids)
        outcomes, info = run(
            project,
            cases,
            kernel=kernel,
            embedded=embedded,
            force=force,
            timeout=timeout,
            jobs=jobs or _default_jobs(kernel, embedded),
            progress=progress,
            startup_timeout=startup_timeout,
            compare_trees=compare_trees,
            on_trees=trees,
        )
    except GradgoldError as exc:
        _fail(str(exc))
    counts = {
        s: sum(o.status == s for o in outcomes) for s in ("generated", "unchanged", "skipped", "failed")
    }
    if as_json:
        doc = {
            "engine": dataclasses.asdict(info) if info else None,
            "cases": [dataclasses.asdict(o) for o in outcomes],
            "counts": counts,
        }
        click.echo(dumps(doc, indent=1))
    else:
        _print_generation(outcomes, info, jobs, quiet, verbose)
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    sys.exit(EXIT_MISMATCH if counts["failed"] else EXIT_OK)


def _default_jobs(kernel: str | None, embedded: bool) -> int:
    from .generation.engine import locate_kernel

    cores = os.cpu_count() or 1
    try:
        _, kind = locate_kernel(kernel, embedded)
    except GradgoldError:
        return 1  # generate() reports the real problem
    return cores if kind == "embedded" else min(2, cores)


def _case_size(case: Any) -> str:
    """``2 points x 3 inputs`` (and directions, order): what one evaluation covers."""
    text = f"{len(case.points)} point{'s' if len(case.points) != 1 else ''} x {case.n_vars} input"
    text += "s" if case.n_vars != 1 else ""
    if case.projections:
        text += f", {case.projections} directions"
    if case.order > 1:
        text += f", order {case.order}"
    return text


def _print_generation(
    outcomes: Sequence[Any], info: Any, jobs: int | None, quiet: bool, verbose: bool = False
) -> None:
    """The closing table: one line per case generated or failed (every case with ``verbose``),
    with its time and the reason of each failure; fresh and unchanged cases are counted."""
    if info is not None:
        click.echo(f"engine: {info.name}, {info.version} ({info.path}); {info.kernels} kernel(s)")
        if jobs and info.kernels < jobs:
            click.echo(f"note: {jobs} kernels asked for, {info.kernels} started (licence limit?)")
    quiet_ones = [o for o in outcomes if o.status in ("skipped", "unchanged")]
    for o in outcomes:
        if quiet and o.status != "failed":
            continue
        if o in quiet_ones and not verbose:
            continue
        line = f"{o.status:>9}  {o.case_id}"
        if o.seconds:
            line += f"  ({o.seconds:.1f} s)"
        if getattr(o, "evaluator", ""):
            line += f"  [{o.evaluator}]"
        click.echo(line)
        if o.reason:
            _say(f"           {o.reason}")
    if quiet_ones and not verbose and not quiet:
        kinds = " or ".join(sorted({"fresh" if o.status == "skipped" else "unchanged" for o in quiet_ones}))
        click.echo(f"{len(quiet_ones)} case(s) {kinds}, not listed (-v lists every case)")


@main.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--dtype",
    "dtypes",
    multiple=True,
    type=click.Choice(DTYPE_NAMES),
    help="Dtypes to check (default: each case's own: float64 and float32, complex128 and complex64 for "
    "complex inputs). Complex dtypes apply to cases with complex inputs, real ones to the others.",
)
@click.option(
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(MODES),
    help="Execution modes to check (default: each case's own; reverse, double_backward, func and "
    "forward). compile runs only when asked for.",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="Device to run on: cpu, cuda, cuda:N or mps. On a machine without it, every check is "
    "skipped with the reason (exit status 0).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print one JSON document: {"records": [one per case, dtype, mode, point and quantity], '
    '"counts": {...}}. Non-finite numbers are the strings "nan", "inf", "-inf".',
)
@click.option(
    "--jsonl",
    "as_jsonl",
    is_flag=True,
    help="Print the same records as JSON Lines: one JSON object per line, for streaming tools.",
)
@click.option(
    "--junit-xml",
    "junit_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write a JUnit XML report to this path (mismatches are failures; missing or stale "
    "goldens are errors).",
)
@golden_dir_option
def check(
    ids: Sequence[str],
    dtypes: Sequence[str],
    modes: Sequence[str],
    device: str,
    as_json: bool,
    as_jsonl: bool,
    junit_path: str | None,
    golden_dir: str | None,
) -> None:
    """Run each case's torch function at its golden's points and compare, in each dtype and
    execution mode.

    Exit status: 0 all passed (or skipped); 1 some check found a mismatch; 2 usage error, invalid
    case, or a golden that is missing, stale or unreadable (fix: `gradgold generate IDS`).
    """
    from .check import run_checks
    from .devices import device_problem

    if as_json and as_jsonl:
        _fail("--json prints one JSON document and --jsonl JSON Lines; give one of them")
    if device_problem(device).startswith("unknown device"):
        _fail(device_problem(device))
    try:
        project = _project(golden_dir)
        start = time.perf_counter()
        checks = run_checks(project, select(load_cases(project), ids), dtypes or None, device, modes or None)
    except GradgoldError as exc:
        _fail(str(exc))
    if junit_path is not None:
        _write_junit(Path(junit_path), checks, time.perf_counter() - start)
    if as_json:
        click.echo(dumps({"records": _check_records(checks), "counts": _check_counts(checks)}, indent=1))
    elif as_jsonl:
        for record in _check_records(checks):
            click.echo(dumps(record))
    else:
        _print_check_lines(checks)
    if any(c.problem for c in checks):
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK if all(c.passed for c in checks) else EXIT_MISMATCH)


def _check_records(checks: Sequence[Any]) -> list[dict[str, Any]]:
    """One record per quantity (``mode`` and ``device`` included); one per check that could not
    compare anything, with its ``error`` or ``skipped`` reason."""
    records: list[dict[str, Any]] = []
    for c in checks:
        head = {"id": c.case_id, "dtype": c.dtype, "mode": c.mode, "device": c.device}
        if c.problem:
            records.append(head | {"passed": False, "error": c.problem})
        elif c.skipped:
            records.append(head | {"passed": None, "skipped": c.skipped})
        records += [r.record() | {"xfail": c.expected_failure or None} for r in c.results]
    return records


def _check_counts(checks: Sequence[Any]) -> dict[str, int]:
    """Checks by status, as the text output's last line counts them (``failed``: all the rest)."""
    counts = {name: sum(c.status == s for c in checks) for s, name in _COUNTED.items()}
    return {"checks": len(checks), "failed": len(checks) - sum(counts.values())} | counts


_COUNTED = {"PASS": "passed", "XFAIL": "xfailed", "SKIP": "skipped"}


def _print_check_lines(checks: Sequence[Any]) -> None:
    """One line per check (``PASS  seed/sine [float64-reverse]``), the reasons of failures, skips
    and expected failures, then the counts. A mismatch identical to one already printed for
    another mode (same case, dtype, point, quantity and numbers) is named, not printed again."""
    seen: dict[tuple[str, str, str], str] = {}
    for c in checks:
        click.echo(f"{c.status:<5} {c.case_id} [{c.label}]")
        if c.problem:
            _say(f"      {c.problem}")
        if c.status == "SKIP":
            _say(f"      {c.skip_reason}")
            continue
        if c.status == "XPASS":
            click.echo(f"      {c.xpass_hint}")
        elif c.status == "XFAIL":
            click.echo(f"      expected failure{c.confined}: {c.expected_failure}")
            continue
        for r in c.unexpected if c.expected_failure else c.results:
            if not r.passed:
                _say("      " + _mismatch_once(seen, c, r).replace("\n", "\n      "))
    counts = {s: sum(c.status == s for c in checks) for s in ("PASS", "XFAIL", "SKIP")}
    failed = len(checks) - sum(counts.values())
    tail = f", {counts['XFAIL']} xfailed" if counts["XFAIL"] else ""
    tail += f", {counts['SKIP']} skipped" if counts["SKIP"] else ""
    click.echo(f"{counts['PASS']} passed, {failed} failed{tail}")


def _mismatch_once(seen: dict[tuple[str, str, str], str], check: Any, result: Any) -> str:
    """The result's message, or a one-line reference to an identical one printed for another mode
    of the same case and dtype (compared without the mode's tag and its suspect line)."""
    tag = f"[{check.label}]"
    body = "\n".join(
        line.replace(tag, "[*]") for line in result.message.splitlines() if not line.startswith("Suspect:")
    )
    key = (check.case_id, check.dtype, body)
    if key in seen:
        return (
            f"{check.case_id} {tag}, point {result.point}, {result.quantity}: the same mismatch as "
            f"[{seen[key]}] (identical numbers; see above)"
        )
    seen[key] = check.label
    return str(result.message)


@main.command(name="list")
@click.option(
    "--check",
    "check_",
    is_flag=True,
    help="Show only goldens that need attention, and exit 2 if any is stale, missing, unreadable or "
    "orphaned (for pre-commit and CI).",
)
@golden_dir_option
def list_(check_: bool, golden_dir: str | None) -> None:
    """Every case with the status of its golden (fresh / stale / missing), and orphan goldens."""
    try:
        project = _project(golden_dir)
        cases = load_cases(project)
    except GradgoldError as exc:
        _fail(str(exc))
    statuses = [(golden_state(project, c).status, c.id) for c in cases]
    for status, cid in statuses:
        if not check_ or status != "fresh":
            _say(f"{status:<10} {cid}")
    try:
        found = orphans(project, cases)
    except GradgoldError as exc:
        _fail(str(exc))
    for gid in found:
        path = printable(golden_path(project, gid))
        _say(f"{'orphan':<10} {printable(gid)}  (no case defines it; delete {path})")
    if check_:
        _list_verdict([s for s, _ in statuses], len(found), _commit_dir(project))


def _commit_dir(project: Project) -> str:
    """The golden directory as the user commits it: relative to the project's root (``golden/``,
    or ``tests/golden/`` as the guide configures it), absolute when outside it."""
    try:
        return f"{project.golden_dir.relative_to(project.root).as_posix()}/"
    except ValueError:
        return f"{printable(project.golden_dir)}/"


def _list_verdict(statuses: Sequence[str], n_orphans: int, commit_dir: str) -> None:
    """``list --check``: one line saying what needs doing, and the exit status."""
    counts = {s: statuses.count(s) for s in ("stale", "missing", "unreadable") if s in statuses}
    if n_orphans:
        counts["orphan"] = n_orphans
    if not counts:
        click.echo(f"all {len(statuses)} goldens are fresh")
        return
    fixes = []
    if set(counts) - {"orphan"}:
        fixes.append(
            "`gradgold generate` (or `pytest --gradgold-update`) regenerates stale, missing and "
            "unreadable ones"
        )
    if n_orphans:
        fixes.append("`gradgold prune` deletes orphans")
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    _fail(f"goldens need attention ({summary}): {'; '.join(fixes)}, then commit {commit_dir}")


@main.command()
@click.argument("case_id")
@click.option("--json", "as_json", is_flag=True, help="Print the golden as JSON.")
@golden_dir_option
def show(case_id: str, as_json: bool, golden_dir: str | None) -> None:
    """Print a golden: engine, expression, and for each point the inputs, value and gradient."""
    from .golden import read_golden

    try:
        project = _project(golden_dir)
        path = golden_path(project, case_id.removesuffix(".npz"))
        if not path.exists():
            select(load_cases(project), [case_id])  # an unknown id gets its "did you mean"
            _fail(f"{case_id}: no golden at {path}; run `gradgold generate {case_id}`")
        golden = read_golden(path, root=project.golden_dir)
    except GradgoldError as exc:
        _fail(str(exc))
    doc = _golden_doc(golden)
    if as_json:
        click.echo(dumps(doc, indent=1))
        return
    engine = doc["engine"]
    _say(f"{printable(doc['id'])}: {printable(doc['wolfram'])}")
    renamed = [f"{p} is {w}" for p, w in doc["wl_names"].items() if p != w]
    if renamed:
        _say(f"parameters written differently in wolfram=: {printable(', '.join(renamed))}")
    _say(f"engine: {printable(engine['name'])}, {printable(engine['version'])}; precision {doc['precision']}")
    cplx = set(golden.meta.complex)
    if cplx or golden.meta.complex_output:
        click.echo(
            "complex numbers are shown as [real, imag] pairs; derivatives are along the real and "
            f"imaginary part of {', '.join(sorted(cplx)) or 'no input'} (the last axis of d/d<param>)"
        )
    for grid, points in doc["grids"].items():
        click.echo(f"grid {grid}:")
        for i, p in enumerate(points):
            inputs = {k: _complex_text(v) if k in cplx else v for k, v in p["inputs"].items()}
            click.echo(f"  point {i}: inputs {inputs}")
            click.echo(f"    value {p['value']!r}  ({p['certified']['value']} digits certified)")
            for k, g in p["grad"].items():
                click.echo(f"    d/d{k} {g!r}  ({p['certified']['grad/' + k]} digits certified)")
            for q, h in p["higher"].items():
                click.echo(f"    {q} {h!r}  ({p['certified'][q]} digits certified)")
        if golden.meta.order > 1 and not cplx and grid == next(iter(doc["grids"])):
            click.echo(f"  (hessian, d3, d4 are over the variables {', '.join(_variable_names(golden))})")


def _complex_text(pairs: Any) -> Any:
    """``[re, im]`` pairs (nested) as Python complex numbers, for reading."""
    if isinstance(pairs, list) and len(pairs) == 2 and all(isinstance(x, float) for x in pairs):
        return complex(pairs[0], pairs[1])
    return [_complex_text(p) for p in pairs]


def _variable_names(golden: Any) -> list[str]:
    """The flattened variables higher derivatives are taken over: ``x``, ``W[0, 1]``..."""
    import numpy as np

    names = []
    for p, shape in golden.meta.params:
        names += [p + (str(list(ix)) if shape else "") for ix in np.ndindex(*shape)]
    return names


def _golden_doc(golden: Any) -> dict[str, Any]:
    """The JSON view of a golden; ``points`` are those of the float64 grid; ``wl_names`` each
    parameter's symbol in ``wolfram=``."""
    from .wlsource import wl_names

    meta = golden.meta
    grids = {}
    for name, data in golden.grids.items():
        grids[name] = [
            {
                "inputs": {p: v[i].tolist() for p, v in data.inputs.items()},
                "value": data.numbers["value"][i].tolist(),
                "grad": {q[5:]: v[i].tolist() for q, v in data.numbers.items() if q.startswith("grad/")},
                "higher": {
                    q: v[i].tolist()
                    for q, v in data.numbers.items()
                    if q != "value" and not q.startswith("grad/")
                },
                "digits": {q: v[i].tolist() for q, v in data.digits.items()},
                "certified": {q: int(v[i].min()) if v[i].size else None for q, v in data.certified.items()},
            }
            for i in range(data.n_points)
        ]
    params = meta.param_names
    try:
        names = wl_names(params)
    except ValueError:
        names = {p: p for p in params}
    return {
        "id": meta.id,
        "wolfram": meta.wolfram,
        "wl_names": names,
        "engine": {"name": meta.engine.name, "version": meta.engine.version},
        "precision": meta.precision,
        "fingerprint": meta.fingerprint,
        "points": grids["float64"],
        "grids": grids,
        "program_sha256": meta.program_sha256,
    }


def _write_junit(path: Path, checks: Sequence[Any], seconds: float) -> None:
    from .artifacts import junit_xml

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(junit_xml(checks, seconds))
    except OSError as exc:
        _fail(f"cannot write the JUnit report to {path} ({exc}); give a writable --junit-xml path")


@main.command()
@click.argument("ids", nargs=-1)
@golden_dir_option
def upgrade(ids: tuple[str, ...], golden_dir: str | None) -> None:
    """Rewrite fresh goldens of an older format version in the current one, without an engine.

    Only the encoding changes (no number, digit or provenance), so checks give the same results;
    a golden that is not fresh must be regenerated instead (`gradgold generate`).
    """
    from .generation.generate import upgrade as run

    try:
        project = _project(golden_dir)
        outcomes = run(project, select(load_cases(project), ids))
    except GradgoldError as exc:
        _fail(str(exc))
    for o in outcomes:
        if o.status == "failed":
            _say(f"  failed  {printable(o.case_id)}: {printable(o.reason)}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("generated", "unchanged", "failed")}
    click.echo(
        f"{counts['generated']} upgraded, {counts['unchanged']} already current, {counts['failed']} not fresh"
    )
    sys.exit(EXIT_MISMATCH if counts["failed"] else EXIT_OK)


@main.command()
@click.option("--dry-run", is_flag=True, help="List the orphans without deleting anything.")
@golden_dir_option
def prune(dry_run: bool, golden_dir: str | None) -> None:
    """Delete orphan goldens: golden files whose case no longer exists.

    Every case file must load first: a broken case file would make its goldens look orphaned.
    """
    try:
        project = _project(golden_dir)
        found = orphans(project, load_cases(project))
    except GradgoldError as exc:
        _fail(f"{exc}; nothing was pruned")
    for gid in found:
        path = golden_path(project, gid)
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        if not dry_run:
            path.unlink()
            if path.parent != project.golden_dir and not any(path.parent.iterdir()):
                path.parent.rmdir()
        verb = "would delete" if dry_run else "deleted"
        _say(f"{verb} {printable(shown)}  (no case defines {printable(gid)})")
    if not found:
        click.echo("no orphan goldens")
    elif dry_run:
        click.echo(f"{len(found)} orphan golden(s) would be deleted; run `gradgold prune` to delete them")
    else:
        click.echo(f"{len(found)} orphan golden(s) deleted; commit the deletion")


@main.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--rev",
    "revs",
    multiple=True,
    metavar="REV",
    help="Compare the goldens of git revision REV with the working tree; given twice, compare "
    "REV1 with REV2. Without --rev, regenerate IDS into a temporary directory and compare.",
)
@click.option("--embedded", is_flag=True, help="Regenerate with the embedded engine (Mathics3).")
@click.option(
    "--exit-code", is_flag=True, help="Exit 1 when some numbers changed (like `git diff --exit-code`)."
)
@golden_dir_option
def diff(
    ids: Sequence[str], revs: Sequence[str], embedded: bool, exit_code: bool, golden_dir: str | None
) -> None:
    """Show how goldens change, per case and quantity: unchanged, metadata only, or numbers changed
    (max relative change, ULPs, agreeing digits). What a reviewer reads on a pull request."""
    from .generation import review

    if len(revs) > 2:
        _fail("--rev takes one revision (compared with the working tree) or two; e.g. --rev origin/main")
    try:
        project = _project(golden_dir)
        with contextlib.ExitStack() as stack:
            if revs:
                old = stack.enter_context(review.at_revision(project, revs[0]))
                new = stack.enter_context(review.at_revision(project, revs[1])) if len(revs) == 2 else None
                new_dir = new or project.golden_dir
                every = sorted(set(review.golden_ids(old)) | set(review.golden_ids(new_dir)))
                chosen = _filter_ids(every, ids)
                diffs = review.diff_dirs(chosen, old, new_dir)
            else:
                cases = select(load_cases(project), ids)
                new_dir = stack.enter_context(review.regenerated(project, cases, embedded=embedded))
                diffs = review.diff_dirs([c.id for c in cases], project.golden_dir, new_dir)
    except GradgoldError as exc:
        _fail(str(exc))
    for line in review.format_diff(diffs):
        _say(line)
    changed = any(d.status not in ("unchanged", "metadata only") for d in diffs)
    sys.exit(EXIT_MISMATCH if exit_code and changed else EXIT_OK)


def _wolfram_kernel() -> str:
    """The Wolfram kernel ``generate`` would find, or a usage error saying how to name one."""
    from .generation.engine import locate_kernel

    try:
        path, kind = locate_kernel()
    except GradgoldError as exc:
        _fail(str(exc))
    if kind != "wolfram":
        _fail(
            "--engine wolfram: no Wolfram kernel found; give --kernel PATH or set WOLFRAM_KERNEL "
            "(e.g. /usr/local/Wolfram/Mathematica/14.1/Executables/WolframKernel)"
        )
    return path


def _filter_ids(every: Sequence[str], ids: Sequence[str]) -> list[str]:
    """Golden ids matching ``ids`` (``suite/case`` or ``suite``); all of them when none is given."""
    if not ids:
        return list(every)
    wanted = {i.removesuffix(".npz").removesuffix(".py").strip("/") for i in ids}
    return [g for g in every if g in wanted or g.split("/")[0] in wanted]


@main.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--kernel",
    "kernel",
    default=None,
    help="Recompute with this WolframKernel (default: $WOLFRAM_KERNEL, standard locations, then embedded).",
)
@click.option("--embedded", is_flag=True, help="Recompute with the embedded engine (Mathics3).")
@click.option(
    "--engine",
    type=click.Choice(["embedded", "wolfram"]),
    default=None,
    help="Recompute with this engine: 'embedded' (as --embedded), or 'wolfram' (the kernel found as "
    "for generate; an error if there is none).",
)
@click.option(
    "--offline", is_flag=True, help="Only check each golden's internal consistency; start no engine."
)
@click.option(
    "--rigorous",
    is_flag=True,
    help="Recompute with gradgold's rigorous ball-arithmetic evaluator alone (no kernel, no Mathics): "
    "every stored float64 must be the proven one. Cases it does not support are listed as skipped.",
)
@golden_dir_option
def verify(
    ids: Sequence[str],
    kernel: str | None,
    embedded: bool,
    engine: str | None,
    offline: bool,
    rigorous: bool,
    golden_dir: str | None,
) -> None:
    """Verify committed goldens: internal consistency without any engine (stored floats round the
    stored digits, fingerprints, certified digits, inputs), then, unless --offline, recompute them
    with an engine (or with --rigorous, the ball-arithmetic evaluator) and report the digits of
    agreement. Exit 1 if any check fails."""
    from .generation.verify import reverify, verify_offline

    if engine == "wolfram" and not embedded:
        kernel = kernel or _wolfram_kernel()
    embedded = embedded or engine == "embedded"
    if kernel is not None and embedded:
        _fail("--kernel and --embedded both name an engine; give one of them")
    if offline and (kernel is not None or embedded):
        _fail("--offline starts no engine; drop --kernel/--embedded, or drop --offline")
    if rigorous and (kernel is not None or embedded or offline):
        _fail("--rigorous recomputes without any engine; drop --kernel/--embedded/--engine/--offline")
    try:
        project = _project(golden_dir)
        cases = select(load_cases(project), ids)
        findings = verify_offline(project, cases)
        for case_id, found in findings.items():
            click.echo(f"{'OK' if not found else 'FAIL':<4}  {case_id}  (offline)")
            for f in found:
                _say(f"      {f.message}")
        failed = sum(bool(found) for found in findings.values())
        if rigorous:
            from .generation.verify import reverify_rigorous

            checked, skipped = reverify_rigorous(project, cases)
            click.echo("evaluator: gradgold rigorous (ball arithmetic, python-flint)")
            for a in checked:
                click.echo(f"{'OK' if a.passed else 'FAIL':<4}  {a.message}")
            for line in skipped:
                click.echo(f"SKIP  {line}")
            failed += sum(not a.passed for a in checked)
        elif not offline:
            agreements, info = reverify(project, cases, kernel=kernel, embedded=embedded)
            if info is not None:
                click.echo(f"engine: {info.name}, {info.version} ({info.path})")
            for a in agreements:
                _say(f"{'OK' if a.passed else 'FAIL':<4}  {a.message}")
            failed += sum(not a.passed for a in agreements)
    except GradgoldError as exc:
        _fail(str(exc))
    click.echo(f"verified {len(cases)} case(s): {failed} failure(s)")
    sys.exit(EXIT_MISMATCH if failed else EXIT_OK)


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write here (default: stdout)."
)
@click.option(
    "--plot", type=click.Path(dir_okay=False), default=None, help="Also write a PNG of error distributions."
)
@click.option(
    "--date", default=None, help="The date line (default: today); pin it for a reproducible report."
)
@golden_dir_option
def report(
    ids: Sequence[str],
    fmt: str,
    output: str | None,
    plot: str | None,
    date: str | None,
    golden_dir: str | None,
) -> None:
    """Render the state of all suites (or IDS): worst errors per operation, quantity and dtype."""
    import datetime
    import importlib.util

    import torch

    from .check import run_checks
    from .report import build_report, project_title, render_html, render_markdown, render_plot

    if plot is not None and importlib.util.find_spec("matplotlib") is None:
        _fail(
            "--plot needs matplotlib, which is not installed; install it with "
            "`pip install 'gradgold[plot]'` (or `pip install matplotlib`), or leave out --plot"
        )
    try:
        project = _project(golden_dir)
        built = build_report(run_checks(project, select(load_cases(project), ids)))
    except GradgoldError as exc:
        _fail(str(exc))
    when = date or datetime.date.today().isoformat()
    render = render_html if fmt == "html" else render_markdown
    text = render(
        built,
        date=when,
        torch_version=torch.__version__,
        title=project_title(project.root),
        plot=_plot_link(plot, output),
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text)
    if plot is not None:
        render_plot(built, Path(plot))
    _report_errors(built.rows)


def _report_errors(rows: Sequence[Any]) -> None:
    """A report with ERROR rows (checks that could not run) exits 2, saying why on stderr, once per
    case: a CI job rendering the report must not pass over goldens it could not read."""
    reasons = {r.case_id: r.reason for r in rows if r.status == "ERROR"}
    for case_id, reason in reasons.items():
        click.echo(f"gradgold: error: {case_id}: {printable(reason or 'the check could not run')}", err=True)
    if reasons:
        _fail(f"{len(reasons)} case(s) could not be checked (ERROR rows in the report); fix them, then rerun")


def _plot_link(plot: str | None, output: str | None) -> str | None:
    """The plot's path as the report links it: relative to the report's directory (to the working
    directory when the report goes to stdout)."""
    if plot is None:
        return None
    base = Path(output).resolve().parent if output else Path.cwd()
    return Path(os.path.relpath(Path(plot).resolve(), base)).as_posix()


if __name__ == "__main__":  # pragma: no cover
    main()
