"""WL source transformations: exact decimals, parameter names, machine-number sources."""

from __future__ import annotations

from fractions import Fraction

import pytest

from gradgold.wlsource import exact_decimals, machine_sources, number_value, tokens, wl_name, wl_names


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1.055", Fraction(211, 200)),
        ("2.", Fraction(2)),
        (".5", Fraction(1, 2)),
        ("1.5*^3", Fraction(1500)),
        ("1.5*^-3", Fraction(3, 2000)),
        ("2*^-3", Fraction(1, 500)),
        ("1.055`30", Fraction(211, 200)),
        ("1.055`", Fraction(211, 200)),
        ("7``20", Fraction(7)),
        ("16^^1F.8", Fraction(63, 2)),
        ("0.1", Fraction(1, 10)),
        ("12", None),
        ("2^^101", None),
    ],
)
def test_number_literals_have_their_exact_decimal_value(literal: str, value: Fraction | None) -> None:
    assert number_value(literal) == value


def test_exact_decimals_rewrites_numbers_only() -> None:
    text = 'x^2.5 + .5 f["1.5"] (* 2.5 (* nested 3.5 *) *) - 2. y + 1.055`30 z'
    assert exact_decimals(text) == 'x^(5/2) + (1/2) f["1.5"] (* 2.5 (* nested 3.5 *) *) - 2 y + (211/200) z'


@pytest.mark.parametrize(
    "text",
    [
        "x1.5",  # Dot[x1, 5]
        "gg$W$1 + #1 + ##2 + %3 + Global`x2",
        "Sin[x]^2 + 3 x + 10^-5",
        "{a, b}..",
        '"a \\" 1.5"',
        "\\[Alpha]1 + 2",
    ],
)
def test_text_without_decimal_literals_is_unchanged(text: str) -> None:
    assert exact_decimals(text) == text


def test_tokens_give_the_text_back() -> None:
    text = 'If[x > 0.5, "s" <> "t", (* c *) N[Pi, 30]] /. a_ :> 2.5`10*^2 #1 &'
    assert "".join(t.text for t in tokens(text)) == text
    assert [t.text for t in tokens(text) if t.kind == "number"] == ["0.5", "30", "2.5`10*^2"]  # #1 is a slot


def test_machine_sources_name_what_makes_machine_numbers() -> None:
    text = "N[Sqrt[2]] + N[Pi, 30] + N[f[x, {1, 2}]] x + y MachinePrecision (* N[z] *)"
    assert machine_sources(text) == ["N[Sqrt[2]]", "N[f[x, {1, 2}]]", "MachinePrecision"]
    assert machine_sources("N[x, 40] + Sin[x]") == []


@pytest.mark.parametrize(
    ("param", "name"),
    [
        ("x", "x"),
        ("W", "W"),
        ("x1", "x1"),
        ("axis_angle", "axisAngle"),
        ("x_1", "x1"),
        ("_scale", "scale"),
        ("log_input_", "logInput"),
        ("C", "c"),
        ("N", "n"),
        ("Gamma", "gamma"),
    ],
)
def test_wl_name_rule(param: str, name: str) -> None:
    assert wl_name(param) == name


def test_wl_names_refuses_collisions_and_unmappable_names() -> None:
    with pytest.raises(ValueError, match="'axis_angle' and 'axisAngle' would both be written 'axisAngle'"):
        wl_names(["axis_angle", "axisAngle"])
    with pytest.raises(ValueError, match="'C' and 'c' would both be written 'c'"):
        wl_names(["C", "c"])
    with pytest.raises(ValueError, match="parameter 'x\u00e9': only ASCII"):
        wl_names(["x\u00e9"])
