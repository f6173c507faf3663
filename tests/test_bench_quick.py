"""Smoke tests of the bench's building blocks (bench/), fast enough for every test run.

The checker must stay light: ``import gradgold`` and ``import gradgold.check`` never load the
generator's dependencies. The wrong-backward wrappers the sensitivity benchmark relies on must
really be wrong (and the right one right), or its floors would mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"wolframclient", "mathics", "sympy", "zmq"}


@pytest.fixture(scope="module", autouse=True)
def bench_on_path() -> None:
    """The bench package lives at the repository root, outside src/: make it importable."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


@pytest.mark.parametrize("module", ["gradgold", "gradgold.check"])
def test_import_loads_no_engine_dependency(module: str) -> None:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(run.stdout)}
    assert not loaded & FORBIDDEN, f"import {module} loaded {sorted(loaded & FORBIDDEN)}"


def test_wrong_backwards_are_caught_and_right_one_passes() -> None:
    from bench import sensitivity as s

    subject = s.mlp_subject()
    fn = subject.case.fn
    assert s.caught(subject, "gradgold_float64", s.wrong(fn, s.no_bug)) is False
    assert s.caught(subject, "gradgold_float64", s.wrong(fn, s.scaled(1e-12))) is True
    assert s.caught(subject, "gradgold_float64", s.wrong(fn, s.one_entry(1e-12))) is True
    assert s.caught(subject, "gradgold_float64", s.wrong(fn, s.transposed)) is True
    assert s.caught(subject, "gradcheck", s.wrong(fn, s.scaled(1e-6))) is False


def test_seed_goldens_detect_small_errors() -> None:
    from bench import sensitivity as s

    subject = next(x for x in s.seed_subjects(ROOT) if x.name == "seed/matrix_norm")
    row = s.floor(subject, "gradgold_float64", s.scaled)
    assert row["floor"] is not None
    assert row["floor"] <= 1e-10


def test_cost_rows_and_report_render(tmp_path: Path) -> None:
    from bench import cost
    from bench.report import cost_section

    rows = cost.run_cost([2], repeat=1, cap=1.0)
    assert {r["workload"] for r in rows} == {"matrix_norm", "ln_mlp", "logdet"}
    assert all(r["timings"]["gradgold"]["median_s"] > 0 for r in rows)
    assert "matrix_norm" in cost_section({"cost": rows})


def test_the_batched_row_catches_one_small_wrong_entry_among_16() -> None:
    """The "batched" sensitivity row: the smallest of 16 gradient entries (4.2e-18 beside 1) wrong
    by 1e-13 is caught in float64, by 1e-5 in float32; gradcheck catches no relative error there."""
    from bench import sensitivity as s

    rows = {r["method"]: r for r in s.batched()}
    assert all(r["false_positive"] is False for r in rows.values())
    assert rows["gradgold_float64"]["smallest_entry"]["floor"] == 1e-13
    assert rows["gradgold_float32"]["smallest_entry"]["floor"] == 1e-5
    assert rows["gradcheck"]["smallest_entry"]["floor"] is None


def test_small_case_and_per_case_sections_run_and_render() -> None:
    """Issue 16's checker-cost rows: both subjects pass every default mode (the custom Function's
    func and forward modes are refused, not failed), at order 1 and with the Hessian (order 2,
    against gradcheck + gradgradcheck), each mode beside its bare torch calls; the per-case goldens
    are fresh."""
    from bench.overhead import per_case_overhead, small_case_cost
    from bench.report import _issue16_goals, small_cases_section, small_gap_note, small_modes_section

    rows = small_case_cost(repeat=1, sizes=((8, 1), (2, 2)), points=2)
    assert [(r["subject"], r["order"]) for r in rows] == [
        ("logsumexp", 1),
        ("logsumexp", 2),
        ("custom_exp", 1),
        ("custom_exp", 2),
    ]
    assert all(r["default_over_gradcheck"] > 0 and r["reverse_over_fast_mode"] > 0 for r in rows)
    assert [r["baseline"] for r in rows[:2]] == ["gradcheck", "gradcheck + gradgradcheck"]
    assert "torch/double_backward" in rows[1]["cpu_s"] and "torch/double_backward" not in rows[0]["cpu_s"]
    per_case = per_case_overhead(3, 1)  # raises if a trivial golden is stale or a check fails
    assert per_case["checks_per_case"] == 4
    assert "custom_exp" in small_cases_section({"small_cases": rows})
    assert "**all, as checked** (one judge)" in small_modes_section({"small_cases": rows})
    assert small_gap_note({"small_cases": rows})
    goals = _issue16_goals({"small_cases": [dict(r, inputs=16) for r in rows], "per_case": per_case})
    assert len(goals) == 5 and all(
        status in ("met", "MISSED") or "MISSED" in status for _, _, status in goals[:4]
    )
    assert "gradgradcheck" in goals[1][0]
    assert goals[4][1:] == ("not measured in this run", "not measured")


def test_golden_read_section_measures_and_renders() -> None:
    """The read-cost section: the current loader beside a baseline loader imported from its
    source (here today's, so both must read every seed golden), and its report row."""
    from bench.golden_read import read_cost, reader_from_source
    from bench.report import _golden_read_goal, golden_read_section

    from gradgold.golden import read_golden

    baseline = reader_from_source((ROOT / "src" / "gradgold" / "golden.py").read_text())
    readers = {"current": read_golden, "baseline": baseline}
    res = read_cost(ROOT / "golden" / "seed", readers, repeat=1) | {"baseline_rev": "HEAD"}
    assert res["goldens"] >= 2 and all(0 < res[k]["median_s"] <= res[k]["p90_s"] for k in readers)
    row = _golden_read_goal({"golden_read": res})
    assert row[0] == "reading a committed golden <= 0.5 ms (issue 16)" and row[2] in (
        "met",
        "MISSED (median)",
    )
    assert "| before (git HEAD) |" in golden_read_section({"golden_read": res})


def test_tolerance_bench_rewrites_only_its_own_sections(tmp_path: Path) -> None:
    """bench/tolerance.py owns the text between its markers in TOLERANCE.md; the hand-written
    evidence around them survives a rerun, and a rerun of some dtypes keeps the others' rows."""
    from bench import tolerance as t

    committed = (ROOT / "bench" / "TOLERANCE.md").read_text()
    for name in (t.TABLE, t.OVERRIDES):
        assert t.section(committed, name)  # the committed file has both sections
    modes = ("reverse", "forward")
    rows = {d: f"| {d} | old row |" for d in ("float64", "float16")}
    doc = "# Title\n\nhand-written before\n" + t.BLANK + "\n## Evidence\n\nhand-written after\n"
    doc = t.splice(doc, t.TABLE, t.render_table(rows, modes, {"float64": 12.0, "float16": 3.0}))
    assert t.kept_rows(t.section(doc, t.TABLE), modes) == (rows, {"float64": 12.0, "float16": 3.0})
    fresh = {"checks": 0, "usage": [], "ulps": [], "floors": [], "f64ref": 0, "cpu_s": 5.0}
    path = tmp_path / "TOLERANCE.md"
    path.write_text(doc)
    body = t.write_table(path, {"float16": fresh}, modes)  # no checks: the row is dropped
    assert "| float64 | old row |" in body and "| float16 |" not in body
    assert "float64 12, float16 5." in body
    text = path.read_text()
    assert text.startswith("# Title\n\nhand-written before\n")
    assert text.endswith("\n## Evidence\n\nhand-written after\n")
    with pytest.raises(SystemExit, match="measured in other modes"):
        t.write_table(path, {"float16": fresh}, ("reverse",))
    with pytest.raises(SystemExit, match="must hold the lines"):
        t.splice("no markers", t.TABLE, "body")
