"""The conformance report: the state of every suite, rendered as Markdown, HTML and a plot.

``gradgold report`` runs the checker over every case (``check.run_checks``) and renders, for each
operation, quantity and dtype, the worst error in ULPs and relative terms over all points and
modes, and pass / fail / expected failure with its reason. The output is deterministic (sorted,
with fixed number formats and a date line the caller pins), so a committed report can be compared
with a fresh rendering in a test.

Cases name their variants ``<operation>-<variant>`` (``tanh-saturation``): an *operation* is a
case name up to its first ``-``, so the headline counts operations, not the cases covering them.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GradgoldError
from .tolerance import TOLERANCES

__all__ = [
    "DEFAULT_TITLE",
    "Report",
    "Row",
    "build_report",
    "operation_of",
    "project_title",
    "render_html",
    "render_markdown",
    "render_plot",
]

#: The report's title when the project does not name itself.
DEFAULT_TITLE = "PyTorch gradient conformance"


def project_title(root: Path) -> str:
    """``<name>: PyTorch gradient conformance``, the name from ``[project] name`` in the project's
    ``pyproject.toml`` (else the root directory's name)."""
    import tomllib

    try:
        name = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        name = None
    return f"{name or root.name}: {DEFAULT_TITLE}"


#: Row statuses, worst first: how a quantity fared over all the points and modes checked.
STATUSES = ("ERROR", "FAIL", "XPASS", "XFAIL", "PASS", "SKIP")


def operation_of(case_id: str) -> tuple[str, str]:
    """``(suite, operation)`` of a case id: ``elementwise/tanh-saturation`` -> ``(elementwise, tanh)``."""
    suite, _, name = case_id.rpartition("/")
    return suite, name.split("-", 1)[0]


@dataclass(frozen=True)
class Row:
    """One quantity of one case in one dtype, over all points and modes."""

    case_id: str
    quantity: str
    dtype: str
    modes: tuple[str, ...]
    status: str
    max_ulp: float | None
    max_rel: float | None
    comparisons: int
    reason: str = ""

    @property
    def suite(self) -> str:
        return operation_of(self.case_id)[0]

    @property
    def operation(self) -> str:
        return operation_of(self.case_id)[1]


@dataclass(frozen=True)
class Report:
    """Every row, sorted by suite, case, dtype and quantity."""

    rows: tuple[Row, ...]
    reasons: dict[str, str] = field(default_factory=dict)

    def suites(self) -> list[str]:
        return sorted({r.suite for r in self.rows})

    def operations(self, suite: str | None = None) -> set[tuple[str, str]]:
        return {(r.suite, r.operation) for r in self.rows if suite is None or r.suite == suite}

    def cases(self, suite: str | None = None) -> set[str]:
        return {r.case_id for r in self.rows if suite is None or r.suite == suite}

    def comparisons(self, suite: str | None = None) -> int:
        return sum(r.comparisons for r in self.rows if suite is None or r.suite == suite)

    def discrepancies(self, suite: str | None = None) -> list[str]:
        """Cases whose torch results are recorded as wrong (expected failures), sorted."""
        return sorted(
            {r.case_id for r in self.rows if r.status == "XFAIL" and (suite is None or r.suite == suite)}
        )

    def unexpected(self) -> list[tuple[str, list[Row]]]:
        """Cases with unexpected rows (FAIL, ERROR, XPASS), each with those rows, sorted."""
        found: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            if r.status in ("FAIL", "ERROR", "XPASS"):
                found[r.case_id].append(r)
        return sorted(found.items())

    def count(self, status: str, suite: str | None = None) -> int:
        return sum(r.status == status for r in self.rows if suite is None or r.suite == suite)


def build_report(checks: Iterable[Any]) -> Report:
    """Aggregate ``CaseCheck``s (one per case, dtype and mode) into rows per quantity and dtype."""
    groups: dict[tuple[str, str, str], list[tuple[str, Any, Any]]] = defaultdict(list)
    reasons: dict[str, str] = {}
    for c in checks:
        mode = str(getattr(c, "mode", "reverse"))
        if c.expected_failure:
            reasons[c.case_id] = str(c.expected_failure)
        if c.problem:
            groups[(c.case_id, "-", c.dtype)].append((mode, c, None))
            continue
        for r in c.results:
            groups[(c.case_id, r.quantity, c.dtype)].append((mode, c, r))
    rows = [_row(key, items) for key, items in groups.items()]
    rows.sort(key=lambda r: (r.suite, r.case_id, r.dtype != "float64", r.dtype, _quantity_key(r.quantity)))
    return Report(rows=tuple(rows), reasons=reasons)


def _quantity_key(quantity: str) -> tuple[int, str]:
    return (0 if quantity == "value" else 1, quantity)


def _row(key: tuple[str, str, str], items: list[tuple[str, Any, Any]]) -> Row:
    case_id, quantity, dtype = key
    modes = tuple(sorted({m for m, c, r in items if not _skipped(c, r)}))
    ulps = [r.comparison.max_ulp_err for _, c, r in items if r is not None and r.comparison is not None]
    rels = [r.comparison.max_rel_err for _, c, r in items if r is not None and r.comparison is not None]
    reason = next((str(c.expected_failure) for _, c, r in items if r is not None and c.expects(r)), "")
    return Row(
        case_id=case_id,
        quantity=quantity,
        dtype=dtype,
        modes=modes,
        status=_status(items),
        max_ulp=_worst(ulps),
        max_rel=_worst(rels),
        comparisons=sum(1 for _, c, r in items if r is not None and not _skipped(c, r)),
        reason=reason or next((str(c.problem) for _, c, _ in items if c.problem), ""),
    )


def _skipped(check: Any, result: Any) -> bool:
    return bool(getattr(result, "skipped", "")) or (result is None and not check.problem)


def _status(items: list[tuple[str, Any, Any]]) -> str:
    """The quantity's status: ERROR (no golden), FAIL (an unexpected mismatch), XPASS (a recorded
    failure that no longer fails anywhere), XFAIL (mismatches, recorded), PASS, SKIP."""
    if any(c.problem for _, c, _ in items):
        return "ERROR"
    ran = [(c, r) for _, c, r in items if r is not None and not _skipped(c, r)]
    if not ran:
        return "SKIP"
    mismatched = any(not r.passed for _, r in ran)
    if any(not r.passed and not c.expects(r) for c, r in ran):
        return "FAIL"
    expected = any(c.expects(r) for c, r in ran)
    if expected:
        if mismatched:
            return "XFAIL"
        return "XPASS" if any(c.status == "XPASS" for c, _ in ran) else "PASS"
    return "FAIL" if mismatched else "PASS"


def _worst(values: Sequence[float]) -> float | None:
    """The largest error (NaN wins), or None where nothing was compared (the function raised, or
    its output was detached: the row's status says why)."""
    if not values:
        return None
    if any(math.isnan(v) for v in values):
        return math.nan
    return max(values)


def _num(value: float | None, spec: str) -> str:
    """Fixed formats, so a rendering is stable: few significant digits, ``nan`` spelled out."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    return format(value, spec)


def headline(report: Report) -> str:
    """The sentence the README opens with. An operation checked by several families (``exp`` in
    elementwise, complex and orders) counts once here, once per family in the table."""
    ops, cases = len({op for _, op in report.operations()}), len(report.cases())
    disc = report.discrepancies()
    disc_ops = {operation_of(c) for c in disc}
    fails = report.count("FAIL") + report.count("ERROR") + report.count("XPASS")
    return (
        f"{ops} operations in {cases} cases, {report.comparisons()} checks (a value or derivative at one "
        f"point, dtype and mode, against its exact reference): {len(disc)} discrepancies in "
        f"{len(disc_ops)} operations recorded as expected failures, {fails} unexpected results."
    )


# --- Markdown ---------------------------------------------------------------------------------
_TABLE_HEAD = (
    "| case | quantity | dtype | modes | status | worst ULPs | worst rel. error |\n"
    "|---|---|---|---|---|---:|---:|"
)


#: R of float64 and float32 (the dtypes the plot shows), from the one tolerance table.
_R_WIDE = TOLERANCES["float64"].rtol_ulps


def _tolerance_lines() -> list[str]:
    """The report's statement of the tolerance rule, its numbers read from :mod:`gradgold.tolerance`."""
    wide, narrow = TOLERANCES["float64"], TOLERANCES["float16"]
    return [
        "Errors are the worst over all points and modes: ULPs of the checked dtype at the reference, and",
        f"relative error. Each element passes within {wide.rtol_ulps:g} ULPs of itself (plus its "
        f"conditioning) and {wide.atol_ulps:g} ULPs",
        f"of its own magnitude ({narrow.rtol_ulps:g} and {narrow.atol_ulps:g} in float16 and bfloat16), "
        "never its neighbours' (a `normwise=`",
        "case, a matrix decomposition, uses the result's largest element), unless its case states another",
        "tolerance with evidence.",
    ]


def render_markdown(
    report: Report, *, date: str, torch_version: str, title: str = DEFAULT_TITLE, plot: str | None = None
) -> str:
    """The whole report as Markdown: headline, summary per family, discrepancies (recorded and
    unexpected), full tables; ``plot`` (a path relative to the report) is shown under the headline."""
    out = [
        f"# {title}",
        "",
        f"torch {torch_version}, CPU; rendered {date} by `gradgold report` from the committed goldens.",
        "",
        f"**{headline(report)}**",
        "",
        *([f"![Worst errors per family and dtype]({plot})", ""] if plot else []),
        *_tolerance_lines(),
        "",
        "## Summary by family",
        "",
        "| family | operations | cases | checks | rows passing | rows xfail (recorded) | rows unexpected |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.suites():
        unexpected = report.count("FAIL", s) + report.count("ERROR", s) + report.count("XPASS", s)
        out.append(
            f"| {s} | {len(report.operations(s))} | {len(report.cases(s))} | {report.comparisons(s)} | "
            f"{report.count('PASS', s)} | {report.count('XFAIL', s)} | {unexpected} |"
        )
    out += [
        "",
        "A row is one case, quantity and dtype over all its points and modes; a check is one comparison.",
        "",
        "## Discrepancies",
        "",
    ]
    listed = [f"- `{c}`: {_md(report.reasons.get(c, ''))}" for c in report.discrepancies()]
    listed += [f"- `{c}`: {_md(_unexpected_text(rows))}" for c, rows in report.unexpected()]
    out += listed or ["None."]
    for s in report.suites():
        out += ["", f"## {s}", "", _TABLE_HEAD]
        out += [_md_row(r) for r in report.rows if r.suite == s]
    return "\n".join(out) + "\n"


def _unexpected_text(rows: Sequence[Row]) -> str:
    """What an unexpected row means and what to do, for the discrepancy list. A check that could
    not run (ERROR: a missing, stale or unreadable golden) says why, not that torch disagrees."""
    errors = [r for r in rows if r.status == "ERROR"]
    if errors:
        dtypes = ", ".join(dict.fromkeys(r.dtype for r in errors))
        return f"**error** ({dtypes}): the check could not run: {errors[0].reason or 'no reason recorded'}"
    parts = [
        f"{r.status} {r.quantity} {r.dtype}" + (f" ({_num(r.max_ulp, '.3g')} ULPs)" if r.max_ulp else "")
        for r in rows
    ]
    return (
        f"**unexpected**: {', '.join(parts[:4])}{', ...' if len(parts) > 4 else ''}; torch disagrees with "
        "the exact reference and no xfail= records it (`gradgold check` shows the report)"
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_row(r: Row) -> str:
    status = r.status if r.status in ("PASS", "SKIP") else f"**{r.status}**"
    modes = ", ".join(r.modes) or "-"
    return (
        f"| {r.case_id.split('/', 1)[1]} | {r.quantity} | {r.dtype} | {modes} | {status} | "
        f"{_num(r.max_ulp, '.3g')} | {_num(r.max_rel, '.2e')} |"
    )


# --- HTML -------------------------------------------------------------------------------------
def render_html(
    report: Report, *, date: str, torch_version: str, title: str = DEFAULT_TITLE, plot: str | None = None
) -> str:
    """The same content as a standalone HTML page (rows coloured by status)."""
    esc = html.escape
    body = [
        f"<h1>{esc(title)}</h1>",
        f"<p>torch {esc(torch_version)}, CPU; rendered {esc(date)} by <code>gradgold report</code>.</p>",
        f"<p><strong>{esc(headline(report))}</strong></p>",
        *([f'<p><img src="{esc(plot)}" alt="Worst errors per family and dtype"></p>'] if plot else []),
        "<h2>Discrepancies</h2><ul>",
        *(
            f"<li><code>{esc(c)}</code>: {esc(report.reasons.get(c, ''))}</li>"
            for c in report.discrepancies()
        ),
        *(
            f"<li><code>{esc(c)}</code>: {esc(_unexpected_text(rows).replace('**', ''))}</li>"
            for c, rows in report.unexpected()
        ),
        "</ul>",
    ]
    for s in report.suites():
        body += [
            f"<h2>{esc(s)}</h2><table><tr><th>case</th><th>quantity</th><th>dtype</th><th>modes</th>"
            "<th>status</th><th>worst ULPs</th><th>worst rel. error</th></tr>"
        ]
        body += [
            f'<tr class="{r.status.lower()}"><td>{esc(r.case_id)}</td><td>{esc(r.quantity)}</td>'
            f"<td>{r.dtype}</td><td>{esc(', '.join(r.modes))}</td><td>{r.status}</td>"
            f"<td>{_num(r.max_ulp, '.3g')}</td><td>{_num(r.max_rel, '.2e')}</td></tr>"
            for r in report.rows
            if r.suite == s
        ]
        body.append("</table>")
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{padding:2px 6px;"
        "border:1px solid #ccc}.fail,.error,.xpass{background:#fcc}.xfail{background:#ffd}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{esc(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# --- plot -------------------------------------------------------------------------------------
def render_plot(report: Report, path: Path) -> None:
    """Histograms of log10(worst ULPs) per family and dtype (matplotlib, Agg backend; the ``plot``
    extra, imported here only, so a report without a plot never needs it)."""
    try:
        import matplotlib
    except ImportError as exc:
        raise GradgoldError(
            f"cannot write the plot {path}: matplotlib is not installed ({exc}); "
            "install it with: pip install 'gradgold[plot]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = report.suites()
    cols = 4
    nrows = max(1, math.ceil(len(suites) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.4 * nrows), squeeze=False)
    bins = [x / 2 for x in range(-2, 35)]
    for ax, s in zip(axes.flat, suites, strict=False):
        for dtype, colour in (("float64", "tab:blue"), ("float32", "tab:orange")):
            data = [
                _log_ulp(r.max_ulp)
                for r in report.rows
                if r.suite == s and r.dtype == dtype and r.max_ulp is not None
            ]
            ax.hist(data, bins=bins, alpha=0.6, color=colour, label=dtype)
        ax.axvline(math.log10(_R_WIDE), color="k", lw=0.8, ls="--")
        ax.set_title(s, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(suites) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel(
        f"log10(worst error in ULPs) per case, quantity and dtype (dashed: {_R_WIDE:g} ULPs)", fontsize=8
    )
    fig.tight_layout()
    fig.savefig(path, dpi=72, metadata={"Software": None})
    plt.close(fig)


def _log_ulp(value: float) -> float:
    """log10 of an ULP error, with 0 shown at -1 and NaN/inf at the right edge."""
    if math.isnan(value) or math.isinf(value):
        return 17.0
    return math.log10(max(value, 0.1))
