"""The engine's held tree compared with gradgold's parse (issue #12): reading FullForm, the canonical
form, the first difference, the refusal, when generation asks, and one run with the embedded engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gradgold as gg
from conftest import PYPROJECT
from gradgold.generation.engine import EngineInfo, Outcome
from gradgold.generation.generate import _held_trees
from gradgold.generation.rigorous.crosstree import (
    FullFormError,
    bound_tree,
    canonical,
    disagreement,
    first_difference,
    read_full_form,
)
from gradgold.generation.rigorous.parser import parse
from gradgold.generation.rigorous.tree import full_form
from gradgold.generation.wlprogram import build_program, held_expression, held_tree_program


def _case(wolfram: str, points: list[dict[str, Any]], name: str = "t", **kw: Any) -> gg.Case:
    params = ", ".join(points[0])
    scope: dict[str, Any] = {}
    exec(f"def {name}({params}):\n    return 0", scope)
    return gg.case(wolfram=wolfram, points=points, **kw)(scope[name])


def test_full_form_is_read_without_the_infix_parser() -> None:
    tree = read_full_form('Hold[Plus[{gg$x, Rational[-1, 2]}, Global`y, "a\\"b", -3]]')
    assert full_form(tree) == 'Hold[Plus[List[gg$x, Rational[-1, 2]], y, "a\\"b", -3]]'
    with pytest.raises(FullFormError, match=r"inexact number 1\.5`"):
        read_full_form("Hold[Times[1.5`, x]]")
    with pytest.raises(FullFormError, match="expected ',' or"):
        read_full_form("Hold[x y]")


@pytest.mark.parametrize(
    ("text", "engine"),
    [  # what Mathics3 (and, in the comments, Mathematica) answer for Hold[text]
        ("a - 2 b", "Plus[a, Times[-1, 2, b]]"),
        ("a - 2 b", "Plus[a, Times[-2, b]]"),  # Mathematica
        ("(211/200) x", "Times[Times[211, Power[200, -1]], x]"),
        ("1/2", "Times[1, Power[2, -1]]"),
        ("1/2", "Rational[1, 2]"),
        ("a - (-3)", "Plus[a, Times[-1, -3]]"),
        ("#^2 & /@ x", "Map[Function[Power[Slot[1], 2]], x]"),
        ("x[[2 ;;]]", "Part[x, Span[2, All]]"),
        ("x + I y", "Plus[x, Times[Complex[0, 1], y]]"),
    ],
)
def test_equal_readings_agree_in_canonical_form(text: str, engine: str) -> None:
    assert first_difference(canonical(parse(text)), canonical(read_full_form(engine))) is None


@pytest.mark.parametrize(
    ("text", "engine", "ours", "theirs"),
    [
        ("a - 2 b", "Plus[a, Times[-2, c]]", "b", "c"),
        ("a^b^c", "Power[Power[a, b], c]", "a", "Power[a, b]"),
        ("f[x, y]", "f[x]", "f[x, y]", "f[x]"),
        ("Sin[x] + 1", "Plus[Cos[x], 1]", "Sin[x]", "Cos[x]"),
        ("-x/y", "Times[-1, Power[x, -1], y]", "x", "Power[x, -1]"),
    ],
)
def test_the_first_difference_is_the_innermost_differing_subtree(
    text: str, engine: str, ours: str, theirs: str
) -> None:
    found = first_difference(canonical(parse(text)), canonical(read_full_form(engine)))
    assert found is not None
    assert (full_form(found[0]), full_form(found[1])) == (ours, theirs)


def test_gradgold_binds_parameters_as_the_engine_program_does() -> None:
    case = _case("Total[v] + z", [{"v": [1.0, 2.0], "z": 0.5}])
    assert full_form(bound_tree(case)) == "Plus[Total[List[gg$v$1, gg$v$2]], gg$z]"
    complex_case = _case("Abs[w]", [{"w": 1.0 + 2.0j}])
    assert full_form(canonical(bound_tree(complex_case))) == "Abs[Plus[gg$w$1, Times[I, gg$w$2]]]"


def test_the_engine_is_asked_for_the_held_expression_every_program_starts_from() -> None:
    case = _case("x^2 + y", [{"x": 1.0, "y": 2.0}])
    assert held_expression(case) == "Hold[x^2 + y] /. {x -> gg$x, y -> gg$y}"
    assert held_tree_program(case) == f"ToString[FullForm[{held_expression(case)}]]"
    assert f"ggH = {held_expression(case)} //. " in build_program(case, case.points).text


def test_a_disagreement_names_file_case_both_subtrees_and_the_fix() -> None:
    case = _case("x^2 + y", [{"x": 1.0, "y": 2.0}])
    assert disagreement(case, "Hold[Plus[Power[gg$x, 2], gg$y]]", (), "Mathics3") == ""
    message = disagreement(case, "Hold[Plus[Power[gg$x, 3], gg$y]]", (), "Mathics3")
    assert message == (
        f"{case.source}: case {case.id}: the engine (Mathics3) reads wolfram= differently from "
        "gradgold's parser, so the rigorous evaluator would compute something else than the engine "
        "means: where gradgold reads 2, the engine reads 3 (the held, bound trees in canonical form). "
        "The golden is not written. Rewrite the expression so that both read it alike (add "
        "parentheses or an explicit *), or, if the engine's reading is the Wolfram Language's, "
        "report the parser bug (gradgold.generation.rigorous.parser)"
    )


def test_an_engine_that_cannot_read_the_text_refuses_the_case() -> None:
    case = _case("x^2", [{"x": 1.0}])
    said = disagreement(case, "$Failed", ("Syntax::sntxf: bad",), "Mathics3")
    assert said.startswith(f"{case.source}: case {case.id}: the engine (Mathics3) could not read wolfram=")
    assert "Syntax::sntxf: bad" in said and "fix the text" in said
    assert "instead of Hold[...]" in disagreement(case, "f[gg$x]", (), "Mathics3")


class _FakeEngine:
    """Answers held-tree programs as an engine that reads ``x`` as ``y`` in one case would."""

    info = EngineInfo(name="Fake", version="1", path="")

    def __init__(self) -> None:
        self.asked: list[str] = []

    def evaluate(self, text: str, timeout: float | None = None) -> Outcome:
        self.asked.append(text)
        answer = "Hold[Power[gg$x, 2]]" if "Hold[x^2]" in text else "Hold[Sin[gg$y]]"
        return Outcome(result=answer, messages=())


class _FakeWorker:
    def __init__(self) -> None:
        self.engine = _FakeEngine()
        self.timeout = 10
        self.closed = False

    def start(self) -> _FakeEngine:
        return self.engine

    def close(self) -> None:
        self.closed = True


def test_generation_asks_the_engine_only_when_it_needs_it_or_is_told() -> None:
    square = _case("x^2", [{"x": 1.0}], "square")
    sine = _case("Sin[x]", [{"x": 1.0}], "sine")
    engine_only = _case("x^3", [{"x": 1.0}], "cube", strategy="symbolic")
    heard: list[tuple[str, int, int]] = []
    worker: Any = _FakeWorker()

    def run(compare: list[gg.Case], todo: list[gg.Case], explicit: bool) -> tuple[Any, dict[str, str]]:
        return _held_trees(
            compare, todo, explicit, lambda: worker, lambda e, n, r, s: heard.append((e, n, r))
        )

    assert run([square, sine], [square, sine], False) == (None, {})  # no case needs the engine
    started, refused = run([square, sine, engine_only], [square, sine, engine_only], False)
    assert started is worker and list(refused) == [sine.id] and heard == [("start", 2, 0), ("done", 2, 1)]
    assert "where gradgold reads gg$x, the engine reads gg$y" in refused[sine.id]
    assert all("x^3" not in text for text in worker.engine.asked)  # the engine's own case: not asked
    started, refused = run([square], [], True)  # --compare-trees: also a fresh case
    assert started is worker and refused == {} and heard[-2:] == [("start", 1, 0), ("done", 1, 0)]


_MISREAD = """
import sys
from gradgold.generation.rigorous import crosstree
from gradgold.generation.rigorous.tree import Call, Sym

real = crosstree.held_tree
# A parser bug, as the comparison sees it: gradgold would read Sin[x] as Cos[x].
crosstree.held_tree = lambda case: Call(Sym("Cos"), (Sym("x"),)) if case.id.endswith("sine") else real(case)
from gradgold.cli import main
main(["generate", "--embedded", "--compare-trees", "-j", "1"])
"""

_CASES = """
import torch
import gradgold as gg

@gg.case(wolfram="x^2", points=[{"x": 0.5}])
def square(x):
    return x**2

@gg.case(wolfram="Sin[x]", points=[{"x": 0.5}])
def sine(x):
    return torch.sin(x)
"""


def test_a_misread_case_is_refused_with_the_embedded_engine(tmp_path: Path) -> None:
    """The real CLI and kernel (about 10 s, the kernel's start): one case read alike is generated,
    the other refused by name with nothing written."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "trees.py").write_text(_CASES)
    run = subprocess.run(
        [sys.executable, "-c", _MISREAD], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1, run.stderr
    starting = run.stderr.index(
        "held trees: starting the engine to compare its reading of 2 case(s) with gradgold's (the "
        "start can take a minute)"
    )
    assert starting < run.stderr.index("held trees: the engine read 1 of 2 cases as gradgold's parser does")
    assert (
        "trees/sine: the engine (Mathics3 (gradgold embedded engine)) reads wolfram= differently"
        in run.stdout
    )
    assert "where gradgold reads Cos[gg$x], the engine reads Sin[gg$x]" in run.stdout
    assert "1 generated, 0 unchanged, 0 skipped, 1 failed" in run.stdout
    assert (tmp_path / "golden" / "trees" / "square.npz").exists()
    assert not (tmp_path / "golden" / "trees" / "sine.npz").exists()
