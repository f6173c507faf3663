"""The pytest plugin: every golden case as test items, a fixture for other implementations, and the
orphan and artifact reports.

This module is wiring only. pytest loads it in every run of an environment where gradgold is
installed (``pytest11`` entry point), so it imports neither torch nor :mod:`gradgold.check` until a
golden test runs; the work is done by :mod:`gradgold.suite`, :mod:`gradgold.check` and
:mod:`gradgold.artifacts`. Per-run state lives in ``config.stash``.

Items are ``<case file>::<case>[<dtype>-<mode>]``, e.g. ``golden/seed.py::matrix_norm[float32-func]``
(``-<device>`` appended for ``--gradgold-device`` other than cpu), so ``-k``, ``--lf``, ``-x`` and xdist
select and distribute them like any test. Tests only ever read goldens.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import CaseError, GradgoldError
from .modes import MODES, case_modes, check_label, expected_failure
from .suite import Project, case_files, find_project, fresh_golden, golden_path, load_cases, orphans, select

if TYPE_CHECKING:
    from .cases import Case
    from .check import QuantityResult
    from .golden import Golden

__all__ = ["GoldenChecker", "GoldenFile", "GoldenItem", "GoldenMismatch"]

#: Failed quantities shown in full in one test report; the rest are counted.
MAX_REPORTED = 6
#: Where obtained results go when only ``CI`` is set (relative to the project root).
DEFAULT_ARTIFACTS_DIR = "gradgold-artifacts"
_ARTIFACT_PROPERTY = "gradgold_artifact"
_FULL_RUN_KEY = "gradgold_full_run"


class GoldenMismatch(Exception):
    """Torch disagreed with a golden; the message is the report (built by :func:`mismatch_report`)."""


class _State:
    """What one pytest run knows about the golden suites: project, cases, and what to report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._project: Project | None = None
        self._cases: list[Case] | None = None
        self._error: CaseError | None = None
        self.files_collected: set[Path] = set()
        self.full_run: bool | None = None  # None: no golden suite was collected
        self.worker_full_runs: list[bool] = []
        self.artifacts: list[str] = []
        self.orphans: list[str] = []
        self.artifacts_dir = _artifacts_dir(config)
        self.modes: list[str] = list(config.getoption("gradgold_modes") or [])
        self.devices: list[str] = list(config.getoption("gradgold_devices") or []) or ["cpu"]
        self._goldens: dict[str, tuple[tuple[int, int], Golden]] = {}

    def golden(self, case: Case) -> Golden:
        """The case's fresh golden, read once per run for all its dtype x mode items (read again
        if the file changes on disk); missing or stale goldens raise with the fix every time."""
        path = golden_path(self.project, case.id)
        try:
            stat = path.stat()
        except OSError:
            return fresh_golden(self.project, case)  # raises GoldenMissingError with the fix
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._goldens.get(case.id)
        if cached is not None and cached[0] == key and cached[1].fingerprint == case.fingerprint():
            return cached[1]
        golden = fresh_golden(self.project, case)
        self._goldens[case.id] = (key, golden)
        return golden

    def combos(self, case: Case) -> list[tuple[str, str, str]]:
        """(dtype, mode, device) of each item of ``case``, in item order."""
        modes = case_modes(case, self.modes or None)
        return [(d, m, dev) for dev in self.devices for d in case.dtypes for m in modes]

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = find_project(start=self.config.rootpath)
        return self._project

    def cases(self) -> list[Case]:
        """Every case of the project, loaded once per run (each case file is executed once; a
        broken one is reported by its own file, not re-executed for every other)."""
        if self._error is not None:
            raise self._error
        if self._cases is None:
            try:
                self._cases = load_cases(self.project)
            except CaseError as exc:
                self._error = exc
                raise
        return self._cases

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather artifact paths from failed reports, which carry them across xdist workers."""
        if report.failed:
            self.artifacts += [str(v) for k, v in report.user_properties if k == _ARTIFACT_PROPERTY]

    def is_case_file(self, path: Path) -> bool:
        return (
            path.suffix == ".py" and path.parent == self.project.golden_dir and not path.name.startswith("_")
        )


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


def _artifacts_dir(config: pytest.Config) -> Path | None:
    """``--gradgold-artifacts DIR``, else ``gradgold-artifacts/`` under the root when ``CI`` is set."""
    given: str | None = config.getoption("gradgold_artifacts")
    if given:
        return Path(config.invocation_params.dir, given).resolve()
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return config.rootpath / DEFAULT_ARTIFACTS_DIR
    return None


# ---------------------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradgold", "gradgold golden checks")
    group.addoption(
        "--gradgold-artifacts",
        metavar="DIR",
        default=None,
        help="Write what torch obtained in each failed golden check to DIR as .npz plus a .txt summary "
        f"(default when the CI environment variable is set: {DEFAULT_ARTIFACTS_DIR}/ under the root).",
    )
    group.addoption(
        "--gradgold-mode",
        dest="gradgold_modes",
        action="append",
        choices=MODES,
        default=[],
        help="Check only these execution modes (repeatable; default: each case's own, reverse, "
        "double_backward, func and forward). `compile` runs only when asked for here.",
    )
    group.addoption(
        "--gradgold-device",
        dest="gradgold_devices",
        action="append",
        default=[],
        metavar="DEVICE",
        help="Run the golden checks on DEVICE (cpu, cuda, cuda:N, mps; repeatable; default cpu). "
        "Items of an absent device are skipped with the reason.",
    )
    group.addoption(
        "--gradgold-orphans",
        choices=("warn", "fail"),
        default="warn",
        help="What a full run does about golden files whose case no longer exists: list them in the "
        "summary (warn, default) or also fail the run (fail).",
    )


def pytest_configure(config: pytest.Config) -> None:
    state = _State(config)
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "gradgold-state")
    config.addinivalue_line("markers", "gradgold: a golden check collected from a gradgold case file")


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Generator[None, Any, Any]:
    """Take case files over: pytest would import a case file named on the command line as a test
    module; it becomes a :class:`GoldenFile` instead, whatever its name."""
    collected = yield
    if not _state(parent.config).is_case_file(file_path):
        return collected
    kept = [node for node in collected if not isinstance(node, pytest.Module)]
    return [*kept, GoldenFile.from_parent(parent, path=file_path)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Decide whether this run checks the whole project: every case file collected and no golden
    item deselected (by ``-k``, ``-m``, ids, ``--lf``, ``--deselect`` or a sharding plugin)."""
    state = _state(session.config)
    if not state.files_collected:
        return
    try:
        expected = {f"{c.id}[{check_label(*combo)}]" for c in state.cases() for combo in state.combos(c)}
    except GradgoldError:
        return
    selected = {f"{i.case.id}[{i.label}]" for i in session.items if isinstance(i, GoldenItem)}
    all_files = state.files_collected == set(case_files(state.project))
    state.full_run = all_files and selected == expected
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_FULL_RUN_KEY] = state.full_run


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """xdist controller: each worker collected everything, so the run is full if theirs were."""
    output = getattr(node, "workeroutput", None) or {}
    if _FULL_RUN_KEY in output:
        _state(node.config).worker_full_runs.append(bool(output[_FULL_RUN_KEY]))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Find orphans of a full run (never in an xdist worker: the controller reports for the run)."""
    state = _state(session.config)
    if hasattr(session.config, "workerinput"):
        return
    full = state.full_run if not state.worker_full_runs else all(state.worker_full_runs)
    if not full:
        return
    try:
        state.orphans = orphans(state.project, state.cases())
    except GradgoldError:
        return
    if state.orphans and session.config.getoption("gradgold_orphans") == "fail" and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if state.orphans:
        terminalreporter.section("gradgold: orphan goldens", sep="=", yellow=True)
        for line in orphan_report(state.project, state.orphans, config.getoption("gradgold_orphans")):
            terminalreporter.line(line)
    if state.artifacts and state.artifacts_dir is not None:
        terminalreporter.section("gradgold: artifacts", sep="=")
        terminalreporter.line(
            f"obtained results of {len(state.artifacts)} failed golden check(s) written to "
            f"{state.artifacts_dir}; upload that directory from CI to inspect them"
        )


def orphan_report(project: Project, ids: Sequence[str], mode: str) -> list[str]:
    """One line per orphan, then what to do; ``mode`` is the ``--gradgold-orphans`` choice."""
    lines = []
    for gid in ids:
        path = golden_path(project, gid)
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        lines.append(f"{shown}: no case defines {gid} (deleted or renamed?)")
    verdict = "this fails the run (--gradgold-orphans=fail)" if mode == "fail" else "not a failure"
    lines.append(
        f"{len(ids)} orphan golden(s), {verdict}; delete them with `gradgold prune` "
        "(`gradgold prune --dry-run` lists them first)"
    )
    return lines


# ---------------------------------------------------------------------------------------- nodes


class GoldenFile(pytest.File):
    """A case file: one item per case, dtype and mode (and device). The file is executed by
    gradgold's loader, never imported as a test module, so functions named ``test_*`` in it are not
    tests."""

    def collect(self) -> list[pytest.Item]:
        state = _state(self.config)
        try:
            cases = state.cases()
        except CaseError as exc:
            message = str(exc)
            others = [p for p in case_files(state.project) if p != self.path and str(p) in message]
            if others:
                return []  # the file at fault reports the error
            raise self.CollectError(message) from exc
        state.files_collected.add(self.path)
        # The id is given as a string: pytest parses ``name[param]`` into a structured id, and
        # --lf matches items by that structure (a plain child named "case[dtype]" never matches).
        return [
            GoldenItem.from_parent(
                self,
                name=f"{c.name}[{check_label(d, m, dev)}]",
                nodeid=f"{self.nodeid}::{c.name}[{check_label(d, m, dev)}]",
                case=c,
                dtype=d,
                mode=m,
                device=dev,
            )
            for c in cases
            if c.suite == self.path.stem
            for d, m, dev in state.combos(c)
        ]


class GoldenItem(pytest.Item):
    """One case checked in one dtype, mode and device against its golden."""

    def __init__(
        self, *, case: Case, dtype: str, mode: str = "reverse", device: str = "cpu", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.dtype = dtype
        self.mode = mode
        self.device = device
        self.add_marker("gradgold")
        reason = expected_failure(case, dtype, mode)
        if reason:  # a recorded torch bug: only a mismatch counts, and a pass fails (strict)
            self.add_marker(pytest.mark.xfail(reason=reason, strict=True, raises=GoldenMismatch))

    @property
    def label(self) -> str:
        """``float32-reverse``: the item's parameter."""
        return check_label(self.dtype, self.mode, self.device)

    def runtest(self) -> None:
        __tracebackhide__ = True
        from .check import not_applicable

        results = _check(self.config, self, self.case, self.dtype, None, self.device, self.mode)
        reason = not_applicable(results)
        if reason:  # reported at the case's line, not inside pytest
            raise pytest.skip.Exception(reason, _use_item_location=True)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (GoldenMismatch, GradgoldError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line - 1 if self.case.line else None  # the declaration, 0-based
        return self.path, line, f"{self.case.id} [{self.label}]"


def _check(
    config: pytest.Config,
    item: pytest.Item,
    case: Case,
    dtype: str,
    fn: Callable[..., Any] | None,
    device: str,
    mode: str,
    label: str = "",
) -> list[QuantityResult]:
    """Check one case in one dtype, mode and device; a mismatch raises :class:`GoldenMismatch`
    with the report, after its obtained results are written where artifacts go. An absent device
    (or a dtype it lacks) skips the test with the reason."""
    __tracebackhide__ = True
    from .check import check_golden
    from .devices import device_problem, dtype_problem

    absent = device_problem(device) or dtype_problem(device, dtype)
    if absent:
        pytest.skip(absent)
    state = _state(config)
    golden = state.golden(case)
    results = check_golden(case, golden, dtype, fn=fn, device=device, mode=mode)
    failed = [r for r in results if not r.passed]
    if failed:
        if state.artifacts_dir is not None:
            path = _write_artifact(state.artifacts_dir, case, golden, dtype, results, fn, label, device, mode)
            item.user_properties.append((_ARTIFACT_PROPERTY, str(path)))
        where = golden_path(state.project, case.id)
        raise GoldenMismatch(mismatch_report(where, case, dtype, results, label, mode, device))
    return results


def _write_artifact(
    directory: Path,
    case: Case,
    golden: Golden,
    dtype: str,
    results: Sequence[QuantityResult],
    fn: Callable[..., Any] | None,
    label: str,
    device: str,
    mode: str,
) -> Path:
    from .artifacts import write_failure

    return write_failure(
        directory, case, golden, dtype, results, fn=fn, label=label, device=device, mode=mode
    )


def mismatch_report(
    path: Path,
    case: Case,
    dtype: str,
    results: Sequence[QuantityResult],
    label: str = "",
    mode: str = "reverse",
    device: str = "cpu",
) -> str:
    """A headline (what, which golden, how many), then each failed quantity's torch.testing-style
    message, at most :data:`MAX_REPORTED` of them."""
    failed = [r for r in results if not r.passed]
    what = f"{label} checked against {case.id}" if label else case.id
    tag = check_label(dtype, mode, device)
    lines = [f"{what} [{tag}]: {len(failed)} of {len(results)} checks failed against the golden {path}"]
    lines += ["", *(r.message for r in failed[:MAX_REPORTED])]
    if len(failed) > MAX_REPORTED:
        lines.append(
            f"... and {len(failed) - MAX_REPORTED} more failed checks; `gradgold check {case.id} "
            f"--dtype {dtype} --mode {mode} --device {device} --json` lists them all"
        )
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- fixture


class GoldenChecker:
    """The ``gradgold`` fixture: check any implementation against a case's golden."""

    def __init__(self, config: pytest.Config, item: pytest.Item) -> None:
        self._config = config
        self._item = item

    def check(
        self,
        case_id: str,
        fn: Callable[..., Any],
        dtypes: Sequence[str] | None = None,
        device: str = "cpu",
        modes: Sequence[str] | None = None,
    ) -> list[QuantityResult]:
        """Run ``fn`` at the golden's points of ``case_id`` (``suite/case``) in each dtype and mode
        (default: the case's own) and fail the test with the checker's report on any mismatch. The
        golden is the truth; ``fn`` takes the case function's parameters and returns its output. A
        mode that cannot run ``fn`` gives results with ``skipped`` set; an absent device skips the
        test."""
        __tracebackhide__ = True
        try:
            case = self._case(case_id)
            bad = [m for m in modes or () if m not in MODES]
            if bad:
                raise CaseError(f"unknown mode {bad[0]!r}; use one of {', '.join(MODES)}")
            results: list[QuantityResult] = []
            failures = []
            for dtype in dtypes or case.dtypes:
                for mode in case_modes(case, modes):
                    try:
                        results += _check(self._config, self._item, case, dtype, fn, device, mode, _name(fn))
                    except GoldenMismatch as exc:
                        failures.append(str(exc))
        except GradgoldError as exc:
            pytest.fail(f"gradgold.check({case_id!r}, {_name(fn)}): {exc}", pytrace=False)
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)
        return results

    def _case(self, case_id: str) -> Case:
        chosen = select(_state(self._config).cases(), [case_id])
        if len(chosen) != 1 or chosen[0].id != case_id.removesuffix(".npz"):
            raise CaseError(
                f"{case_id!r} names a suite of {len(chosen)} cases; give one case id, e.g. {chosen[0].id!r}"
            )
        return chosen[0]


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))


@pytest.fixture
def gradgold(request: pytest.FixtureRequest) -> GoldenChecker:
    """Check an implementation against a golden: ``gradgold.check("seed/matrix_norm", fused_norm)``."""
    return GoldenChecker(request.config, request.node)
