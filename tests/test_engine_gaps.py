"""What the engine cannot give a case is refused before any kernel starts (issue #12): magnitudes of
terms, and a pole declared with expect= (only the rigorous evaluator leaves such a point out)."""

from __future__ import annotations

from pathlib import Path

from conftest import PYPROJECT
from gradgold.generation.generate import generate
from gradgold.suite import find_project, load_cases

CASES = """
import gradgold as gg

@gg.case(wolfram="AiryAi[x] + x^2", points=[{"x": 0.5}], magnitudes=True, order=1)
def mags(x):
    return x

@gg.case(wolfram="AiryAi[x] + 1/x", points=[{"x": 0.5}, {"x": 0.0}], order=1,
         expect={1: {"value": "inf", "grad/x": "-inf"}})
def pole(x):
    return x

@gg.case(wolfram="x^2", points=[{"x": 0.5}], magnitudes=True, order=1, strategy="symbolic")
def symbolic(x):
    return x
"""


def test_magnitudes_and_declared_poles_on_the_engine_path_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "gaps.py").write_text(CASES)
    project = find_project(tmp_path)
    # An explicit kernel path that does not exist: no case may get as far as starting it.
    outcomes, info = generate(project, load_cases(project), kernel=str(tmp_path / "no-kernel"))
    assert info is None
    source = project.golden_dir / "gaps.py"
    reasons = {o.case_id: o.reason for o in outcomes if o.status == "failed"}
    assert reasons == {
        "gaps/mags": f"{source}: case gaps/mags: magnitudes=True needs the rigorous evaluator (the engine "
        "computes no magnitudes of terms), but the rigorous evaluator does not implement AiryAi; remove "
        "magnitudes=True (the checker then uses |ref|), or write the expression with heads the rigorous "
        "evaluator implements",
        "gaps/pole": f"{source}: case gaps/pole: expect= declares a non-finite value at point 1 ('inf'): "
        "a pole, which only the rigorous evaluator can leave out (the engine evaluates every point, and "
        "fails there), but the rigorous evaluator does not implement AiryAi; remove point 1 and its "
        "expect= entry, or write the expression with heads the rigorous evaluator implements",
        "gaps/symbolic": f"{source}: case gaps/symbolic: magnitudes=True needs the rigorous evaluator (the "
        "engine computes no magnitudes of terms), but strategy='symbolic' sends the case to the engine; "
        "remove magnitudes=True (the checker then uses |ref|), or use strategy='auto' (the rigorous "
        "evaluator, where it implements every head)",
    }
    assert not list((project.golden_dir).glob("gaps/*.npz"))


def test_a_finite_declaration_still_goes_to_the_engine() -> None:
    """A subgradient declared at a kink is finite: the engine evaluates the point (the checker
    compares torch with the declaration there), so nothing is refused."""
    import gradgold as gg
    from gradgold.generation.generate import _engine_gap

    def kink(x: object) -> object:
        return x

    case = gg.case(
        wolfram="Abs[x]", points=[{"x": 0.0}], order=1, strategy="symbolic", expect={0: {"grad/x": 0.0}}
    )(kink)
    assert _engine_gap(case, "") == ""
