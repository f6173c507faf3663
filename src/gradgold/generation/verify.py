"""Verify committed goldens: offline (internal consistency, no engine) and by recomputation.

A golden is data that CI believes and that anyone can change in a pull request, so gradgold
checks what it can without trusting the generator: each stored float64 must be the correct
rounding of its stored digits, the certified digits must meet the case's ``min_digits``, the
fingerprint must be the case's, and the inputs must be the case's points (rounded to each grid).
``reverify`` goes further and recomputes the digits with an engine, typically a different one
from the engine that wrote the golden.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cases import Case
from ..errors import EngineError, EvaluationError
from ..exact import agreeing_digits, bitwise_differences, certified_float, round_to_grid
from ..golden import Golden, GridData, program_sha256
from ..metadata import metadata_mismatch
from ..suite import Project, golden_state
from .engine import Engine, EngineInfo, locate_kernel
from .generate import evaluate_case, evaluation_points
from .wlprogram import DEFAULT_TIMEOUT, build_program

__all__ = [
    "Agreement",
    "Finding",
    "agreements",
    "magnitude_agreements",
    "reverify",
    "reverify_rigorous",
    "verify_case",
    "verify_offline",
]


@dataclass(frozen=True)
class Finding:
    """One inconsistency in a golden. ``check`` names the rule broken (``missing``, ``unreadable``,
    ``metadata``, ``fingerprint``, ``inputs``, ``digits``, ``certified``, ``rounding``); ``index``
    is the first offending element (point first) and ``count`` how many elements break it."""

    case_id: str
    path: Path
    check: str
    message: str
    grid: str = ""
    quantity: str = ""
    index: tuple[int, ...] = ()
    count: int = 1


@dataclass(frozen=True)
class Agreement:
    """Digits on which a committed quantity and its recomputation agree (the least over its
    elements, at ``index``), or why it could not be recomputed (``error``)."""

    case_id: str
    grid: str
    quantity: str
    digits: int
    required: int
    index: tuple[int, ...] = ()
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and self.digits >= self.required

    @property
    def message(self) -> str:
        if self.error:
            return f"{self.case_id}: {self.error}"
        where = f"{self.case_id} [{self.grid}], {self.quantity}, index {self.index}"
        if self.quantity.startswith("magnitude/"):
            if self.passed:
                return f"{where}: the magnitude of terms is consistent with its recomputation"
            return (
                f"{where}: the committed magnitude of terms is more than {MAGNITUDE_SLACK:g} times the "
                "recomputed one: an inflated magnitude widens the checker's allowance and hides wrong "
                f"results; regenerate with `gradgold generate --force {self.case_id}` and review the diff"
            )
        if self.passed:
            return f"{where}: {self.digits} digits agree"
        return (
            f"{where}: the committed and recomputed digits agree on only {self.digits} digits, below "
            f"the {self.required} required (min_digits, or the digits both certify, less one); one "
            f"engine is wrong here, or the digits were edited: compare `gradgold show "
            f"{self.case_id}` with a third engine (or mpmath) before regenerating"
        )


def verify_offline(project: Project, cases: Sequence[Case]) -> dict[str, list[Finding]]:
    """Findings per case id (an empty list: the golden is consistent)."""
    return {c.id: verify_case(project, c) for c in cases}


def verify_case(project: Project, case: Case) -> list[Finding]:
    """Every inconsistency of one case's committed golden, without any engine."""
    state = golden_state(project, case)
    path, golden = state.path, state.golden
    if golden is None:  # missing or unreadable
        return [Finding(case.id, path, state.status, state.reason)]
    if state.status == "stale" and golden.fingerprint != case.fingerprint():
        # generated for another case: nothing below is meaningful. (A golden stale only because its
        # stored inputs or metadata are not the case's gets the precise findings below.)
        return [Finding(case.id, path, "fingerprint", state.reason)]
    found = _metadata_findings(case, path, golden)
    if found:  # the grids' layout comes from the metadata: nothing below is meaningful
        return found
    found += _program_findings(case, path, golden)
    for grid, data in golden.grids.items():
        found += _input_findings(case, path, grid, data)
        for q in golden.meta.quantities():
            found += _number_findings(case, path, grid, q, data, golden.meta.working_precision or 0)
    return found


def _fix_regen(case: Case, path: Path) -> str:
    return (
        f"restore the committed file (`git checkout -- {path}`) or regenerate it with "
        f"`gradgold generate --force {case.id}` and review the diff"
    )


def _metadata_findings(case: Case, path: Path, golden: Golden) -> list[Finding]:
    """The golden's metadata must be this case's (its fingerprint is, see :func:`golden_state`)."""
    wrong = metadata_mismatch(case, golden.meta)
    if not wrong:
        return []
    shown = ", ".join(f"{k}={got!r:.60} (case: {want!r:.60})" for k, got, want in wrong)
    msg = f"{path}: case {case.id}: metadata disagrees with the case: {shown}; {_fix_regen(case, path)}"
    return [Finding(case.id, path, "metadata", msg)]


def _program_findings(case: Case, path: Path, golden: Golden) -> list[Finding]:
    """The stored WL program must be the one this gradgold writes for the case: the fingerprint
    covers the mathematics, not how programs are written, so a change there (a new rewrite, a new
    refusal) would otherwise leave goldens whose recorded program nobody can rerun as stored."""
    if golden.meta.evaluator == "rigorous":
        if golden.meta.program_sha256 == program_sha256(_held_tree_text(case)):
            return []
        msg = (
            f"{path}: case {case.id}: the stored held tree is not the one this gradgold parses from the "
            f"case's wolfram= text; run `gradgold generate --force {case.id}` and review the diff"
        )
        return [Finding(case.id, path, "program", msg)]
    working = dataclasses.replace(case, precision=golden.meta.working_precision or case.precision)
    expected = build_program(working, evaluation_points(working)[0]).text
    if golden.meta.program_sha256 == program_sha256(expected):
        return []
    msg = (
        f"{path}: case {case.id}: the stored WL program is not the one this gradgold writes for the "
        "case (gradgold changed how it writes programs since the golden was generated; its numbers "
        f"may still be right); run `gradgold generate --force {case.id}` and review the diff"
    )
    return [Finding(case.id, path, "program", msg)]


def _held_tree_text(case: Case) -> str:
    """FullForm of the case's held tree as the rigorous evaluator parses it ("" if it cannot)."""
    try:
        from .rigorous.parser import WLSyntaxError, parse
        from .rigorous.tree import full_form
    except ImportError:  # pragma: no cover - python-flint missing; the parser itself needs none
        return ""
    from ..wlsource import exact_decimals

    try:
        return full_form(parse(exact_decimals(case.wolfram)))
    except WLSyntaxError:
        return ""


def _input_findings(case: Case, path: Path, grid: str, data: GridData) -> list[Finding]:
    """Each grid's inputs must be the case's points rounded to that grid, bit for bit (the
    metadata check has already matched their shapes)."""
    found = []
    for p in case.params:
        want = np.stack([round_to_grid(pt[p], grid) for pt in case.points])
        got = np.ascontiguousarray(data.inputs[p])
        differ = bitwise_differences(got, want)
        if differ:
            index, count = differ
            msg = (
                f"{path}: case {case.id}, grid {grid}, input {p}, index {index}: the golden's input is "
                f"{float(got[index])!r} where the case's point rounded to {grid} is {float(want[index])!r} "
                f"({count} of {got.size} inputs differ): the references were computed elsewhere "
                f"than the case's points; {_fix_regen(case, path)}"
            )
            found.append(Finding(case.id, path, "inputs", msg, grid, f"input/{p}", index, count))
    return found


Rule = Callable[[str, int, float], str]


def _number_findings(
    case: Case, path: Path, grid: str, q: str, data: GridData, working: int = 0
) -> list[Finding]:
    """Digits parse, certify at least ``min_digits`` (and no more than the working precision the
    generator used, which it may have raised), and decide the stored float64. Where the case
    states a quantity's result at a point with ``expect=``, the checker compares that exactly and
    never reads the golden's number: there (a pole) it may certify nothing."""
    digits, certified, numbers = data.digits[q], data.certified[q], data.numbers[q]
    rules: dict[str, Rule] = {
        "digits": lambda d, n, x: "" if _decimal(d) is not None else f"digit string {d!r} is not a number",
        "certified": lambda d, n, x: _certified_problem(case, n, working),
        "rounding": lambda d, n, x: _rounding_problem(d, n, x),
    }
    found = []
    for check, rule in rules.items():
        bad = [
            (i, p)
            for i, d, n, x in _elements(digits, certified, numbers)
            if (p := rule(d, n, x)) and not (check == "certified" and q in case.expect.get(i[0], {}))
        ]
        if bad:
            index, problem = bad[0]
            msg = (
                f"{path}: case {case.id}, grid {grid}, quantity {q}, index {index}: {problem} "
                f"({len(bad)} of {digits.size} numbers); {_fix(check, case, path)}"
            )
            found.append(Finding(case.id, path, check, msg, grid, q, index, len(bad)))
            if check == "digits":
                break  # the other rules need the digits
    return found


def _fix(check: str, case: Case, path: Path) -> str:
    if check == "certified":
        return (
            "the golden is not precise enough for the case: regenerate it with `gradgold generate "
            f"--force {case.id}`, raising precision= on the case or using a real Wolfram kernel"
        )
    return _fix_regen(case, path)


def _elements(
    digits: npt.NDArray[np.str_], certified: npt.NDArray[np.int16], numbers: npt.NDArray[np.float64]
) -> Iterator[tuple[tuple[int, ...], str, int, float]]:
    for index in np.ndindex(digits.shape):
        yield tuple(int(i) for i in index), str(digits[index]), int(certified[index]), float(numbers[index])


def _decimal(text: str) -> Decimal | None:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _certified_problem(case: Case, n: int, working: int = 0) -> str:
    if n < case.min_digits:
        return f"only {n} digits certified, below the case's min_digits={case.min_digits}"
    if n > max(case.precision, working):
        return (
            f"{n} digits certified, more than the working precision {max(case.precision, working)} can give"
        )
    return ""


def _rounding_problem(text: str, n: int, stored: float) -> str:
    """The stored float64 must be the one both ends of the digits' error interval round to."""
    d = _decimal(text)
    if d is None:
        return ""
    want = certified_float(d, n)
    if want is None and _exact_tie(text, stored):
        return ""  # an exact value halfway between two float64s, rounded half to even
    if want is None:
        return f"the digits {text!r} with {n} certified do not decide a float64, yet {stored!r} is stored"
    if want != stored or np.signbit(want) != np.signbit(stored):
        return f"stored float64 {stored!r} is not the correct rounding of the digits {text!r} ({want!r})"
    return ""


def _exact_tie(text: str, stored: float) -> bool:
    from .rigorous.rounding import exact_tie

    return exact_tie(text, stored)


def reverify(
    project: Project,
    cases: Sequence[Case],
    kernel: str | None = None,
    embedded: bool = False,
    timeout: int = DEFAULT_TIMEOUT,
) -> tuple[list[Agreement], EngineInfo | None]:
    """Recompute ``cases`` with an engine; digits of agreement per case, grid and quantity, and
    the engine's :class:`~gradgold.generation.engine.EngineInfo`. Golden files are never written."""
    path, kind = locate_kernel(kernel, embedded)
    out: list[Agreement] = []
    engine: Engine | None = None
    info: EngineInfo | None = None
    try:
        for c in cases:
            committed = _committed(project, c)
            if isinstance(committed, str):
                out.append(Agreement(c.id, "", "", 0, c.min_digits, error=committed))
                continue
            if engine is None:
                engine = Engine(path, kind).__enter__()
                info = engine.info
            try:
                fresh = evaluate_case(engine, c, timeout)
            except EvaluationError as exc:
                out.append(Agreement(c.id, "", "", 0, c.min_digits, error=str(exc)))
                continue
            except EngineError as exc:
                out.append(Agreement(c.id, "", "", 0, c.min_digits, error=str(exc)))
                engine.__exit__(None, None, None)
                engine = None
                continue
            out += agreements(c, committed, fresh)
    finally:
        if engine is not None:
            engine.__exit__(None, None, None)
    return out, info


def _committed(project: Project, case: Case) -> Golden | str:
    """The committed golden, or why it cannot be re-verified."""
    state = golden_state(project, case)
    return state.golden if state.golden is not None and state.status == "fresh" else state.reason


def agreements(case: Case, committed: Golden, fresh: Golden, *, rigorous: bool = False) -> list[Agreement]:
    """Least digits of agreement per grid and quantity between two goldens of ``case``
    (``rigorous``: ``fresh`` is the rigorous evaluator's, magnitudes included)."""
    out = []
    for grid, data in committed.grids.items():
        other = fresh.grids[grid]
        for q in committed.meta.quantities():
            ours, theirs = data.digits[q], other.digits[q]
            scores = []
            for i in np.ndindex(ours.shape):
                need = _required(case, int(data.certified[q][i]), int(other.certified[q][i]), rigorous)
                scores.append((_agree(ours[i], theirs[i], max(case.precision, need)), need, i))
            worst, need, index = min(scores, key=lambda s: s[0] - s[1])
            at = tuple(int(i) for i in index)
            out.append(Agreement(case.id, grid, q, worst, need, at))
    return out + magnitude_agreements(case, committed, fresh, rigorous=rigorous)


def _required(case: Case, claimed: int, proven: int, rigorous: bool) -> int:
    """Digits an element's committed digits must share with the recomputed ones: ``min_digits``
    and, against the rigorous evaluator, every digit the golden claims certified that the proof
    also certifies, less one (two numbers each within a relative 10**-n of the truth agree on
    n - 1 digits). Without the second part a golden certified to 30 digits could carry wrong
    digits 21 to 30 (min_digits 20) and pass."""
    return max(case.min_digits, min(claimed, proven) - 1) if rigorous else case.min_digits


#: A recomputed magnitude of terms may differ from the committed one by this factor (both are
#: estimates to a few digits; what matters is that a committed one is not inflated).
MAGNITUDE_SLACK = 2.0


#: What the rigorous evaluator's recomputation allows a committed magnitude above its own: the
#: rounding of a stored magnitude (up, to three significant digits: one unit of the third).
ROUNDING_SLACK = 1.01


def magnitude_agreements(
    case: Case, committed: Golden, fresh: Golden, *, rigorous: bool = False
) -> list[Agreement]:
    """A committed magnitude of terms (:mod:`gradgold.golden`) must be at most
    :data:`MAGNITUDE_SLACK` times the recomputed one (``rigorous``: the same pass recomputed, so
    above it by no more than rounding, :data:`ROUNDING_SLACK`): an inflated magnitude widens the
    checker's allowance and would hide a wrong result. One that the recomputation does not produce
    is an error: it cannot be verified."""
    out = []
    for grid, data in committed.grids.items():
        for q, ours in data.magnitudes.items():
            theirs = fresh.grids[grid].magnitudes.get(q) if grid in fresh.grids else None
            name = f"magnitude/{q}"
            if theirs is None:
                why = (
                    f"grid {grid}: the golden holds a magnitude of terms for {q!r}, which this engine "
                    "does not compute, so it cannot be re-verified; verify with an engine that computes "
                    f"magnitudes, or regenerate with `gradgold generate --force {case.id}`"
                )
                out.append(Agreement(case.id, grid, name, 0, case.min_digits, error=why))
                continue
            if ours.shape != theirs.shape:
                theirs = np.zeros_like(ours)
            bound = (
                ROUNDING_SLACK * theirs if rigorous else MAGNITUDE_SLACK * theirs + np.abs(data.numbers[q])
            )
            inflated = ~(ours <= bound)
            index = tuple(int(i) for i in np.argwhere(inflated)[0]) if np.any(inflated) else ()
            if rigorous and index:
                why = (
                    f"grid {grid}, {name}, index {index}: the committed magnitude of terms "
                    f"{float(ours[index])!r} is above the recomputed one {float(theirs[index])!r} by more "
                    "than its rounding: an inflated magnitude widens the checker's allowance and hides "
                    f"wrong results; regenerate with `gradgold generate --force {case.id}` and review "
                    "the diff"
                )
                out.append(Agreement(case.id, grid, name, 0, case.min_digits, index, error=why))
                continue
            digits = 0 if index else case.min_digits
            out.append(Agreement(case.id, grid, name, digits, case.min_digits, index))
    return out


def _agree(ours: Any, theirs: Any, cap: int) -> int:
    a, b = _decimal(str(ours)), _decimal(str(theirs))
    return 0 if a is None or b is None else agreeing_digits(a, b, cap)


def reverify_rigorous(project: Project, cases: Sequence[Case]) -> tuple[list[Agreement], list[str]]:
    """Recompute ``cases`` with the rigorous evaluator alone (no kernel, no Mathics): the tree comes
    from the case file's ``wolfram=`` text, never from the golden. Every stored float64 must be the
    proven one, bit for bit, and the stored digits must agree with the proven ones to
    ``min_digits``. Returns the agreements and, per case the evaluator does not support, why it
    was skipped."""
    from .rigorous.reference import RigorousUnsupported, rigorous_golden_of

    out: list[Agreement] = []
    skipped: list[str] = []
    for c in cases:
        committed = _committed(project, c)
        if isinstance(committed, str):
            out.append(Agreement(c.id, "", "", 0, c.min_digits, error=committed))
            continue
        try:
            fresh = rigorous_golden_of(c)
        except RigorousUnsupported as exc:
            skipped.append(f"{c.id}: {exc}")
            continue
        except EvaluationError as exc:
            out.append(
                Agreement(c.id, "", "", 0, c.min_digits, error=f"the rigorous evaluator refused: {exc}")
            )
            continue
        out += _float_mismatches(c, committed, fresh) or agreements(c, committed, fresh, rigorous=True)
    return out, skipped


def _float_mismatches(case: Case, committed: Golden, fresh: Golden) -> list[Agreement]:
    """One failing agreement per quantity whose stored float64s are not the proven ones."""
    out = []
    for grid, data in committed.grids.items():
        for q in committed.meta.quantities():
            ours, theirs = data.numbers[q], fresh.grids[grid].numbers[q]
            differ = bitwise_differences(ours, theirs)
            if differ:
                at, count = differ
                msg = (
                    f"{case.id} [{grid}], {q}, index {at}: stored float64 {float(ours[at])!r} is not the "
                    f"proven correct rounding {float(theirs[at])!r} ({count} of {ours.size} differ; the "
                    f"proven digits are {fresh.grids[grid].digits[q][at]}); the golden is wrong or forged: "
                    f"regenerate it with `gradgold generate --force {case.id}` and review the diff"
                )
                out.append(Agreement(case.id, grid, q, 0, case.min_digits, at, error=msg))
    return out
