"""Reviewing golden changes: what a pull request that touches ``golden/`` does to the numbers.

Two goldens of one case are compared entry by entry and classified as ``unchanged`` (same
metadata, same numbers), ``metadata only`` (e.g. another engine version or program text, same
numbers bit for bit), ``numbers changed`` (with the largest relative change, in float64 ULPs and
in agreeing decimal digits, per grid and quantity), ``added`` or ``removed``. The goldens come
from regenerating into a temporary directory (:func:`regenerated`) or from two git revisions
(:func:`at_revision`); the working tree is the default new side.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cases import Case
from ..errors import GoldenError, GradgoldError
from ..golden import Golden, read_golden
from ..printable import printable
from ..suite import Project, golden_file, golden_files
from ..tolerance import ulps

__all__ = [
    "CaseDiff",
    "QuantityChange",
    "at_revision",
    "diff_dirs",
    "diff_goldens",
    "format_diff",
    "regenerated",
]


@dataclass(frozen=True)
class QuantityChange:
    """How one quantity of one grid changed: worst element over all points."""

    grid: str
    quantity: str
    max_rel: float
    max_ulps: float
    point: int
    index: tuple[int, ...]
    note: str = ""

    @property
    def digits(self) -> float:
        """Decimal digits on which old and new agree at the worst element (inf when equal)."""
        if self.max_rel == 0:
            return math.inf
        return max(0.0, -math.log10(self.max_rel)) if math.isfinite(self.max_rel) else 0.0

    def describe(self) -> str:
        if self.note:
            return f"{self.grid} {self.quantity}: {self.note}"
        return (
            f"{self.grid} {self.quantity}: max relative change {self.max_rel:.3g} "
            f"({self.max_ulps:.3g} ULPs of float64, old and new agree to {self.digits:.1f} digits) "
            f"at point {self.point}, index {self.index}"
        )


@dataclass(frozen=True)
class CaseDiff:
    """The verdict on one case id."""

    case_id: str
    status: str  # unchanged | metadata only | numbers changed | added | removed | unreadable
    metadata: tuple[str, ...] = ()
    changes: tuple[QuantityChange, ...] = field(default_factory=tuple)
    note: str = ""


def diff_goldens(case_id: str, old: Golden | None, new: Golden | None) -> CaseDiff:
    """Classify one case's change from ``old`` to ``new`` (either may be absent)."""
    if old is None and new is None:
        return CaseDiff(case_id, "unchanged")
    if old is None:
        return CaseDiff(case_id, "added")
    if new is None:
        return CaseDiff(case_id, "removed")
    before, after = old.meta.to_dict(), new.meta.to_dict()
    meta = tuple(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
    changes = tuple(_number_changes(old, new))
    if changes:
        return CaseDiff(case_id, "numbers changed", meta, changes)
    return CaseDiff(case_id, "metadata only" if meta else "unchanged", meta)


def _number_changes(old: Golden, new: Golden) -> Iterator[QuantityChange]:
    for grid in sorted(set(old.grids) | set(new.grids)):
        if grid not in old.grids or grid not in new.grids:
            side = "added" if grid not in old.grids else "removed"
            yield QuantityChange(grid, "*", math.inf, math.inf, 0, (), note=f"grid {side}")
            continue
        a, b = old.grids[grid], new.grids[grid]
        for p in sorted(set(a.inputs) | set(b.inputs)):
            if not _same(a.inputs.get(p), b.inputs.get(p)):
                yield QuantityChange(grid, f"input/{p}", math.inf, math.inf, 0, (), note="points changed")
        yield from _quantity_changes(grid, a.numbers, b.numbers)
        # What the checker and verify also trust: a magnitude of terms widens the allowance, and the
        # digits and certified counts are what verify holds the numbers to.
        magnitudes = ({f"magnitude/{q}": m for q, m in side.magnitudes.items()} for side in (a, b))
        yield from _quantity_changes(grid, *magnitudes)
        yield from _stored_changes(
            grid, "certified", a.certified, b.certified, "certified digit counts changed"
        )
        yield from _stored_changes(grid, "digits", a.digits, b.digits, "digit strings changed")


def _stored_changes(
    grid: str,
    kind: str,
    old: Mapping[str, npt.NDArray[Any]],
    new: Mapping[str, npt.NDArray[Any]],
    what: str,
) -> Iterator[QuantityChange]:
    """A note for each quantity whose ``kind`` entry (digits or certified counts) changed where
    its float64 numbers may not have (a changed shape is reported with the numbers)."""
    for q in sorted(set(old) & set(new)):
        x, y = old[q], new[q]
        if x.shape != y.shape or np.array_equal(x, y):
            continue
        where = tuple(int(i) for i in np.argwhere(x != y)[0])
        yield QuantityChange(
            grid,
            f"{kind}/{q}",
            math.inf,
            math.inf,
            where[0],
            where[1:],
            note=f"{what} (first at point {where[0]}, index {where[1:]})",
        )


def _same(x: npt.NDArray[np.float64] | None, y: npt.NDArray[np.float64] | None) -> bool:
    return x is not None and y is not None and x.shape == y.shape and np.array_equal(x, y)


def _quantity_changes(
    grid: str,
    old: Mapping[str, npt.NDArray[np.float64]],
    new: Mapping[str, npt.NDArray[np.float64]],
) -> Iterator[QuantityChange]:
    for q in sorted(set(old) | set(new)):
        x, y = old.get(q), new.get(q)
        if x is None or y is None or x.shape != y.shape:
            shapes = f"{None if x is None else x.shape} -> {None if y is None else y.shape}"
            yield QuantityChange(grid, q, math.inf, math.inf, 0, (), note=f"shape changed {shapes}")
            continue
        if np.array_equal(x, y):
            continue
        diff = np.abs(y - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(x != 0, diff / np.abs(x), np.where(diff == 0, 0.0, np.inf))
        flat = int(np.argmax(rel))
        where = tuple(int(i) for i in np.unravel_index(flat, x.shape))
        yield QuantityChange(
            grid,
            q,
            float(rel.flat[flat]),
            float(np.max(ulps(diff, x, "float64"))),
            where[0],
            where[1:],
        )


def diff_dirs(case_ids: Sequence[str], old_dir: Path, new_dir: Path) -> list[CaseDiff]:
    """Compare the goldens of ``case_ids`` between two golden directories; each golden is read
    with the containment check of its directory (a golden linked out of it is unreadable)."""
    return [_diff_paths(cid, old_dir, new_dir) for cid in sorted(dict.fromkeys(case_ids))]


def _diff_paths(case_id: str, old_dir: Path, new_dir: Path) -> CaseDiff:
    old, new = golden_file(old_dir, case_id), golden_file(new_dir, case_id)
    try:
        a = read_golden(old, root=old_dir) if old.exists() or old.is_symlink() else None
        b = read_golden(new, root=new_dir) if new.exists() or new.is_symlink() else None
    except GoldenError as exc:
        return CaseDiff(case_id, "unreadable", note=str(exc))
    return diff_goldens(case_id, a, b)


def golden_ids(directory: Path) -> list[str]:
    """Ids of the golden files in a golden directory (``<suite>/<case>.npz``); a link out of it
    is refused (:func:`gradgold.suite.golden_files`)."""
    return golden_files(directory)


@contextmanager
def regenerated(project: Project, cases: Sequence[Case], embedded: bool = False) -> Iterator[Path]:
    """A temporary golden directory holding freshly generated goldens of ``cases``.

    Generation failures are errors: a review must not silently compare against nothing.
    """
    from .generate import generate

    with tempfile.TemporaryDirectory(prefix="gradgold-diff-") as tmp:
        scratch = Project(root=project.root, golden_dir=Path(tmp))
        outcomes, _ = generate(scratch, cases, embedded=embedded, force=True)
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise GradgoldError(
                "regeneration failed, nothing to compare: "
                + "; ".join(f"{o.case_id}: {o.reason}" for o in failed)
            )
        yield Path(tmp)


@contextmanager
def at_revision(project: Project, rev: str) -> Iterator[Path]:
    """A temporary golden directory holding the goldens of git revision ``rev``."""
    rel = project.golden_dir.relative_to(project.root).as_posix()
    names = _git(project.root, "ls-tree", "-r", "--name-only", rev, "--", rel).decode().splitlines()
    with tempfile.TemporaryDirectory(prefix=f"gradgold-{rev.replace('/', '_')}-") as tmp:
        for name in names:
            inner = Path(name).relative_to(rel)
            if name.endswith(".npz") and len(inner.parts) == 2:
                target = Path(tmp, inner)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_git(project.root, "show", f"{rev}:{name}"))
        yield Path(tmp)


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise GradgoldError("git is not installed; `gradgold diff --rev` reads goldens through git") from exc
    if done.returncode != 0:
        raise GradgoldError(
            f"`git {' '.join(args)}` failed in {root}: {done.stderr.decode().strip()}; "
            "give a revision git knows (a branch, tag or commit), e.g. --rev origin/main"
        )
    return done.stdout


def format_diff(diffs: Sequence[CaseDiff]) -> list[str]:
    """The report a reviewer reads: one block per case, then the counts. Ids, metadata keys and
    notes come from golden files and their names: control characters in them are escaped."""
    lines: list[str] = []
    for d in diffs:
        head = f"{printable(d.case_id)}: {d.status}"
        if d.metadata:
            head += f" (metadata: {', '.join(printable(k) for k in d.metadata)})"
        lines.append(head)
        lines += [f"  {printable(c.describe())}" for c in d.changes]
        if d.note:
            lines.append(f"  {printable(d.note)}")
    order = ("unchanged", "metadata only", "numbers changed", "added", "removed", "unreadable")
    lines.append(", ".join(f"{sum(d.status == s for d in diffs)} {s}" for s in order))
    return lines
