"""The Python API: check any implementation against a golden, or generate goldens, without pytest.

``gradgold.check_gradients("seed/matrix_norm", fused_norm)`` returns a :class:`CheckReport` (one
:class:`~gradgold.check.CaseCheck` per dtype and mode, each with its per-point, per-quantity
results); it never raises for a mismatch, so a notebook, a benchmark script or another test runner
can decide what to do. The pytest fixture is thin wiring over it. ``gradgold.generate_goldens([...])``
runs the generator in this process and returns each case's outcome. (They are not named
``gradgold.check`` and ``gradgold.generation.generate``: those are modules of the package, and importing a
module sets the package's attribute of that name.)

This module imports torch only when a check runs (``import gradgold`` stays light).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cases import DTYPE_NAMES, Case
from .errors import CaseError
from .modes import MODES, case_modes, check_label
from .suite import Project, find_project, fresh_golden, golden_path, load_cases, select

if TYPE_CHECKING:
    from .check import CaseCheck, QuantityResult
    from .generation.generate import CaseOutcome
    from .golden import Golden

__all__ = ["CheckReport", "check_gradients", "find_case", "generate_goldens", "mismatch_report"]

#: Failed quantities shown in full in one report; the rest are counted.
MAX_REPORTED = 6
#: Dtypes a check can run in.
DTYPES = DTYPE_NAMES


@dataclass(frozen=True)
class CheckReport:
    """What one :func:`check_gradients` found: every check (dtype x mode) of one implementation against one
    golden. ``passed`` is the verdict; :meth:`text` is the report a person reads."""

    case: Case
    implementation: str  #: "" for the case's own function, else the implementation's name
    checks: tuple[CaseCheck, ...]
    golden_path: Path

    @property
    def passed(self) -> bool:
        """Every check gave its expected outcome (a skip is not a failure)."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[CaseCheck, ...]:
        """The checks that did not give their expected outcome."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def results(self) -> tuple[QuantityResult, ...]:
        """Every comparison of every check, in order (``.obtained`` holds what torch computed)."""
        return tuple(r for c in self.checks for r in c.results)

    @property
    def skipped(self) -> str:
        """Why every check was skipped (an absent device, say), or "" if any ran."""
        reasons = [c.skip_reason for c in self.checks]
        return reasons[0] if self.checks and all(reasons) else ""

    def text(self, hint: str = "") -> str:
        """The report of the failed checks (empty when all passed); ``hint`` ends an overflowing
        report instead of the default (for another implementation, where to find every result:
        ``gradgold check`` would check the case's own function)."""
        if not hint and self.implementation:
            hint = (
                f"the CheckReport of gradgold.check_gradients({self.case.id!r}, {self.implementation}) "
                "holds them all (.failed[i].results)"
            )
        parts = []
        for c in self.failed:
            if c.problem:
                parts.append(f"{self.case.id} [{c.label}]: {c.problem}")
            elif c.status == "XPASS":
                parts.append(f"{self.case.id} [{c.label}]: {c.xpass_hint}")
            else:
                parts.append(
                    mismatch_report(
                        self.golden_path,
                        self.case,
                        c.dtype,
                        c.results,
                        self.implementation,
                        c.mode,
                        c.device,
                        hint,
                    )
                )
        return "\n\n".join(parts)


def find_case(case_id: str, project: Project | None = None, cases: Sequence[Case] | None = None) -> Case:
    """The one case named ``case_id`` (``suite/case``) among the project's cases."""
    project = project or find_project()
    chosen = select(cases if cases is not None else load_cases(project), [case_id])
    if len(chosen) != 1 or chosen[0].id != case_id.removesuffix(".npz"):
        raise CaseError(
            f"{case_id!r} names a suite of {len(chosen)} cases; give one case id, e.g. {chosen[0].id!r}"
        )
    return chosen[0]


def check_gradients(
    case: str | Case,
    fn: Callable[..., Any] | None = None,
    *,
    dtypes: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
    device: str = "cpu",
    project: Project | None = None,
    golden: Golden | None = None,
) -> CheckReport:
    """Check ``fn`` (default: the case's own function) against the golden of ``case`` (an id such
    as ``"seed/matrix_norm"``, or a :class:`Case` loaded from the project) in each dtype and mode
    (default: the case's own), on ``device``.

    ``fn`` takes the case function's parameters and returns its output. A mismatch is a failed
    check in the report, not an exception; a missing or stale golden, an unknown id, dtype or mode
    raise :class:`~gradgold.GradgoldError` with the fix. A case's ``xfail=`` describes its own
    function, so it applies only when ``fn`` is None. ``project`` defaults to the nearest
    ``pyproject.toml`` above the working directory.
    """
    from .check import check_case
    from .judge import Judges

    project = project or find_project()
    chosen = find_case(case, project) if isinstance(case, str) else case
    bad = [m for m in modes or () if m not in MODES] or [d for d in dtypes or () if d not in DTYPES]
    if bad:
        kind, known = ("mode", MODES) if bad[0] in (modes or ()) else ("dtype", DTYPES)
        raise CaseError(f"{chosen.id}: unknown {kind} {bad[0]!r}; use one of {', '.join(known)}")
    if golden is None:
        golden = fresh_golden(project, chosen)
    judges = Judges(chosen, golden)  # the references prepared once for every dtype and mode
    checks = []
    for dtype in dtypes or chosen.dtypes:
        for mode in case_modes(chosen, modes):
            done = check_case(chosen, golden, dtype, mode, device, fn=fn, judges=judges)
            checks.append(done)
    return CheckReport(chosen, implementation_label(fn), tuple(checks), golden_path(project, chosen.id))


def implementation_label(fn: Callable[..., Any] | None) -> str:
    """How reports name an implementation: ``module.qualname`` ("" for the case's own function)."""
    if fn is None:
        return ""
    from .artifacts import implementation_of

    return implementation_of(fn).name


def mismatch_report(
    path: Path,
    case: Case,
    dtype: str,
    results: Sequence[QuantityResult],
    label: str = "",
    mode: str = "reverse",
    device: str = "cpu",
    hint: str = "",
) -> str:
    """A headline (what, which golden, how many), then each failed quantity's torch.testing-style
    message, at most :data:`MAX_REPORTED` of them; the rest are counted, with ``hint`` (default:
    the ``gradgold check`` command that lists them, for the case's own function)."""
    failed = [r for r in results if not r.passed]
    what = f"{label} checked against {case.id}" if label else case.id
    tag = check_label(dtype, mode, device)
    lines = [f"{what} [{tag}]: {len(failed)} of {len(results)} checks failed against the golden {path}"]
    lines += ["", *(r.message for r in failed[:MAX_REPORTED])]
    if len(failed) > MAX_REPORTED:
        more = hint or (
            f"`gradgold check {case.id} --dtype {dtype} --mode {mode} --device {device} --json` "
            "lists them all"
        )
        lines.append(f"... and {len(failed) - MAX_REPORTED} more failed checks; {more}")
    return "\n".join(lines)


def generate_goldens(
    ids: Sequence[str] = (),
    *,
    project: Project | None = None,
    kernel: str | None = None,
    embedded: bool = False,
    force: bool = False,
    jobs: int = 1,
    timeout: int = 300,
) -> list[CaseOutcome]:
    """Generate the goldens of ``ids`` (cases or suites; default all) with a kernel (``kernel``,
    ``$WOLFRAM_KERNEL``, an installed one, else the embedded engine, or the embedded one when
    ``embedded``). Fresh goldens are skipped unless ``force``. Returns each case's outcome
    (``generated``, ``unchanged``, ``skipped``, ``failed`` with the reason); raises
    :class:`~gradgold.EngineError` when no engine can start."""
    from .generation.generate import generate as run

    project = project or find_project()
    cases = select(load_cases(project), ids)
    outcomes, _ = run(
        project, cases, kernel=kernel, embedded=embedded, force=force, jobs=jobs, timeout=timeout
    )
    return outcomes
