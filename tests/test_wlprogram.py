"""WL program building: symbolic arrays, exact points, both precisions."""

from __future__ import annotations

import gradgold as gg
from gradgold.wlprogram import build_program, entry_symbols


def test_entry_symbols_are_nested_like_the_array() -> None:
    assert entry_symbols("x", ()) == "gg$x"
    assert entry_symbols("v", (2,)) == "{gg$v$1, gg$v$2}"
    assert entry_symbols("W", (2, 1)) == "{{gg$W$1$1}, {gg$W$2$1}}"


def test_program_binds_arrays_holds_the_expression_and_uses_exact_points() -> None:
    def f(W, z):
        return W

    c = gg.case(wolfram="Tr[W . W] + z", points=[{"W": [[1, 0.5], [0.2, 0]], "z": 0.1}], precision=40)(f)
    text = build_program(c, c.points, timeout=7).text
    assert (
        "ReleaseHold[Hold[Tr[W . W] + z] /. {W -> {{gg$W$1$1, gg$W$1$2}, {gg$W$2$1, gg$W$2$2}}, z -> gg$z}]"
        in text
    )
    assert "Map[D[ggF, #] &, {gg$W$1$1, gg$W$1$2, gg$W$2$1, gg$W$2$2, gg$z}]" in text
    assert "gg$W$2$1 -> 3602879701896397/18014398509481984" in text
    assert "gg$W$2$2 -> 0" in text
    assert "N[ggE, 40]" in text and "N[ggE, 70]" in text
    assert "Derivative[1][Abs] -> Sign" in text
    assert text.startswith("TimeConstrained[") and text.endswith("7, $Aborted]")
