"""Where cases and goldens live: the project root, loading case files, ids and statuses.

Case files are Python (they are code, like tests) under the golden directory; each file is a
suite named after it, each case is ``<suite>/<case>``, and its golden is ``<suite>/<case>.npz``
next to the file: an id maps to one path and back, so no two cases can share a golden.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import sys
import tomllib
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .cases import Case, collecting, valid_name
from .errors import CaseError, GoldenError, GoldenMissingError, GoldenStaleError, OutsideGoldenDirError
from .freshness import stale_reason
from .golden import TEMP_PREFIX, Golden, read_golden

__all__ = [
    "STATES",
    "GoldenState",
    "Project",
    "check_contained",
    "find_project",
    "fresh_golden",
    "golden_file",
    "golden_files",
    "golden_path",
    "golden_state",
    "load_cases",
    "orphans",
    "select",
]


@dataclass(frozen=True)
class Project:
    """The root (where ``pyproject.toml`` is) and the golden directory inside it."""

    root: Path
    golden_dir: Path


def find_project(start: Path | None = None, golden_dir: Path | None = None) -> Project:
    """The nearest ``pyproject.toml`` above ``start``; its ``[tool.gradgold] golden_dir`` (default
    ``golden``) unless ``golden_dir`` overrides it."""
    here = (start or Path.cwd()).resolve()
    root, configured = here, "golden"
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            root = candidate
            try:
                config = tomllib.loads(pyproject.read_text()).get("tool", {}).get("gradgold", {})
            except tomllib.TOMLDecodeError as exc:
                raise CaseError(f"{pyproject}: invalid TOML ({exc}); fix the file") from exc
            configured = str(config.get("golden_dir", configured))
            break
    directory = golden_dir if golden_dir is not None else root / configured
    return Project(root=root, golden_dir=directory.resolve())


def golden_path(project: Project, case_id: str) -> Path:
    """The golden file of a case id."""
    return golden_file(project.golden_dir, case_id)


def golden_file(directory: Path, case_id: str) -> Path:
    """The golden file of ``case_id`` under a golden directory: the one naming rule, shared by every
    command (``suite/pow-2.5`` is ``suite/pow-2.5.npz``: not ``with_suffix``, which drops ".5")."""
    *dirs, name = case_id.split("/")
    return directory.joinpath(*dirs, name + ".npz")


def case_files(project: Project) -> list[Path]:
    """Case files: ``*.py`` directly under the golden directory, not starting with ``_``."""
    if not project.golden_dir.is_dir():
        return []
    return sorted(p for p in project.golden_dir.glob("*.py") if not p.name.startswith("_"))


def load_cases(project: Project) -> list[Case]:
    """Every case of every suite, in file order, with duplicate ids refused."""
    cases: list[Case] = []
    seen: dict[str, Case] = {}
    for path in case_files(project):
        for c in _load_file(path):
            key = c.id.lower()
            if key in seen:
                raise CaseError(
                    f"{path}: case {c.name!r} is defined twice in suite {c.suite!r} (ids compare "
                    f"case-insensitively, as golden file names do on macOS and Windows); rename one "
                    "with name=..."
                )
            seen[key] = c
            cases.append(c)
    return cases


def _load_file(path: Path) -> list[Case]:
    """Execute one case file and collect the cases it declares (in loops too)."""
    suite = path.stem
    if not valid_name(suite):
        raise CaseError(
            f"{path}: {suite!r} cannot name a suite (its goldens would go to golden/{suite}/); rename the "
            "file with letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    module_name = f"gradgold_cases.{suite}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CaseError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    with collecting() as found:
        try:
            spec.loader.exec_module(module)
        except CaseError:
            raise
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise CaseError(
                f"{path}: importing the case file failed at {frame.filename}:{frame.lineno}: "
                f"{type(exc).__name__}: {exc}; fix the file"
            ) from exc
    return [dataclasses.replace(c, suite=suite, source=str(path)) for c in found]


def select(cases: Sequence[Case], ids: Iterable[str]) -> list[Case]:
    """The cases named by ``ids`` (``suite/case`` or a whole ``suite``); unknown ids are an error
    with the closest known ids suggested."""
    wanted = list(ids)
    if not wanted:
        return list(cases)
    by_id = {c.id: c for c in cases}
    suites = {c.suite for c in cases}
    chosen: dict[str, Case] = {}
    for w in wanted:
        w = w.removesuffix(".npz").removesuffix(".py").strip("/")
        if w in by_id:
            chosen[w] = by_id[w]
        elif w in suites:
            chosen.update({c.id: c for c in cases if c.suite == w})
        else:
            close = difflib.get_close_matches(w, [*by_id, *suites], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `gradgold list` shows the ids"
            raise CaseError(f"unknown case id {w!r}{hint}")
    return list(chosen.values())


#: A golden's states: what every command and the plugin decide from :func:`golden_state`.
STATES = ("fresh", "stale", "missing", "unreadable")


@dataclass(frozen=True)
class GoldenState:
    """Where a case's golden stands: ``status`` (one of :data:`STATES`), ``reason`` (why it cannot
    be used, with the command that fixes it; "" when fresh), and the golden read, when readable."""

    status: str
    path: Path
    reason: str = ""
    golden: Golden | None = None
    error: GoldenError | None = None

    def require(self) -> Golden:
        """The golden if fresh; otherwise the error for its state (its message is ``reason``)."""
        if self.golden is not None and self.status == "fresh":
            return self.golden
        if self.error is not None:
            raise self.error
        raise AssertionError(f"golden state {self.status} without an error")  # pragma: no cover


def golden_state(project: Project, case: Case) -> GoldenState:
    """The one decision of whether a case's golden is fresh, stale (the case changed since
    generation), missing or unreadable, with the reason and its fix."""
    path = golden_path(project, case.id)
    shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
    fix = f"run `gradgold generate {case.id}` (or `pytest --gradgold-update`) and commit {shown}"
    if not path.exists():
        missing = GoldenMissingError(f"{case.id}: golden file {path} is missing; {fix}")
        return GoldenState("missing", path, str(missing), error=missing)
    try:
        golden = read_golden(path, root=project.golden_dir)
    except GoldenError as exc:
        return GoldenState("unreadable", path, str(exc), error=exc)
    reason = stale_reason(case, golden)
    if reason:
        stale = GoldenStaleError(f"{case.id}: golden {path} is stale: {reason}; {fix}")
        return GoldenState("stale", path, str(stale), golden, stale)
    return GoldenState("fresh", path, golden=golden)


def orphans(project: Project, cases: Sequence[Case]) -> list[str]:
    """Ids of golden files whose case no longer exists.

    Raises :class:`OutsideGoldenDirError` when a suite directory or golden is a link out of the
    golden directory: a prune must never delete files elsewhere."""
    known = {c.id for c in cases}
    return [gid for gid in golden_files(project.golden_dir) if gid not in known]


def golden_files(golden_dir: Path) -> list[str]:
    """Ids (``<suite>/<case>``) of the golden files in ``golden_dir``, sorted.

    Nothing outside ``golden_dir`` is ever listed: a suite directory or golden that resolves
    outside it (a symlink, e.g. committed in a pull request) raises
    :class:`OutsideGoldenDirError` naming the link. Temporary files of an interrupted write
    (``.gradgold-tmp-*``) are not goldens and are not listed.
    """
    if not golden_dir.is_dir():
        return []
    found = []
    for suite_dir in sorted(golden_dir.iterdir()):
        if suite_dir.name.startswith(".") or not suite_dir.is_dir():
            continue
        check_contained(golden_dir, suite_dir)
        for path in sorted(suite_dir.glob("*.npz")):
            if path.name.startswith(TEMP_PREFIX):
                continue
            check_contained(golden_dir, path)
            found.append(f"{suite_dir.name}/{path.stem}")
    return found


def check_contained(golden_dir: Path, path: Path) -> None:
    """Refuse a path under the golden directory that resolves outside it (through a symlink of
    its own or of a directory above it): gradgold never reads, writes or deletes through one."""
    base = golden_dir.resolve()
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise OutsideGoldenDirError(f"{path}: cannot be resolved ({exc}); remove the link") from exc
    if real.is_relative_to(base):
        return
    link = next((p for p in (path, *path.parents) if p.is_symlink()), path)
    raise OutsideGoldenDirError(
        f"{link} is a symbolic link to {real if link == path else link.resolve()}, outside the golden "
        f"directory {base}; gradgold never follows a link out of it (a pull request could point it "
        f"anywhere). Replace the link with a real directory or file, e.g. `git rm {link}`"
    )


def fresh_golden(project: Project, case: Case) -> Golden:
    """The case's golden, provided it exists and was generated for the case as it is now; the
    errors carry the command that fixes them."""
    return golden_state(project, case).require()
