"""``gradgold report``: aggregation, rendering, and the committed conformance report.

The last test regenerates the report from the committed goldens and compares it with
``docs/conformance.md``. Exact equality would tie the test to one CPU's last-bit rounding (torch's
vectorised kernels differ between instruction sets), so it compares every table row's case,
quantity, dtype, modes and status exactly, and the worst ULP errors within a factor of 4 where
either side exceeds 1 ULP (below that, rounding noise).
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradgold.cli import main
from gradgold.errors import GradgoldError
from gradgold.report import (
    build_report,
    headline,
    operation_of,
    render_html,
    render_markdown,
    render_plot,
)

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "conformance.md"


@dataclass(frozen=True)
class Cmp:
    max_ulp_err: float
    max_rel_err: float


@dataclass(frozen=True)
class Res:
    quantity: str
    passed: bool
    comparison: Cmp | None
    skipped: str = ""


@dataclass(frozen=True)
class Chk:
    case_id: str
    dtype: str
    results: tuple[Res, ...] = ()
    problem: str = ""
    expected_failure: str = ""
    mode: str = "reverse"
    status: str = "PASS"

    def expects(self, result: Res) -> bool:
        """As ``CaseCheck.expects`` for an expected failure of the whole check."""
        return bool(self.expected_failure)


def _res(q: str, ulp: float, ok: bool = True) -> Res:
    return Res(q, ok, Cmp(ulp, ulp * 2.0**-52))


def _checks() -> list[Chk]:
    return [
        Chk("elementwise/exp", "float64", (_res("value", 0.5), _res("grad/x", 1.0))),
        Chk("elementwise/exp", "float64", (_res("value", 0.5), _res("grad/x", 2.0)), mode="forward"),
        Chk(
            "elementwise/tanh-saturation",
            "float64",
            (_res("value", 0.0), _res("grad/x", 1e6, ok=False)),
            expected_failure="1 - y^2 cancels (pytorch/pytorch#1)",
            status="XFAIL",
        ),
        Chk("linalg/det-2x2", "float32", (_res("value", 3.0), _res("grad/A", 100.0, ok=False))),
        Chk("linalg/inv-2x2", "float32", problem="golden is stale"),
    ]


def test_operation_of_strips_the_variant() -> None:
    assert operation_of("elementwise/tanh-saturation") == ("elementwise", "tanh")
    assert operation_of("special/log_ndtr") == ("special", "log_ndtr")


def test_rows_take_the_worst_over_modes_and_name_the_status() -> None:
    report = build_report(_checks())
    rows = {(r.case_id, r.quantity, r.dtype): r for r in report.rows}
    assert rows[("elementwise/exp", "grad/x", "float64")].max_ulp == 2.0
    assert rows[("elementwise/exp", "grad/x", "float64")].modes == ("forward", "reverse")
    assert rows[("elementwise/tanh-saturation", "grad/x", "float64")].status == "XFAIL"
    assert rows[("elementwise/tanh-saturation", "value", "float64")].status == "PASS"
    assert rows[("linalg/det-2x2", "grad/A", "float32")].status == "FAIL"
    assert rows[("linalg/inv-2x2", "-", "float32")].status == "ERROR"
    assert report.discrepancies() == ["elementwise/tanh-saturation"]


def test_headline_counts_operations_cases_checks_and_discrepancies() -> None:
    text = headline(build_report(_checks()))
    assert text.startswith("4 operations in 4 cases, 8 checks")
    assert "1 discrepancies in 1 operations" in text
    assert "2 unexpected results" in text  # rows: det's FAIL and inv's ERROR


def test_markdown_is_deterministic_and_shows_reasons() -> None:
    report = build_report(_checks())
    a = render_markdown(report, date="2026-01-01", torch_version="2.13.0+cpu")
    b = render_markdown(
        build_report(list(reversed(_checks()))), date="2026-01-01", torch_version="2.13.0+cpu"
    )
    assert a == b
    assert "`elementwise/tanh-saturation`: 1 - y^2 cancels (pytorch/pytorch#1)" in a
    assert "| tanh-saturation | grad/x | float64 | reverse | **XFAIL** | 1e+06 |" in a
    assert "2026-01-01" in a


def test_html_escapes_and_colours_rows() -> None:
    checks = [
        Chk("s/a", "float64", (_res("value", 1e3, ok=False),), expected_failure="x < y & z", status="XFAIL")
    ]
    page = render_html(build_report(checks), date="d", torch_version="t")
    assert "x &lt; y &amp; z" in page
    assert '<tr class="xfail">' in page
    assert page.startswith("<!DOCTYPE html>")


_ROW = re.compile(
    r"^\| (?P<case>[^|]+) \| (?P<q>[^|]+) \| (?P<dtype>float\d+) \| (?P<modes>[^|]+) \| (?P<status>[^|]+) "
    r"\| (?P<ulp>[^|]+) \|"
)


@dataclass
class _Table:
    rows: dict[tuple[str, ...], str] = field(default_factory=dict)
    ulps: dict[tuple[str, ...], float] = field(default_factory=dict)


def _table(text: str) -> _Table:
    out, section = _Table(), ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:]
        m = _ROW.match(line)
        if m:
            key = (section, m["case"], m["q"], m["dtype"])
            out.rows[key] = f"{m['modes']} {m['status']}"
            out.ulps[key] = math.nan if m["ulp"] in ("-", "nan") else float(m["ulp"])
    return out


@pytest.mark.skipif(not COMMITTED.is_file(), reason="no committed report")
def test_committed_report_matches_a_fresh_rendering() -> None:
    result = CliRunner().invoke(main, ["report", "--date", "pinned"])
    assert result.exit_code == 0, result.output
    fresh, committed = _table(result.output), _table(COMMITTED.read_text())
    assert fresh.rows == committed.rows, "statuses changed: regenerate docs/conformance.md (see its header)"
    for key, ulp in committed.ulps.items():
        other = fresh.ulps[key]
        if max(ulp, other) > 1 and not (math.isnan(ulp) and math.isnan(other)):
            assert other <= 4 * ulp + 1 and ulp <= 4 * other + 1, (key, ulp, other)
    assert headline_line(result.output) == headline_line(COMMITTED.read_text())


def headline_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("**"))


def test_rows_without_comparisons_show_a_dash_not_zero() -> None:
    detached = Chk(
        "special/bessel_j0",
        "float64",
        (Res("value", False, None), Res("grad/x", False, None)),
        expected_failure="no autograd formula",
        status="XFAIL",
    )
    text = render_markdown(build_report([detached]), date="d", torch_version="t")
    assert "| bessel_j0 | grad/x | float64 | reverse | **XFAIL** | - | - |" in text


def test_plot_writes_a_png(tmp_path: Path) -> None:
    render_plot(build_report(_checks()), tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an install without the extra sees
    with pytest.raises(GradgoldError, match=r"r\.png: matplotlib is not installed .*'gradgold\[plot\]'"):
        render_plot(build_report(_checks()), tmp_path / "r.png")
    assert not (tmp_path / "r.png").exists()
