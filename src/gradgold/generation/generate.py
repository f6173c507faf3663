"""The generator: evaluate cases in one Wolfram Language session and write certified goldens.

Each case becomes one WL program (``wlprogram``); its answer is checked leaf by leaf (a real
number, at the working precision, with enough digits on which two precisions agree, and a
float64 rounding those digits decide) before anything is written. A failing case never touches
its existing golden, and the other cases go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cases import Case, Point
from ..errors import (
    EngineError,
    EvaluationError,
    GenerationLockedError,
    KernelHungError,
    KernelStartError,
    OutsideGoldenDirError,
)
from ..exact import agreeing_digits, bitwise_differences, certified_float, round_to_grid
from ..golden import FORMAT_VERSION, TEMP_PREFIX, Golden, GridData, write_golden
from ..metadata import case_metadata
from ..schema import EngineStamp
from ..suite import Project, check_contained, golden_path, golden_state
from .engine import Engine, EngineInfo, locate_kernel
from .wlprogram import DEFAULT_TIMEOUT, GUARD_DIGITS, build_program, resolve_strategy

__all__ = ["CaseOutcome", "generate", "generation_lock", "size_note", "upgrade"]

#: The highest working precision the generator raises to when digits do not certify.
MAX_PRECISION = 90


class InsufficientDigitsError(EvaluationError):
    """Fewer digits agree between the two working precisions than the case needs."""


#: Seconds a kernel may take beyond a program's own TimeConstrained before it is declared hung.
_GRACE_SECONDS = 30


@dataclass(frozen=True)
class CaseOutcome:
    """What became of one case: ``generated``, ``unchanged`` (same bytes), ``skipped`` (fresh)
    or ``failed`` (with the reason)."""

    case_id: str
    status: str
    seconds: float = 0.0
    reason: str = ""
    #: "rigorous" when gradgold's ball-arithmetic evaluator computed it ("" for the engine).
    evaluator: str = ""


#: Called as ``progress(event, case, done, total, seconds)``: event "start" (``seconds`` the time
#: left, estimated from the cases done so far, or None), "working" (every :data:`HEARTBEAT_SECONDS`
#: while one case evaluates: ``seconds`` spent on it so far), "point" (inside a case evaluated point
#: by point: ``done`` of the case's ``total`` evaluation points are done, after ``seconds`` on it)
#: or "done".
Progress = Callable[[str, Case, int, int, float | None], None]
#: Called as ``on_trees(event, compared, refused, seconds)``: event "start" before the engine
#: starts to read ``compared`` held trees (``refused`` and ``seconds`` 0: a start takes up to a
#: minute, and the run would look stuck), "done" once they were compared.
OnTrees = Callable[[str, int, int, float], None]
#: Called as ``on_point(done, total)`` after each evaluation point of a case.
OnPoint = Callable[[int, int], None]

#: How often a case still evaluating is reported (the engine answers a case in one piece).
HEARTBEAT_SECONDS = 20.0
#: Derivative entries per point above which a case is announced as large, with what to do.
LARGE_ENTRIES = 4096


def size_note(case: Case) -> str:
    """For a case whose references cost many derivative evaluations, what it costs and what to do
    instead ("" for an ordinary case): a full derivative of order k of an N-input case holds N^k
    entries per output element, each one exact evaluation."""
    entries = case.n_vars**case.order if case.full_jacobian else 0
    directions = case.projections
    if entries < LARGE_ENTRIES:
        return ""
    what = f"{len(case.points)} point(s) x {case.n_vars} inputs"
    if case.order > 1:
        what += f", derivatives to order {case.order} ({entries:,} entries per output element)"
    else:
        what += f" (a Jacobian of {entries:,} entries per output element)"
    if directions:
        what += f", {directions} directions"
    return (
        f"{case.id}: large: {what}; the embedded engine takes minutes per point at this size (about "
        "3 min for 2,000 inputs with projections, bench/PROJECTIONS.md). To check it for a fraction, "
        "use projections=k with full_jacobian=False (one univariate derivative per direction), a real "
        "Wolfram kernel (--kernel PATH), or strategy='rigorous' where available"
    )


def generate(
    project: Project,
    cases: Sequence[Case],
    *,
    kernel: str | None = None,
    embedded: bool = False,
    force: bool = False,
    timeout: int = DEFAULT_TIMEOUT,
    jobs: int = 1,
    progress: Progress | None = None,
    startup_timeout: float = 60.0,
    compare_trees: bool = False,
    on_trees: OnTrees | None = None,
) -> tuple[list[CaseOutcome], EngineInfo | None]:
    """Generate the goldens of ``cases``; fresh ones are skipped unless ``force``.

    With ``jobs > 1`` that many kernels evaluate cases in parallel; each case's program and answer
    do not depend on which kernel ran it, so the files are byte-identical to a serial run. Only one
    generator may run on a golden directory at a time.

    The engine's reading of each case the rigorous evaluator takes is compared with gradgold's
    (``rigorous.crosstree``) before it is evaluated, and a case read differently fails: for the
    cases to evaluate whenever some case is known to need the engine anyway (its kernel is started
    first, and then evaluates those), and for every case of ``cases`` with ``compare_trees``
    (which starts an engine for it). ``on_trees`` hears the start and the result (:data:`OnTrees`).
    """
    with generation_lock(project.golden_dir):
        remove_stale_temps(project.golden_dir)
        outcomes: list[CaseOutcome] = []
        todo = []
        for c in cases:
            outside = _outside(project, c)
            if outside:
                outcomes.append(CaseOutcome(c.id, "failed", reason=outside))
            elif not force and golden_state(project, c).status == "fresh":
                outcomes.append(CaseOutcome(c.id, "skipped"))
            else:
                todo.append(c)
        info = None
        tracker = _Tracker(len(todo), progress)
        fallback: dict[str, str] = {}
        first: _Worker | None = None
        try:
            failed = {o.case_id for o in outcomes if o.status == "failed"}
            first, refused = _held_trees(
                [c for c in cases if c.id not in failed] if compare_trees else todo,
                todo,
                compare_trees,
                lambda: _Worker(*locate_kernel(kernel, embedded), timeout, startup_timeout),
                on_trees,
            )
            outcomes = [o for o in outcomes if o.case_id not in refused]
            outcomes += [CaseOutcome(i, "failed", 0.0, why, "rigorous") for i, why in refused.items()]
            todo = [c for c in todo if c.id not in refused]
            rigorous, todo = _run_rigorous(project, todo, tracker, fallback)
            outcomes += rigorous
            gaps = {c.id: _engine_gap(c, fallback.get(c.id, "")) for c in todo}
            outcomes += [CaseOutcome(i, "failed", 0.0, why) for i, why in gaps.items() if why]
            todo = [c for c in todo if not gaps[c.id]]
            if todo:
                path, kind = locate_kernel(kernel, embedded)
                more = max(1, min(jobs, len(todo))) - (first is not None)
                workers = [first] if first is not None else []
                workers += [_Worker(path, kind, timeout, startup_timeout) for _ in range(more)]
                first = None  # _run_workers closes every worker
                generated, info = _run_workers(project, todo, workers, tracker)
                # Each case the rigorous evaluator handed to the engine says why (the head it lacks).
                outcomes += [
                    dataclasses.replace(o, evaluator=f"engine: {fallback[o.case_id]}")
                    if o.case_id in fallback
                    else o
                    for o in generated
                ]
        finally:
            if first is not None:
                first.close()
    order = {c.id: i for i, c in enumerate(cases)}
    outcomes.sort(key=lambda o: order[o.case_id])
    return outcomes, info


def upgrade(project: Project, cases: Sequence[Case]) -> list[CaseOutcome]:
    """Rewrite each case's fresh golden of an older format version in the current one, without an
    engine: status ``generated`` (rewritten), ``unchanged`` (already current) or ``failed`` (not
    fresh: regenerate it).

    Safe for a golden from anyone, because nothing new is trusted: it must first load (every entry
    validated) and be fresh (its inputs, points and settings re-derived from the case file), the
    numbers carried over are the ones the checker already compares against, and the program's text
    becomes its hash, which ``verify`` compares with the case's program as it compared the text.
    Unlike ``generate --force`` it changes nothing but the encoding (digits, certified counts,
    magnitudes and the record of the engine stay as they are), so no check's outcome moves."""
    outcomes: list[CaseOutcome] = []
    with generation_lock(project.golden_dir):
        for c in cases:
            state = golden_state(project, c)
            if state.status != "fresh" or state.golden is None:
                outcomes.append(
                    CaseOutcome(c.id, "failed", reason=f"{state.reason}; upgrade rewrites only fresh goldens")
                )
            elif state.golden.version == FORMAT_VERSION:
                outcomes.append(CaseOutcome(c.id, "unchanged"))
            else:
                write_golden(golden_path(project, c.id), state.golden)
                outcomes.append(CaseOutcome(c.id, "generated"))
    return outcomes


def _held_trees(
    compare: Sequence[Case],
    todo: Sequence[Case],
    explicit: bool,
    new_worker: Callable[[], _Worker],
    on_trees: OnTrees | None,
) -> tuple[_Worker | None, dict[str, str]]:
    """Compare the engine's held tree of each case of ``compare`` the rigorous evaluator takes with
    gradgold's parse, when ``explicit`` or when a case of ``todo`` needs the engine anyway: the
    started worker (None if none was started) and the refusal of each case read differently. An
    engine that cannot be found or started is an error only when ``explicit``; otherwise the engine
    cases report it as they always did, and nothing was compared."""
    try:
        from .rigorous.crosstree import compare_held_trees
        from .rigorous.reference import support_problem
    except ImportError:  # python-flint missing: the rigorous evaluator takes no case
        return None, {}
    takes = {c.id for c in (*compare, *todo) if c.strategy in ("auto", "rigorous") and not support_problem(c)}
    wanted = [c for c in compare if c.id in takes]
    if not wanted or not (explicit or any(c.id not in takes for c in todo)):
        return None, {}
    start = time.perf_counter()
    if on_trees is not None:
        on_trees("start", len(wanted), 0, 0.0)
    try:
        worker = new_worker()
        started = worker.start()
    except EngineError:
        if explicit:
            raise
        return None, {}
    try:
        refused = compare_held_trees(started, wanted, worker.timeout + _GRACE_SECONDS)
    except BaseException:
        worker.close()
        raise
    if on_trees is not None:
        on_trees("done", len(wanted), len(refused), time.perf_counter() - start)
    return worker, refused


def _run_rigorous(
    project: Project, todo: list[Case], tracker: _Tracker, fallback: dict[str, str]
) -> tuple[list[CaseOutcome], list[Case]]:
    """Evaluate with the rigorous evaluator every case it supports whose strategy allows it; return
    their outcomes and the cases left for the engine (strategy="auto" falls back by name: why goes
    into ``fallback``, by case id)."""
    wanted = [c for c in todo if c.strategy in ("auto", "rigorous")]
    if not wanted:
        return [], todo
    try:
        from .rigorous.reference import RigorousUnsupported, rigorous_golden_of
    except ImportError as exc:  # python-flint missing: the engine computes "auto" cases
        reason = f"the rigorous evaluator needs python-flint ({exc}); pip install 'gradgold[rigorous]'"
        failed = [
            CaseOutcome(c.id, "failed", 0.0, f"{c.source}: case {c.id}: {reason}", "rigorous")
            for c in wanted
            if c.strategy == "rigorous"
        ]
        return failed, [c for c in todo if c.strategy != "rigorous"]
    outcomes: list[CaseOutcome] = []
    engine: list[Case] = []
    for c in todo:
        if c.strategy not in ("auto", "rigorous"):
            engine.append(c)
            continue
        start = time.perf_counter()
        # The case is announced at its first point (the evaluator then supports it: it is this
        # path's to report) or, with no point done, when it ends here.
        started: list[bool] = []
        announce = functools.partial(_announce, tracker, c, started)
        try:
            golden = rigorous_golden_of(c, tracker.on_point(c, announce))
        except RigorousUnsupported as exc:
            if c.strategy == "auto":
                engine.append(c)
                fallback[c.id] = _why(str(exc))
                continue
            reason = f"{exc}; use strategy='auto' (the engine)"
            outcomes.append(CaseOutcome(c.id, "failed", time.perf_counter() - start, reason, "rigorous"))
            continue
        except EvaluationError as exc:
            announce()
            outcomes.append(CaseOutcome(c.id, "failed", time.perf_counter() - start, str(exc), "rigorous"))
            tracker.event("done", c)
            continue
        announce()
        outcomes.append(_write_rigorous(project, c, golden, time.perf_counter() - start))
        tracker.event("done", c)
    return outcomes, engine


def _engine_gap(case: Case, why_engine: str) -> str:
    """Why the engine cannot give ``case`` what it declares ("" when it can): magnitudes of terms
    (only the rigorous evaluator computes them; the checker would silently fall back to |ref|), or a
    non-finite result declared with ``expect=`` (a pole: only the rigorous evaluator leaves such a
    point out, the engine evaluates every point and fails there). ``why_engine`` says why the case
    goes to the engine (empty: its strategy asks for it)."""
    where = f"{case.source}: case {case.id}"
    because = why_engine or "python-flint is not installed (pip install 'gradgold[rigorous]')"
    fix = "or write the expression with heads the rigorous evaluator implements"
    if case.strategy in ("symbolic", "substituted"):
        because = f"strategy={case.strategy!r} sends the case to the engine"
        fix = "or use strategy='auto' (the rigorous evaluator, where it implements every head)"
    if case.magnitudes:
        return (
            f"{where}: magnitudes=True needs the rigorous evaluator (the engine computes no magnitudes "
            f"of terms), but {because}; remove magnitudes=True (the checker then uses |ref|), {fix}"
        )
    for j, declared in sorted(case.expect.items()):
        for q, v in declared.items():
            if not _all_finite(v):
                return (
                    f"{where}: expect= declares a non-finite {q} at point {j} ({v!r}): a pole, which "
                    f"only the rigorous evaluator can leave out (the engine evaluates every point, and "
                    f"fails there), but {because}; remove point {j} and its expect= entry, {fix}"
                )
    return ""


def _all_finite(value: Any) -> bool:
    """Whether a declared result (a number, "inf", "nan", or nested lists of them) is all finite."""
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
    except (TypeError, ValueError):
        return True  # not a number: the case's own validation reports it


def _announce(tracker: _Tracker, case: Case, started: list[bool]) -> None:
    """Report the case's start once."""
    if not started:
        started.append(True)
        tracker.event("start", case)


def _why(message: str) -> str:
    """The reason in a RigorousUnsupported message, without the file and case it names."""
    for marker in ("the rigorous evaluator", "complex inputs"):
        at = message.find(marker)
        if at >= 0:
            return message[at:]
    return message


def _write_rigorous(project: Project, case: Case, golden: Golden, seconds: float) -> CaseOutcome:
    """Write a rigorous golden, unless the existing golden of the same case holds the very same
    float64s in the current format (then its bytes, and the record of the engine that made it, are
    kept; an older format is rewritten, so that ``generate --force`` migrates every golden)."""
    path = golden_path(project, case.id)
    if _same_numbers(project, case, golden):
        return CaseOutcome(case.id, "unchanged", seconds, evaluator="rigorous")
    try:
        written = write_golden(path, golden)
    except OSError as exc:
        reason = (
            f"{case.source}: case {case.id}: cannot write {path} ({exc}); the previous golden is unchanged; "
            "free disk space or make the golden directory writable, then rerun"
        )
        return CaseOutcome(case.id, "failed", seconds, reason, "rigorous")
    return CaseOutcome(case.id, "generated" if written else "unchanged", seconds, evaluator="rigorous")


def _same_numbers(project: Project, case: Case, fresh: Golden) -> bool:
    """Whether the case's fresh golden on disk holds exactly ``fresh``'s numbers (and magnitudes)."""
    state = golden_state(project, case)
    old = state.golden
    if (
        old is None
        or state.status != "fresh"
        or old.version != FORMAT_VERSION
        or set(old.grids) != set(fresh.grids)
    ):
        return False
    for grid, data in old.grids.items():
        new = fresh.grids[grid]
        if set(data.numbers) != set(new.numbers):
            return False
        if set(data.magnitudes) != set(new.magnitudes):
            return False
        for old_items, new_items in ((data.numbers, new.numbers), (data.magnitudes, new.magnitudes)):
            for q, arr in old_items.items():
                other = new_items[q]
                if arr.shape != other.shape or bitwise_differences(arr, other) is not None:
                    return False
    return True


class _Tracker:
    """Counts finished cases and estimates the time left from the mean so far.

    The clock starts at the first case's start, not at construction: a kernel started before
    (for the held-tree comparison, ~10-50 s) is not a case's cost, and counting it made the
    first estimate hundreds of times too long ("about 4590 s left" for a 50 s run)."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.start: float | None = None
        self.lock = threading.Lock()

    def event(self, event: str, case: Case, seconds: float | None = None) -> None:
        with self.lock:
            if self.start is None:
                self.start = time.perf_counter()
            if event == "done":
                self.done += 1
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.done * (self.total - self.done) if self.done else None
            if self.progress is not None:
                self.progress(event, case, self.done, self.total, seconds if event == "working" else eta)

    def on_point(self, case: Case, first: Callable[[], None] | None = None) -> OnPoint:
        """The ``on_point`` of one case starting now: reports "point" events with the time spent on
        the case; ``first`` runs before the first is reported."""
        began = time.perf_counter()
        pending = [first] if first is not None else []

        def report(done: int, total: int) -> None:
            while pending:
                pending.pop()()
            with self.lock:
                if self.progress is not None:
                    self.progress("point", case, done, total, time.perf_counter() - began)

        return report


@contextlib.contextmanager
def _heartbeat(beat: Callable[[float], None] | None, every: float | None = None) -> Iterator[None]:
    """Call ``beat(seconds so far)`` every ``every`` seconds (default :data:`HEARTBEAT_SECONDS`)
    until the block ends, from a daemon thread."""
    if beat is None:
        yield
        return
    period = HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()
    start = time.perf_counter()

    def loop() -> None:
        while not stop.wait(period):
            beat(time.perf_counter() - start)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class _Worker:
    """One kernel and the cases it evaluates; a kernel that dies or hangs is replaced."""

    def __init__(self, path: str, kind: str, timeout: int, startup_timeout: float) -> None:
        self.path, self.kind, self.timeout = path, kind, timeout
        self.startup_timeout = startup_timeout
        self.engine: Engine | None = None
        self.info: EngineInfo | None = None

    def start(self) -> Engine:
        if self.engine is None:
            self.engine = Engine(self.path, self.kind, self.startup_timeout).__enter__()
            self.info = self.engine.info
        return self.engine

    def run(
        self,
        project: Project,
        case: Case,
        heartbeat: Callable[[float], None] | None = None,
        on_point: OnPoint | None = None,
    ) -> CaseOutcome:
        start = time.perf_counter()
        with _heartbeat(heartbeat):
            return self._run(project, case, start, on_point)

    def _run(self, project: Project, case: Case, start: float, on_point: OnPoint | None) -> CaseOutcome:
        try:
            golden = evaluate_case(self.start(), case, self.timeout, on_point)
            path = golden_path(project, case.id)
            try:
                written = write_golden(path, golden)
            except OSError as exc:  # disk full, read-only tree: the previous golden is untouched
                raise EvaluationError(
                    f"{case.source}: case {case.id}: cannot write {path} ({exc}); the previous golden "
                    "is unchanged; free disk space or make the golden directory writable, then rerun"
                ) from exc
            status, reason = ("generated" if written else "unchanged"), ""
        except EvaluationError as exc:
            status, reason = "failed", str(exc)
        except EngineError as exc:
            status, reason = "failed", str(exc)
            self.close()
        return CaseOutcome(case.id, status, time.perf_counter() - start, reason)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def _run_workers(
    project: Project, todo: list[Case], workers: list[_Worker], tracker: _Tracker
) -> tuple[list[CaseOutcome], EngineInfo | None]:
    """Evaluate ``todo`` on up to ``jobs`` kernels pulling cases from one queue.

    A kernel that cannot start (a licence limit, typically: the free Wolfram Engine allows two)
    retires its worker and the others go on; only if none starts is that an error.
    """
    queue = list(reversed(todo))
    lock = threading.Lock()
    outcomes: list[CaseOutcome] = []
    start_errors: list[KernelStartError] = []
    fatal: list[BaseException] = []

    def serve(worker: _Worker) -> None:
        try:
            worker.start()
        except KernelStartError as exc:
            start_errors.append(exc)
            return
        try:
            while not fatal:
                with lock:
                    if not queue:
                        return
                    case = queue.pop()
                tracker.event("start", case)
                outcome = worker.run(
                    project, case, functools.partial(tracker.event, "working", case), tracker.on_point(case)
                )
                with lock:
                    outcomes.append(outcome)
                tracker.event("done", case)
        except BaseException as exc:  # stop every worker, and say why once they stopped
            fatal.append(exc)
        finally:
            worker.close()

    threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except BaseException:  # Ctrl-C: no kernel may outlive the run
        fatal.append(KeyboardInterrupt())
        for w in workers:
            w.close()
        raise
    if fatal:
        raise fatal[0]
    started = [w.info for w in workers if w.info is not None]
    if not started:
        raise start_errors[0]
    if queue:  # kernels retired mid-run and the cases left were never evaluated
        raise KernelStartError(f"{len(queue)} cases were not evaluated: {start_errors[0]}")
    return outcomes, dataclasses.replace(started[0], kernels=len(started))


@contextlib.contextmanager
def generation_lock(golden_dir: Path) -> Iterator[None]:
    """Refuse to run two generators on one golden directory at once (the lock dies with its
    process, so a killed run never leaves a stale lock behind)."""
    lock_path = golden_dir / ".gradgold.lock"
    try:
        golden_dir.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+")  # noqa: SIM115 (closed below, after the lock is released)
    except OSError as exc:
        raise GenerationLockedError(
            f"{golden_dir}: cannot create the generation lock {lock_path} ({exc.strerror}): the "
            "golden directory is not writable; make it writable (or run where it is), then run again"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise GenerationLockedError(
                f"{golden_dir}: another `gradgold generate` is running on this golden directory "
                f"(lock {lock_path}); wait for it to finish, then run again"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _outside(project: Project, case: Case) -> str:
    """Why the case's golden may not be written ("" if it may): its path leads out of the golden
    directory through a symbolic link, and a golden is never written through one."""
    try:
        check_contained(project.golden_dir, golden_path(project, case.id))
    except OutsideGoldenDirError as exc:
        return f"{case.source}: case {case.id}: {exc}; nothing was written"
    return ""


def remove_stale_temps(golden_dir: Path) -> None:
    """Delete the temporary files (``.gradgold-tmp-*``) a killed write left in the suite
    directories. Called under the generation lock, so no running write owns one."""
    for suite_dir in golden_dir.iterdir():
        if suite_dir.is_symlink() or not suite_dir.is_dir():
            continue
        for tmp in suite_dir.glob(TEMP_PREFIX + "*"):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)


def evaluation_points(case: Case) -> tuple[list[Point], dict[str, list[int]]]:
    """The distinct exact points to evaluate, and for each grid the index of each case point in
    that list (a point already on a grid is evaluated once for all grids)."""
    unique: list[Point] = []
    keys: dict[tuple[bytes, ...], int] = {}
    index: dict[str, list[int]] = {}
    for grid in case.grids():
        index[grid] = []
        for pt in case.points:
            rounded = {p: round_to_grid(v, grid) for p, v in pt.items()}
            key = tuple(rounded[p].tobytes() for p in case.params)
            if key not in keys:
                keys[key] = len(unique)
                unique.append(rounded)
            index[grid].append(keys[key])
    return unique, index


def evaluate_case(
    engine: Engine, case: Case, timeout: int = DEFAULT_TIMEOUT, on_point: OnPoint | None = None
) -> Golden:
    """Evaluate one case and return its golden, or raise :class:`EvaluationError`.

    When too few digits are certified at the case's precision, the working precision is raised
    (by 30 digits, up to ``MAX_PRECISION``) before giving up: cancellation that 30 digits cannot
    resolve often yields to 60. ``on_point`` hears of each point of a case evaluated point by point
    (see :func:`_by_point`).
    """
    working = case
    while True:
        try:
            return _evaluate_at(engine, working, case, timeout, on_point)
        except InsufficientDigitsError:
            if working.precision + GUARD_DIGITS > max(MAX_PRECISION, case.precision):
                raise
            working = dataclasses.replace(working, precision=working.precision + GUARD_DIGITS)


def _by_point(case: Case, n_points: int) -> bool:
    """Whether the engine evaluates the case one point at a time, so that progress shows each point:
    a large case (:func:`size_note`) of several points whose program differentiates at each point
    anyway (strategy "substituted"). A symbolic program differentiates once for all points, which a
    split would repeat per point; a small case is not worth the extra engine calls."""
    return n_points > 1 and bool(size_note(case)) and resolve_strategy(case) == "substituted"


def _evaluate_at(
    engine: Engine, case: Case, original: Case, timeout: int, on_point: OnPoint | None = None
) -> Golden:
    """One evaluation of ``case`` (``original`` with, perhaps, a raised working precision).

    A case evaluated point by point (:func:`_by_point`) runs the program of one point per point
    (no point's answer depends on another's) within the case's one ``timeout``; the golden records
    the program of all points, the one ``verify`` re-derives."""
    unique, index = evaluation_points(case)
    program = build_program(case, unique, timeout)
    where = f"{case.source}: case {case.id}"
    if on_point is None or not _by_point(case, len(unique)):
        result = _answer(engine, case, program.text, timeout, len(unique))
    else:
        result, began = [], time.perf_counter()
        for i, point in enumerate(unique):
            left = max(1, int(timeout - (time.perf_counter() - began)))
            result += _answer(engine, case, build_program(case, [point], left).text, left, 1)
            on_point(i + 1, len(unique))
    per_point = [
        _read_point(case, program.quantities, where, i, unique[i], answer) for i, answer in enumerate(result)
    ]
    out_shape = per_point[0]["value"][0].shape
    grids = {grid: _grid_data(case, unique, per_point, idx) for grid, idx in index.items()}
    meta = case_metadata(
        original,
        engine=EngineStamp(engine.info.name, engine.info.version),
        out_shape=tuple(out_shape),
        program=program.text,
        working_precision=case.precision if case.precision != original.precision else None,
        strategy=program.strategy if program.strategy != "symbolic" else None,
    )
    directions = case.directions() if case.projections else None
    return Golden(meta=meta, grids=grids, directions=directions)


def _answer(engine: Engine, case: Case, text: str, timeout: int, n_points: int) -> list[Any]:
    """The engine's answer to one program of ``n_points`` points: one answer per point."""
    where = f"{case.source}: case {case.id}"
    try:
        outcome = engine.evaluate(text, timeout=timeout + _GRACE_SECONDS)
    except KernelHungError as exc:
        raise KernelHungError(f"{where}: {exc}; raise --timeout if the case needs longer") from exc
    except EngineError:
        raise
    except Exception as exc:  # a dead or broken kernel: wolframclient raises its own types
        raise EngineError(
            f"{where}: the {engine.info.name} kernel failed ({type(exc).__name__}: {exc})"
        ) from exc
    if outcome.messages and any("RecursionError" in m for m in outcome.messages):
        raise EvaluationError(
            f"{where}: the engine ran out of Python recursion depth ({_first_recursion(outcome.messages)}); "
            "the expression is fine, it is too large for this engine: Mathics3 recurses once per term "
            "when it differentiates a function of a long sum (about 100 terms). Use fewer inputs, "
            "strategy='symbolic', or a real Wolfram kernel (--kernel PATH)"
        )
    if outcome.messages:
        raise EvaluationError(
            f"{where}: the engine issued messages for wolfram={case.wolfram!r}: "
            f"{' | '.join(outcome.messages)}; fix the expression, or remove the points where it is "
            "not defined"
        )
    result = outcome.result
    if _is_symbol(result, "$Aborted"):
        raise EvaluationError(f"{where}: timed out after {timeout} s; raise --timeout or simplify the case")
    if not isinstance(result, (list, tuple)) or len(result) != n_points:
        raise EvaluationError(f"{where}: unexpected answer from the engine: {_wl_text(result)}")
    return list(result)


def _first_recursion(messages: Sequence[str]) -> str:
    """The first message that names a RecursionError, shortened."""
    text = next(m for m in messages if "RecursionError" in m)
    return text if len(text) <= 160 else text[:160] + "..."


# One evaluated quantity: (float64 references, digit strings, certified digits), all one shape.
Quantity = tuple[npt.NDArray[np.float64], npt.NDArray[np.str_], npt.NDArray[np.int16]]

#: Golden name of each derivative tensor the program returns with its variable axes first.
_TENSORS = {"d2": "hessian", "d3": "d3", "d4": "d4"}


def _read_point(
    case: Case, names: Sequence[str], where: str, i: int, point: Point, answer: Any
) -> dict[str, Quantity]:
    """Check one point's answer (one triple per quantity of the program) and name each quantity
    as the golden does: derivative axes moved after the output's, the gradient split per param."""
    if not isinstance(answer, (list, tuple)) or len(answer) != len(names):
        raise EvaluationError(f"{where}, point {i}: unexpected answer {_wl_text(answer)}")
    here = f"{where}, evaluation point {i} ({_point_text(point)})"
    raw = {n: _certify(case, f"{here}, quantity {n}", a) for n, a in zip(names, answer, strict=True)}
    if case.is_complex and not case.complex_output:
        raw = _real_valued(case, here, raw)
    out: dict[str, Quantity] = {"value": raw["value"]}
    for name, q in raw.items():
        if name in ("d1", *_TENSORS):
            rank = int(name[1])
            moved = tuple(np.moveaxis(a, list(range(rank)), list(range(-rank, 0))) for a in q)
            expected = (*raw["value"][0].shape, *(case.n_vars,) * rank)
            if moved[0].shape != expected:
                raise EvaluationError(f"{here}: {name} has shape {moved[0].shape}, expected {expected}")
            if name == "d1":
                out |= _split_gradient(case, moved)  # type: ignore[arg-type]
            else:
                out[_TENSORS[name]] = moved  # type: ignore[assignment]
        elif name.startswith("proj/"):
            if q[0].shape != (case.projections, *raw["value"][0].shape):
                raise EvaluationError(f"{here}: {name} has shape {q[0].shape}")
            out[name] = q
    return out


def _real_valued(case: Case, where: str, raw: dict[str, Quantity]) -> dict[str, Quantity]:
    """Drop the imaginary parts of a function declared real-valued (``complex_output=False``),
    once they are certified to be 0 in every quantity (its derivatives are then real too)."""
    for name, q in raw.items():
        nonzero = np.argwhere(q[0][..., 1] != 0)
        if len(nonzero):
            idx = tuple(int(i) for i in nonzero[0])
            raise EvaluationError(
                f"{where}, quantity {name}, index {idx}: the case declares complex_output=False but the "
                f"reference has imaginary part {q[1][(*idx, 1)]}; the function is complex-valued here: "
                "remove complex_output=False, or fix the wolfram= expression (e.g. Abs[z]^2, not z^2)"
            )
    return {name: tuple(a[..., 0] for a in q) for name, q in raw.items()}  # type: ignore[misc]


def _split_gradient(case: Case, jac: Quantity) -> dict[str, Quantity]:
    """The Jacobian over all inputs, cut into one block per parameter, shaped like it."""
    out: dict[str, Quantity] = {}
    start = 0
    for p in case.params:
        size = math.prod(case.shapes[p])
        shape = (*jac[0].shape[:-1], *case.shapes[p])
        out[f"grad/{p}"] = tuple(a[..., start : start + size].reshape(shape) for a in jac)  # type: ignore[assignment]
        start += size
    return out


def _certify(case: Case, where: str, triple: Any) -> Quantity:
    """From ``{N[q, p], N[q, p + 30], precisions, exact-zero flags}`` to certified float64 references."""
    if not isinstance(triple, (list, tuple)) or len(triple) != 4:
        raise EvaluationError(f"{where}: unexpected answer {_wl_text(triple)}")
    lo_shape, lo = _flatten(triple[0])
    hi_shape, hi = _flatten(triple[1])
    if lo_shape != hi_shape:
        raise EvaluationError(f"{where}: shapes differ between precisions: {_wl_text(triple)}")
    _, precisions = _flatten(triple[2])
    _, exact_zero = _flatten(triple[3])
    floats, digits, certified = [], [], []
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        idx = np.unravel_index(k, lo_shape) if lo_shape else ()
        if isinstance(a, float) or isinstance(b, float):  # a machine number came back
            raise EvaluationError(
                f"{where}, index {tuple(map(int, idx))}: machine-precision number {_wl_text(a)}; "
                + _machine_cause(case)
            )
        da, db = _real(where, idx, a), _real(where, idx, b)
        if da != 0:
            _check_precision(case, f"{where}, index {tuple(map(int, idx))}", precisions[k])
        exact = not isinstance(a, Decimal) and not isinstance(b, Decimal)
        if da == 0 and db == 0 and not exact and exact_zero[k] is not True and not _negligible(hi, case):
            raise InsufficientDigitsError(
                f"{where}, index {tuple(map(int, idx))}: N gives 0 at {case.precision} and "
                f"{case.precision + 30} digits but the exact value is not 0: its magnitude is below "
                "the working precision (cancellation or underflow); raise precision= on the case, "
                "rewrite it in a stable form, or move the point"
            )
        n = case.precision if exact or da == db else agreeing_digits(da, db, case.precision)
        if not exact:  # an engine may label a short number high-precision (Mathics3's 2F1 does)
            n = min(n, _mantissa_digits(da), _mantissa_digits(db))
        if n < case.min_digits:
            raise InsufficientDigitsError(
                f"{where}, index {tuple(map(int, idx))}: only {n} digits certified (N at "
                f"{case.precision} digits gave {da}, at {case.precision + 30} gave {db}); below "
                f"min_digits={case.min_digits}. The expression cancels catastrophically here: raise "
                "precision= on the case, rewrite it in a stable form, or use a real Wolfram kernel"
            )
        f = certified_float(db, n)
        if f is None:
            raise InsufficientDigitsError(
                f"{where}, index {tuple(map(int, idx))}: {db} cannot be rounded to float64 with "
                f"certainty from {n} digits; raise precision= on the case or move the point"
            )
        if not math.isfinite(f):
            raise EvaluationError(
                f"{where}, index {tuple(map(int, idx))}: {db} cannot be rounded to a finite float64 "
                "with certainty; raise precision= on the case or move the point"
            )
        floats.append(f)
        digits.append(str(db))
        certified.append(n)
    return (
        np.array(floats, dtype=np.float64).reshape(lo_shape),
        np.array(digits, dtype=np.str_).reshape(lo_shape),
        np.array(certified, dtype=np.int16).reshape(lo_shape),
    )


def _negligible(values: list[Any], case: Case) -> bool:
    """Whether a computed zero is negligible beside the quantity's other elements: below 10^-P
    absolute, it is far under the checker's floor of eps * max|ref| once some element reaches
    10^-(P/2). A quantity that is all zeros has no such scale, and is refused."""
    magnitudes = [abs(Decimal(v)) for v in values if isinstance(v, (Decimal, int))]
    return bool(magnitudes) and max(magnitudes) >= Decimal(10) ** -(case.precision // 2)


def _mantissa_digits(x: Decimal) -> int:
    """Significant digits a number was sent with (a zero counts as fully precise)."""
    digits = x.as_tuple().digits
    return len(str(int("".join(map(str, digits))))) if x != 0 else 10**6


def _check_precision(case: Case, where: str, prec: Any) -> None:
    """A result whose precision is below the working precision had a machine number leak in."""
    if _is_symbol(prec, "Infinity") or _render(prec) in ("DirectedInfinity[1]", "Infinity"):
        return  # an exact number (Mathics3 writes Infinity as DirectedInfinity[1])
    if isinstance(prec, (int, float, Decimal)) and float(prec) >= case.precision - 1:
        return
    raise EvaluationError(
        f"{where}: result has precision {_wl_text(prec)}, below the working precision "
        f"{case.precision}; {_machine_cause(case)}"
    )


def _machine_cause(case: Case) -> str:
    """What in ``wolfram=`` made a machine number, and the fix (decimal literals are exact, so it
    is ``N`` without a precision, or ``MachinePrecision``, or a function that returns one)."""
    from ..wlsource import machine_sources

    culprits = machine_sources(case.wolfram)
    if culprits:
        return (
            f"the machine number comes from {', '.join(culprits)} in wolfram=: give N a precision "
            "(N[x, 40]) or leave N out (the generator evaluates at its working precision)"
        )
    return (
        "a machine-precision number leaked into the expression (decimal literals are exact, so a "
        "function returned one): write the expression exactly"
    )


def _real(where: str, idx: tuple[Any, ...], leaf: Any) -> Decimal:
    """A leaf of the answer as a Decimal, if it is a real number (exact or arbitrary precision)."""
    if isinstance(leaf, Decimal) and leaf.is_finite():
        return leaf
    if isinstance(leaf, int) and not isinstance(leaf, bool):
        return Decimal(leaf)
    head = getattr(leaf, "head", None)
    args: Any = getattr(leaf, "args", ())
    if _is_symbol(head, "Rational") and len(args) == 2 and all(isinstance(a, int) for a in args):
        with localcontext() as ctx:
            ctx.prec = 80
            q = Fraction(args[0], args[1])
            return Decimal(q.numerator) / Decimal(q.denominator)
    known = _known_gap(leaf)
    if known:
        raise EvaluationError(f"{where}, index {tuple(map(int, idx))}: {known}")
    raise EvaluationError(
        f"{where}, index {tuple(map(int, idx))}: not a real number: {_wl_text(leaf)}; a golden holds "
        "real numbers only: check the wolfram= expression at this point (free symbols? a branch cut? "
        "a singularity?), or remove the point"
    )


def _known_gap(leaf: Any) -> str:
    """A readable reason for a leftover the engine could not evaluate: a refusal the program made
    (``ggUnsupported[reason]``), or a derivative the engine left unevaluated (``Zeta'``)."""
    for node in _walk(leaf):
        head: Any = getattr(node, "head", None)
        args: Any = getattr(node, "args", ())
        if _is_symbol(head, "ggUnsupported") or str(getattr(head, "name", "")).endswith("ggUnsupported"):
            return str(args[0]) if args else "unsupported"
        if _is_symbol(getattr(head, "head", None), "Derivative") and args:  # Derivative[n][f]
            name, order = _render(args[0]), ", ".join(map(_render, head.args))
            if name.startswith("ggF21"):  # the program's stand-in: its z-derivatives are known
                return (
                    f"Hypergeometric2F1 is differentiated in its parameters a, b, c (Derivative[{order}]), "
                    "which gradgold does not rewrite and Mathics3 cannot do; keep a, b, c constant, or "
                    "use a real Wolfram kernel (--kernel PATH)"
                )
            return (
                f"the engine cannot differentiate {name} (it left Derivative[{order}][{name}] "
                "unevaluated: e.g. Zeta', or a derivative in a Bessel order, on Mathics3); use a real "
                "Wolfram kernel (--kernel PATH), or write the derivative's closed form in the case"
            )
    return ""


def _walk(obj: Any) -> Iterator[Any]:
    yield obj
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _walk(o)
    elif hasattr(obj, "head") and hasattr(obj, "args"):
        yield from _walk(obj.head)
        for o in obj.args:
            yield from _walk(o)


def _flatten(obj: Any) -> tuple[tuple[int, ...], list[Any]]:
    """Shape and row-major leaves of a rectangular nested list (a non-list is a scalar)."""
    if not isinstance(obj, (list, tuple)):
        return (), [obj]
    if not obj:
        return (0,), []
    parts = [_flatten(o) for o in obj]
    shapes = {s for s, _ in parts}
    if len(shapes) != 1:
        raise EvaluationError(f"ragged array in the engine's answer: {_wl_text(obj)}")
    return (len(obj), *parts[0][0]), [leaf for _, leaves in parts for leaf in leaves]


def _grid_data(
    case: Case, unique: list[Point], per_point: list[dict[str, Quantity]], idx: list[int]
) -> GridData:
    """Stack the evaluated points of one grid in the case's point order."""
    at = [per_point[i] for i in idx]
    names = list(at[0])
    return GridData(
        inputs={p: np.stack([unique[i][p] for i in idx]).astype(np.float64) for p in case.params},
        numbers={n: np.stack([pt[n][0] for pt in at]) for n in names},
        digits={n: np.stack([pt[n][1] for pt in at]) for n in names},
        certified={n: np.stack([pt[n][2] for pt in at]) for n in names},
    )


def _is_symbol(obj: Any, name: str) -> bool:
    return getattr(obj, "name", None) in (name, f"System`{name}") and not hasattr(obj, "args")


def _wl_text(obj: Any, limit: int = 400) -> str:
    """WL input form of (part of) an engine's answer, for messages: digits as they came, symbols
    without their context."""
    text = _render(obj)
    return text if len(text) <= limit else text[:limit] + "..."


def _render(obj: Any) -> str:
    if isinstance(obj, (list, tuple)):
        return "{" + ", ".join(map(_render, obj)) + "}"
    if isinstance(obj, (bool, int, float, Decimal, str)):
        return repr(obj) if isinstance(obj, str) else str(obj)
    if hasattr(obj, "head") and hasattr(obj, "args"):
        return f"{_render(obj.head)}[{', '.join(map(_render, obj.args))}]"
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name.rsplit("`", 1)[-1]
    return repr(obj)


def _point_text(point: Point) -> str:
    return ", ".join(f"{k}={v.tolist()!r}" for k, v in point.items())
