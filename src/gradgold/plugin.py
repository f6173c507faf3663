"""The pytest plugin: every golden case as test items, a fixture for other implementations, and the
orphan and artifact reports.

This module is wiring only. pytest loads it in every run of an environment where gradgold is
installed (``pytest11`` entry point), so it imports neither torch nor :mod:`gradgold.check` until a
golden test runs; the work is done by :mod:`gradgold.suite`, :mod:`gradgold.check`,
:mod:`gradgold.api` (the fixture), :mod:`gradgold.update` (``--gradgold-update``) and
:mod:`gradgold.artifacts`. Per-run state lives in ``config.stash``.

Items are ``<case file>::<case>[<dtype>-<mode>]``, e.g. ``golden/seed.py::matrix_norm[float32-func]``
(``-<device>`` appended for ``--gradgold-device`` other than cpu), so ``-k``, ``--lf``, ``-x`` and xdist
select and distribute them like any test. Tests only read goldens, unless ``--gradgold-update``
asks, outside CI, for the missing and stale ones to be generated first.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import CaseError, GradgoldError, OutsideGoldenDirError
from .modes import MODES, case_modes, check_label
from .printable import printable
from .suite import Project, case_files, find_project, golden_path, golden_state, load_cases, orphans
from .update import ci_refusal, in_ci
from .xfail import ExpectedFailure, expected_failure

if TYPE_CHECKING:
    from .api import CheckReport
    from .cases import Case
    from .check import QuantityResult
    from .golden import Golden
    from .judge import Judges

__all__ = ["GoldenChecker", "GoldenFile", "GoldenItem", "GoldenMismatch"]

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
        self.link_error = ""  # a suite directory or golden linked out of the golden directory
        self.artifacts_dir = _artifacts_dir(config)
        self.modes: list[str] = list(config.getoption("gradgold_modes") or [])
        self.devices: list[str] = list(config.getoption("gradgold_devices") or []) or ["cpu"]
        self._goldens: dict[str, tuple[tuple[int, int], Golden]] = {}
        self._judges: dict[str, Judges] = {}

    def golden(self, case: Case) -> Golden:
        """The case's fresh golden, read once per run for all its dtype x mode items (read again
        if the file changes on disk); missing or stale goldens raise with the fix every time."""
        path = golden_path(self.project, case.id)
        try:
            stat = path.stat()
        except OSError:
            return golden_state(self.project, case).require()  # raises GoldenMissingError with the fix
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._goldens.get(case.id)
        if cached is not None and cached[0] == key:  # only a fresh golden is cached
            return cached[1]
        golden = golden_state(self.project, case).require()
        self._goldens[case.id] = (key, golden)
        return golden

    def judges(self, case: Case, golden: Golden) -> Judges:
        """The judges of the case's golden (:mod:`gradgold.judge`): its references prepared once
        for all its dtype x mode items in this process, made again with the golden."""
        from .judge import Judges

        found = self._judges.get(case.id)
        if found is None or not found.serve(case, golden):
            found = self._judges[case.id] = Judges(case, golden)
        return found

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
    if in_ci():
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
        "--gradgold-update",
        action="store_true",
        default=False,
        help="Before the tests run, regenerate the missing and stale goldens of the selected cases "
        "(with $WOLFRAM_KERNEL or an installed Wolfram kernel, else the embedded engine), then check "
        "them. Refused when the CI environment variable is set.",
    )
    group.addoption(
        "--gradgold-orphans",
        choices=("warn", "fail"),
        default="warn",
        help="What a full run does about golden files whose case no longer exists: list them in the "
        "summary (warn, default) or also fail the run (fail).",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("gradgold_update"):
        _refuse_update(config)
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
    if session.config.getoption("gradgold_update") and not hasattr(session.config, "workerinput"):
        items = [i.case for i in session.items if isinstance(i, GoldenItem)]
        _update(session.config, state, items)
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
    except OutsideGoldenDirError as exc:  # never followed, and never passed over in silence
        state.link_error = str(exc)
        if exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    except GradgoldError:
        return
    if state.orphans and session.config.getoption("gradgold_orphans") == "fail" and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if state.link_error:
        terminalreporter.section("gradgold: golden directory", sep="=", red=True)
        terminalreporter.line(printable(state.link_error))
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


def _refuse_update(config: pytest.Config) -> None:
    """``--gradgold-update`` never runs in CI, and generates in one process (before xdist's
    workers would each start a generator on the same golden directory)."""
    if in_ci():
        raise pytest.UsageError(ci_refusal())
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        raise pytest.UsageError(
            "--gradgold-update generates before the tests run, in one process; run it without "
            "xdist (add -n 0), then run the tests in parallel as usual"
        )


def _update(config: pytest.Config, state: _State, cases: Sequence[Case]) -> None:
    """Regenerate the missing and stale goldens of ``cases``, printing the generator's output and
    each golden written."""
    from .update import needs_update, summary, update_goldens

    if not cases:  # no golden item selected: the fixture calls update their own case
        return
    todo = needs_update(state.project, cases)
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def echo(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    if not todo:
        echo(f"gradgold: all {len({c.id for c in cases})} selected goldens are fresh; nothing to update")
        return
    if reporter is not None:
        reporter.section(f"gradgold: updating {len(todo)} golden(s)", sep="-")
    for line in summary(update_goldens(state.project, todo, echo)):
        echo(f"gradgold: {line}")


def orphan_report(project: Project, ids: Sequence[str], mode: str) -> list[str]:
    """One line per orphan, then what to do; ``mode`` is the ``--gradgold-orphans`` choice."""
    lines = []
    for gid in ids:
        path = golden_path(project, gid)
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        lines.append(f"{printable(shown)}: no case defines {printable(gid)} (deleted or renamed?)")
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
        self.xfail = expected_failure(case, dtype, mode)
        if self.xfail and not self.xfail.quantities:
            # a recorded torch bug: only a mismatch counts, and a pass fails (strict)
            self.add_marker(pytest.mark.xfail(reason=self.xfail.reason, strict=True, raises=GoldenMismatch))

    @property
    def label(self) -> str:
        """``float32-reverse``: the item's parameter."""
        return check_label(self.dtype, self.mode, self.device)

    def runtest(self) -> None:
        __tracebackhide__ = True
        from .check import not_applicable

        results = _check(self.config, self, self.case, self.dtype, self.device, self.mode, self.xfail)
        reason = not_applicable(results)
        if reason:  # reported at the case's line, not inside pytest
            raise pytest.skip.Exception(reason, _use_item_location=True)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (GoldenMismatch, GradgoldError)):
            return printable(str(excinfo.value), keep_newlines=True)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line - 1 if self.case.line else None  # the declaration, 0-based
        return self.path, line, f"{self.case.id} [{self.label}]"


def _check(
    config: pytest.Config,
    item: pytest.Item,
    case: Case,
    dtype: str,
    device: str,
    mode: str,
    xfail: ExpectedFailure,
) -> list[QuantityResult]:
    """Check the case's own function in one dtype, mode and device; a mismatch raises
    :class:`GoldenMismatch` with the report, after its obtained results are written where
    artifacts go. An absent device (or a dtype it lacks) skips the test with the reason. An
    expected failure confined to some quantities (``xfail={"forward-hessian": ...}``) is judged
    here, by the verdict every other front end reads (:attr:`gradgold.check.CaseCheck.status`):
    their mismatch alone xfails the test, their pass fails it (strict). A whole-check expected
    failure is the item's strict xfail marker, which needs the mismatch raised."""
    __tracebackhide__ = True
    from .api import mismatch_report
    from .check import CaseCheck, check_golden, skip_reason

    why = skip_reason(case, dtype, mode, device)
    if why:
        pytest.skip(why)
    state = _state(config)
    golden = state.golden(case)
    results = check_golden(case, golden, dtype, device=device, mode=mode, judges=state.judges(case, golden))
    verdict = CaseCheck(
        case.id,
        dtype,
        tuple(results),
        expected_failure=xfail.reason,
        mode=mode,
        device=device,
        xfail_quantities=xfail.quantities,
    )
    if xfail.quantities and verdict.status == "XFAIL":
        pytest.xfail(xfail.reason)
    if xfail.quantities and verdict.status == "XPASS":
        pytest.fail(f"{case.id} [{verdict.label}]: {verdict.xpass_hint}", pytrace=False)
    failed = [r for r in results if not r.passed]
    if failed:
        if state.artifacts_dir is not None:
            path = _write_artifact(state.artifacts_dir, case, golden, dtype, results, None, device, mode)
            item.user_properties.append((_ARTIFACT_PROPERTY, str(path)))
        where = golden_path(state.project, case.id)
        raise GoldenMismatch(mismatch_report(where, case, dtype, results, "", mode, device))
    return results


def _write_artifact(
    directory: Path,
    case: Case,
    golden: Golden,
    dtype: str,
    results: Sequence[QuantityResult],
    fn: Callable[..., Any] | None,
    device: str,
    mode: str,
    reproduce: str = "",
) -> Path:
    from .artifacts import implementation_of, write_failure

    impl = implementation_of(fn) if fn is not None else None
    return write_failure(directory, case, golden, dtype, results, impl, device, mode, reproduce)


# -------------------------------------------------------------------------------------- fixture


class GoldenChecker:
    """The ``gradgold`` fixture: check any implementation against a case's golden. Wiring over
    :func:`gradgold.check_gradients`: it fails the test with the report, writes artifacts, and with
    ``--gradgold-update`` first regenerates the case's golden if it is missing or stale."""

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
    ) -> CheckReport:
        """Run ``fn`` at the golden's points of ``case_id`` (``suite/case``) in each dtype and mode
        (default: the case's own) and fail the test with the checker's report on any mismatch. The
        golden is the truth; ``fn`` takes the case function's parameters and returns its output.
        Returns the :class:`~gradgold.api.CheckReport`; a mode that cannot run ``fn`` gives results
        with ``skipped`` set; an absent device skips the test."""
        __tracebackhide__ = True
        from .api import check_gradients, find_case, implementation_label

        state = _state(self._config)
        problem = ""
        try:
            case = find_case(case_id, state.project, state.cases())
            if self._config.getoption("gradgold_update"):
                _update(self._config, state, [case])
            report = check_gradients(
                case,
                fn,
                dtypes=dtypes,
                modes=modes,
                device=device,
                project=state.project,
                golden=state.golden(case),
            )
        except GradgoldError as exc:
            problem = str(exc)
        if problem:  # outside the except block: pytest would show the exception it handles
            pytest.fail(f"gradgold.check({case_id!r}, {implementation_label(fn)}): {problem}", pytrace=False)
        if report.skipped:
            pytest.skip(report.skipped)
        if not report.passed:
            hint = self._reproduce(case_id, fn)
            self._write_artifacts(report, fn, hint)
            pytest.fail(report.text(hint=f"rerun with `{hint}`"), pytrace=False)
        return report

    def _reproduce(self, case_id: str, fn: Callable[..., Any]) -> str:
        """A command that reruns this check of this implementation: the test itself."""
        return f"pytest {shlex.quote(self._item.nodeid)}"

    def _write_artifacts(self, report: CheckReport, fn: Callable[..., Any], hint: str) -> None:
        state = _state(self._config)
        if state.artifacts_dir is None:
            return
        golden = state.golden(report.case)
        for c in report.failed:
            if c.problem:
                continue
            path = _write_artifact(
                state.artifacts_dir, report.case, golden, c.dtype, c.results, fn, c.device, c.mode, hint
            )
            self._item.user_properties.append((_ARTIFACT_PROPERTY, str(path)))


@pytest.fixture
def gradgold(request: pytest.FixtureRequest) -> GoldenChecker:
    """Check an implementation against a golden: ``gradgold.check("seed/matrix_norm", fused_norm)``."""
    return GoldenChecker(request.config, request.node)
