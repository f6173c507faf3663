"""The ``gradgold`` command: thin click wiring over the core modules.

Exit statuses: 0 all good; 1 a check found a mismatch or a case failed to generate; 2 usage
errors, invalid cases or goldens, stale or missing goldens.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from .errors import GradgoldError
from .suite import Project, find_project, golden_path, golden_status, load_cases, orphans, select

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


def _fail(message: str) -> NoReturn:
    click.echo(f"gradgold: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


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
@golden_dir_option
def generate(
    ids: Sequence[str],
    kernel: str | None,
    embedded: bool,
    force: bool,
    timeout: int,
    golden_dir: str | None,
) -> None:
    """Evaluate cases in one Wolfram Language session and write their goldens."""
    from .generate import generate as run

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
            progress=lambda _, c: click.echo(f"  evaluating {c.id} ...", err=True),
        )
    except GradgoldError as exc:
        _fail(str(exc))
    if info is not None:
        click.echo(f"engine: {info.name}, {info.version} ({info.path})")
    for o in outcomes:
        line = f"{o.status:>9}  {o.case_id}"
        if o.seconds:
            line += f"  ({o.seconds:.1f} s)"
        click.echo(line)
        if o.reason:
            click.echo(f"           {o.reason}")
    counts = {
        s: sum(o.status == s for o in outcomes) for s in ("generated", "unchanged", "skipped", "failed")
    }
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    sys.exit(EXIT_MISMATCH if counts["failed"] else EXIT_OK)


@main.command()
@click.argument("ids", nargs=-1)
@click.option(
    "--dtype",
    "dtypes",
    multiple=True,
    type=click.Choice(["float64", "float32", "float16", "bfloat16"]),
    help="Dtypes to check (default: each case's own, float64 and float32).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON record per case, dtype, point and quantity.",
)
@golden_dir_option
def check(ids: Sequence[str], dtypes: Sequence[str], as_json: bool, golden_dir: str | None) -> None:
    """Run each case's torch function at its golden's points and compare."""
    from .check import run_checks

    try:
        project = _project(golden_dir)
        checks = run_checks(project, select(load_cases(project), ids), dtypes or None)
    except GradgoldError as exc:
        _fail(str(exc))
    problems = [c for c in checks if c.problem]
    if as_json:
        for c in checks:
            if c.problem:
                click.echo(
                    json.dumps({"id": c.case_id, "dtype": c.dtype, "passed": False, "error": c.problem})
                )
            for r in c.results:
                click.echo(json.dumps(r.record()))
    else:
        for c in checks:
            click.echo(f"{'PASS' if c.passed else 'FAIL'}  {c.case_id} [{c.dtype}]")
            if c.problem:
                click.echo(f"      {c.problem}")
            for r in c.results:
                if not r.passed:
                    click.echo("      " + r.message.replace("\n", "\n      "))
        passed = sum(c.passed for c in checks)
        click.echo(f"{passed} passed, {len(checks) - passed} failed")
    if problems:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK if all(c.passed for c in checks) else EXIT_MISMATCH)


@main.command(name="list")
@golden_dir_option
def list_(golden_dir: str | None) -> None:
    """Every case with the status of its golden (fresh / stale / missing), and orphan goldens."""
    try:
        project = _project(golden_dir)
        cases = load_cases(project)
    except GradgoldError as exc:
        _fail(str(exc))
    for c in cases:
        click.echo(f"{golden_status(project, c):<10} {c.id}")
    for gid in orphans(project, cases):
        click.echo(f"{'orphan':<10} {gid}  (no case defines it; delete {golden_path(project, gid)})")


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
        golden = read_golden(path)
    except GradgoldError as exc:
        _fail(str(exc))
    doc = _golden_doc(golden)
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    click.echo(f"{doc['id']}: {doc['wolfram']}")
    click.echo(f"engine: {doc['engine']['name']}, {doc['engine']['version']}; precision {doc['precision']}")
    for grid, points in doc["grids"].items():
        click.echo(f"grid {grid}:")
        for i, p in enumerate(points):
            click.echo(f"  point {i}: inputs {p['inputs']}")
            click.echo(f"    value {p['value']!r}  ({p['certified']['value']} digits certified)")
            for k, g in p["grad"].items():
                click.echo(f"    d/d{k} {g!r}  ({p['certified']['grad/' + k]} digits certified)")


def _golden_doc(golden: Any) -> dict[str, Any]:
    """The JSON view of a golden; ``points`` are those of the float64 grid."""
    meta = golden.meta
    grids = {}
    for name, data in golden.grids.items():
        grids[name] = [
            {
                "inputs": {p: v[i].tolist() for p, v in data.inputs.items()},
                "value": data.numbers["value"][i].tolist(),
                "grad": {q[5:]: v[i].tolist() for q, v in data.numbers.items() if q.startswith("grad/")},
                "digits": {q: v[i].tolist() for q, v in data.digits.items()},
                "certified": {q: int(v[i].min()) if v[i].size else None for q, v in data.certified.items()},
            }
            for i in range(data.n_points)
        ]
    return {
        "id": meta["id"],
        "wolfram": meta["wolfram"],
        "engine": meta["engine"],
        "precision": meta["precision"],
        "fingerprint": meta["fingerprint"],
        "points": grids["float64"],
        "grids": grids,
        "program": meta["program"],
    }


if __name__ == "__main__":  # pragma: no cover
    main()
