"""WL program building: symbolic arrays, exact points, both precisions, strategies."""

from __future__ import annotations

import pytest

import gradgold as gg
from gradgold.errors import CaseError
from gradgold.generation.wlprogram import build_program, entry_symbols, quantity_names, resolve_strategy


def f(W, z):
    return W


def v1(v):
    return v


def test_entry_symbols_are_nested_like_the_array() -> None:
    assert entry_symbols("x", ()) == "gg$x"
    assert entry_symbols("v", (2,)) == "{gg$v$1, gg$v$2}"
    assert entry_symbols("W", (2, 1)) == "{{gg$W$1$1}, {gg$W$2$1}}"


def test_program_binds_arrays_holds_the_expression_and_uses_exact_points() -> None:
    c = gg.case(
        wolfram="Tr[W . W] + z", points=[{"W": [[1, 0.5], [0.2, 0]], "z": 0.1}], precision=40, order=1
    )(f)
    program = build_program(c, c.points, timeout=7)
    text = program.text
    binds = "{W -> {{gg$W$1$1, gg$W$1$2}, {gg$W$2$1, gg$W$2$2}}, z -> gg$z}"
    assert f"ggH = Hold[Tr[W . W] + z] /. {binds} //. " in text
    assert "ggV = {gg$W$1$1, gg$W$1$2, gg$W$2$1, gg$W$2$2, gg$z};" in text
    assert "ggD1 = Map[D[ggFx, #] &, ggV] /. {Derivative[1][Abs] -> Sign" in text
    assert "ggQ = ggQs[ggF];" in text  # no branches: derivatives taken once for all points
    assert "gg$W$2$1 -> 3602879701896397/18014398509481984" in text
    assert "gg$W$2$2 -> 0" in text
    assert "N[ggE, 40]" in text
    assert "N[ggE, 70]" in text
    assert text.startswith("TimeConstrained[")
    assert text.endswith("7, $Aborted]")
    assert program.strategy == "symbolic"
    assert program.quantities == ("value", "d1")


def test_higher_orders_differentiate_the_previous_tensor() -> None:
    c = gg.case(wolfram="x^3 y", points=[{"W": [[1.0]], "z": 0.5}], order=3)(f)
    text = build_program(c, c.points).text
    assert "ggD2 = Map[D[ggD1, #] &, ggV]" in text
    assert "ggD3 = Map[D[ggD2, #] &, ggV]" in text
    assert quantity_names(c) == ("value", "d1", "d2", "d3")


def test_projections_contract_the_exact_derivatives_or_go_along_t() -> None:
    pts = gg.uniform(-1, 1, shapes={"v": (3,)}, n=1, seed=0)
    full = gg.case(wolfram="Total[v^2]", points=pts, order=2, projections=2)(v1)
    text = build_program(full, full.points).text
    assert "ggDirs . ggD1" in text
    assert "Map[# . (# . ggD2) &, ggDirs]" in text
    assert quantity_names(full) == ("value", "d1", "d2", "proj/grad", "proj/hess")
    only = gg.case(
        wolfram="Total[v^2]", points=pts, projections=2, full_jacobian=False, strategy="symbolic", order=1
    )(v1)
    assert "Map[(D[ggFx /. Thread[ggV -> ggV + ggT #], ggT]" in build_program(only, only.points).text
    assert quantity_names(only) == ("value", "proj/grad")


def test_directions_are_reproducible_exact_and_in_the_program() -> None:
    pts = gg.uniform(-1, 1, shapes={"v": (3,)}, n=1, seed=0)
    c = gg.case(wolfram="Total[v^2]", points=pts, projections=2)(v1)
    d = c.directions()
    assert d.shape == (2, 3)
    assert (d == gg.case(wolfram="Total[v]", points=pts, projections=2)(v1).directions()).all()
    assert "ggDirs = {{" in build_program(c, c.points).text


def test_auto_strategy_substitutes_numbers_for_many_inputs() -> None:
    small = gg.case(wolfram="Total[v]", points=gg.uniform(-1, 1, shapes={"v": (8,)}, n=1, seed=0))(v1)
    large = gg.case(wolfram="Total[v]", points=gg.uniform(-1, 1, shapes={"v": (9,)}, n=1, seed=0))(v1)
    assert resolve_strategy(small) == "symbolic"
    assert resolve_strategy(large) == "substituted"
    text = build_program(large, large.points).text
    assert "ggAt[ggFx_, ggR_, ggP_] := With[{ggX = N[ggV /. ggR, ggP]}" in text
    assert "Map[(D[ggFx /. Thread[ggV -> ggX + ggT #], ggT]" in text
    assert "IdentityMatrix[Length[ggV]]" in text
    hess = gg.case(wolfram="Total[v]", points=large.points, order=2)(v1)
    assert resolve_strategy(hess) == "symbolic"


def test_substituted_full_hessians_are_refused_with_the_fix() -> None:
    c = gg.case(wolfram="Total[v]", points=[{"v": [1.0]}], order=2, strategy="substituted")(v1)
    with pytest.raises(CaseError, match="use strategy='symbolic' \\(or 'auto'\\) for full Hessians"):
        build_program(c, c.points)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": 5}, "order=5; use 1 to 4"),
        ({"full_jacobian": False}, "full_jacobian=False needs projections=k > 0"),
        ({"strategy": "fast"}, "strategy='fast'; use 'auto', 'rigorous', 'symbolic' or 'substituted'"),
    ],
)
def test_invalid_derivative_options(kwargs: dict, message: str) -> None:
    with pytest.raises(CaseError, match=message.replace("(", "\\(").replace(")", "\\)")):
        gg.case(wolfram="Total[v]", points=[{"v": [1.0]}], **kwargs)(v1)


def test_high_orders_over_many_inputs_are_refused() -> None:
    with pytest.raises(CaseError, match="order=3 over 20 scalar inputs is 8000 numbers per point"):
        gg.case(wolfram="Total[v]", points=[{"v": [1.0] * 20}], order=3)(v1)


def test_rewrites_apply_to_the_held_bound_expression() -> None:
    c = gg.case(wolfram="Max[x, y] + ArcTan[x, y]", points=[{"x": 1.0, "y": 2.0}])(xy)
    text = build_program(c, c.points).text
    assert (
        "ggH = Hold[Max[x, y] + ArcTan[x, y]] /. {x -> gg$x, y -> gg$y} //. {HoldPattern[Norm[ggm_?MatrixQ]]"
        in text
    )
    assert "HoldPattern[Max[gga_, ggb_]] :> (gga + ggb + Abs[gga - ggb])/2" in text
    assert "ggActive[ggR_]" not in text


def test_branches_are_resolved_per_point() -> None:
    c = gg.case(wolfram="Piecewise[{{x^2, x > 0}}, -x] + y", points=[{"x": 1.0, "y": 2.0}])(xy)
    text = build_program(c, c.points).text
    assert "ggActive[ggR_] := ReleaseHold[ggH /. {Piecewise[ggC_List, ggDef_: 0]" in text
    assert "ggQs[ggActive[ggR]] /. ggR" in text
    assert "ggF = ReleaseHold[ggH]" not in text


def xy(x, y):
    return x


def test_program_binds_mapped_parameter_names_and_exact_decimals() -> None:
    def g(axis_angle, C):
        return axis_angle

    c = gg.case(wolfram="1.055 axisAngle^2 + c", points=[{"axis_angle": [1.0, 2.0], "C": 0.5}])(g)
    text = build_program(c, c.points).text
    binds = "{axisAngle -> {gg$axisAngle$1, gg$axisAngle$2}, c -> gg$c}"
    assert f"ggH = Hold[(211/200) axisAngle^2 + c] /. {binds} //. " in text
    assert "ggV = {gg$axisAngle$1, gg$axisAngle$2, gg$c};" in text
    assert "gg$c -> 1/2" in text
