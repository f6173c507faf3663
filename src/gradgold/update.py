"""``pytest --gradgold-update``: regenerate the missing and stale goldens of the selected cases.

The plugin only wires this in; the work is here so it can be tested without pytest. Generation
runs as a child process (``python -m gradgold generate``), exactly as a person would run it: the
engine's kernel process lives and dies with that child, whatever warnings filters the test run has,
and the engine is chosen the usual way (``$WOLFRAM_KERNEL`` or an installed kernel, else the
embedded engine). What was written is decided by comparing each golden's bytes before and after,
not by trusting the child's report.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cases import Case
from .suite import Project, golden_path, golden_state

__all__ = ["UpdateOutcome", "ci_refusal", "in_ci", "needs_update", "summary", "update_goldens"]

#: Values of ``CI`` that do not mean "running in CI".
_NOT_CI = ("", "0", "false", "no")


def in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run (as every CI system sets it)."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def ci_refusal() -> str:
    """Why ``--gradgold-update`` refuses to run in CI, and what to do instead."""
    return (
        "--gradgold-update writes goldens, and the CI environment variable is set: CI only checks "
        "goldens (a missing or stale one must fail there). Run `pytest --gradgold-update` or "
        "`gradgold generate` on your machine and commit the goldens; unset CI to update locally"
    )


def needs_update(project: Project, cases: Sequence[Case]) -> list[Case]:
    """The cases whose golden is missing, stale or unreadable, once each, in the given order."""
    seen: set[str] = set()
    out = []
    for c in cases:
        if c.id not in seen and golden_state(project, c).status != "fresh":
            seen.add(c.id)
            out.append(c)
    return out


@dataclass(frozen=True)
class UpdateOutcome:
    """What an update did: the goldens written (relative paths), the ids still not fresh (the
    generator's output says why) and the generator's exit status."""

    written: tuple[str, ...]
    not_fresh: tuple[str, ...]
    returncode: int


def update_goldens(project: Project, cases: Sequence[Case], echo: Callable[[str], None]) -> UpdateOutcome:
    """Generate ``cases`` in a child ``gradgold generate`` (its output passed line by line to
    ``echo``, progress included) and report what changed on disk."""
    before = {c.id: _digest(project, c.id) for c in cases}
    command = [
        sys.executable,
        "-m",
        "gradgold",
        "generate",
        "--golden-dir",
        str(project.golden_dir),
        *(c.id for c in cases),
    ]
    with subprocess.Popen(
        command,
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            echo(line.rstrip("\n"))
        returncode = child.wait()
    written = tuple(
        _shown(project, c.id) for c in cases if _digest(project, c.id) not in (None, before[c.id])
    )
    not_fresh = tuple(c.id for c in cases if golden_state(project, c).status != "fresh")
    return UpdateOutcome(written, not_fresh, returncode)


def _digest(project: Project, case_id: str) -> str | None:
    try:
        return hashlib.sha256(golden_path(project, case_id).read_bytes()).hexdigest()
    except OSError:
        return None


def _shown(project: Project, case_id: str) -> str:
    path = golden_path(project, case_id)
    return str(path.relative_to(project.root)) if path.is_relative_to(project.root) else str(path)


def summary(outcome: UpdateOutcome) -> list[str]:
    """The lines the plugin prints after an update: each golden written, then what is left."""
    lines = [f"wrote {p}" for p in outcome.written]
    if not outcome.written and not outcome.not_fresh:
        lines.append("nothing to write")
    if outcome.not_fresh:
        lines.append(
            f"{len(outcome.not_fresh)} golden(s) could not be generated ({', '.join(outcome.not_fresh)}); "
            "the generator's messages above say why; their tests fail until it is fixed"
        )
    elif outcome.written:
        lines.append(
            f"{len(outcome.written)} golden(s) written; review (`git diff --stat`, "
            "`gradgold diff --rev HEAD`) and commit them"
        )
    return lines
