"""The case API: declaration, validation messages, points, fingerprints."""

from __future__ import annotations

import numpy as np
import pytest

import gradgold as gg
from gradgold.cases import collecting


def add(w, z):
    return w + z


def test_case_records_parameters_shapes_and_points() -> None:
    c = gg.case(wolfram="w + z", points=[{"w": 1.0, "z": [1, 2]}])(add)
    assert c.name == "add" and c.params == ("w", "z")
    assert c.shapes == {"w": (), "z": (2,)}
    assert c.points[0]["z"].dtype == np.float64
    assert c(1, 2) == 3  # a case stays callable as the function it wraps


def test_case_collects_cases_made_in_loops() -> None:
    with collecting() as found:
        for name in ("a", "b"):
            gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 2.0}], name=name)(add)
    assert [c.name for c in found] == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../escape"}, "invalid case name"),
        ({"points": []}, "no points"),
        ({"points": [{"w": 1.0}]}, "keys must be the parameters ['w', 'z']; missing ['z']"),
        ({"points": [{"w": 1.0, "z": 1.0, "q": 2.0}]}, "unknown ['q']"),
        ({"points": [{"w": "a", "z": 1.0}]}, "w='a' is not a real number or array"),
        ({"points": [{"w": float("nan"), "z": 1.0}]}, "w holds a non-finite number"),
        (
            {"points": [{"w": 1.0, "z": 1.0}, {"w": [1.0, 2.0], "z": 1.0}]},
            "all points of a case share shapes",
        ),
        ({"dtypes": ["float8"]}, "unknown dtype 'float8'"),
        ({"precision": 10}, "precision=10 is below float64's"),
        ({"wolfram": " "}, "wolfram= must be a non-empty"),
    ],
)
def test_invalid_declarations_name_the_case_and_the_fix(kwargs: dict, message: str) -> None:
    args = {"wolfram": "w + z", "points": [{"w": 1.0, "z": 1.0}]} | kwargs
    with pytest.raises(gg.CaseError, match=r"case '.*'") as err:
        gg.case(**args)(add)
    assert message in str(err.value)
    assert "test_cases.py" in str(err.value)


def test_parameter_names_are_mapped_to_wl_symbols_by_one_rule() -> None:
    def f(axis_angle, x_1, C, Gamma, W):
        return axis_angle

    point = {"axis_angle": 1.0, "x_1": 1.0, "C": 1.0, "Gamma": 1.0, "W": 1.0}
    c = gg.case(wolfram="axisAngle + x1 + c + gamma + W", points=[point])(f)
    assert c.params == ("axis_angle", "x_1", "C", "Gamma", "W")
    assert c.wl_names == {"axis_angle": "axisAngle", "x_1": "x1", "C": "c", "Gamma": "gamma", "W": "W"}


def test_parameter_names_that_collide_in_wl_are_refused_at_the_case_line() -> None:
    def f(axis_angle, axisAngle):
        return axis_angle

    with pytest.raises(gg.CaseError) as err:
        gg.case(wolfram="axisAngle", points=[{"axis_angle": 1.0, "axisAngle": 1.0}])(f)
    line = err.traceback[0].lineno  # 0-based line of the gg.case(...) call in this file
    assert (
        f"test_cases.py:{line + 1}: case 'f': parameters 'axis_angle' and 'axisAngle' would both be "
        in str(err.value)
    )
    assert "wrap the function" in str(err.value)


def test_parameters_with_defaults_may_be_left_out_and_later_ones_go_by_keyword() -> None:
    def loss(input, target, reduction="mean", pos_weight=None, *, scale=1.0):
        return (input, target, reduction, pos_weight, scale)

    c = gg.case(wolfram="1", points=[{"input": 1.0, "target": 2.0, "pos_weight": 3.0, "scale": 4.0}])(loss)
    assert c.params == ("input", "target", "pos_weight", "scale")
    assert c.wl_names["pos_weight"] == "posWeight"
    assert c(1, 2, 3, 4) == (1, 2, "mean", 3, 4)
    prefix = gg.case(wolfram="1", points=[{"input": 1.0, "target": 2.0}])(loss)
    assert prefix.fn is loss

    def positional(x, y=1.0, z=2.0, /):
        return x

    with pytest.raises(gg.CaseError, match="positional-only parameter 'z' comes after a parameter"):
        gg.case(wolfram="x z", points=[{"x": 1.0, "z": 3.0}])(positional)


def test_uniform_is_reproducible_and_on_the_float32_grid() -> None:
    a = gg.uniform(-1, 1, shapes={"W": (3, 3), "x": ()}, n=4, seed=0)
    b = gg.uniform(-1, 1, shapes={"W": (3, 3), "x": ()}, n=4, seed=0)
    assert len(a) == 4 and a[0]["W"].shape == (3, 3) and a[0]["x"].shape == ()
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p["W"], q["W"])
        assert np.array_equal(p["W"].astype(np.float32).astype(np.float64), p["W"])
        assert np.all((p["W"] >= -1) & (p["W"] < 1))
    # Pinned: the stream must never change, or every generated golden would go stale.
    assert a[0]["x"].item() == -0.5678075551986694
    assert gg.uniform(-1, 1, shapes={"x": ()}, n=1, seed=1)[0]["x"] != a[0]["x"]


def test_uniform_refuses_an_empty_interval() -> None:
    with pytest.raises(gg.CaseError, match="need finite low < high"):
        gg.uniform(1, 1, shapes={"x": ()}, n=1, seed=0)


def test_grids_add_float32_only_when_a_point_moves() -> None:
    exact = gg.case(wolfram="w + z", points=[{"w": 0.5, "z": 1.0}])(add)
    moved = gg.case(wolfram="w + z", points=[{"w": 0.2, "z": 1.0}])(add)
    assert exact.grids() == ("float64",)
    assert moved.grids() == ("float64", "float32")
    only64 = gg.case(wolfram="w + z", points=[{"w": 0.2, "z": 1.0}], dtypes=["float64"])(add)
    assert only64.grids() == ("float64",)


def test_fingerprint_follows_the_mathematics_not_the_function() -> None:
    base = gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}])(add)
    assert (
        base.fingerprint()
        == gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}], name="other")(add).fingerprint()
    )
    assert base.fingerprint() != gg.case(wolfram="w + 2 z", points=[{"w": 1.0, "z": 1.0}])(add).fingerprint()
    assert base.fingerprint() != gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 2.0}])(add).fingerprint()
    assert (
        base.fingerprint()
        != gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}], precision=40)(add).fingerprint()
    )


def test_a_case_never_applied_to_a_function_is_an_error() -> None:
    with (
        pytest.raises(
            gg.CaseError, match=r"test_cases.py:\d+: gg.case\(...\) was never applied to a function"
        ),
        collecting(),
    ):
        gg.case(wolfram="x", points=[{"x": 1.0}])  # the (fn) is missing
    with collecting() as found:
        gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}])(add)
    assert len(found) == 1


def test_a_builtin_takes_its_parameter_names_from_the_points() -> None:
    import torch

    c = gg.case(wolfram="Exp[x]", points=[{"x": 0.5}], name="exp")(torch.exp)
    assert c.params == ("x",) and c.fn is torch.exp
    c2 = gg.case(wolfram="ArcTan[y/x]", points=[{"y": 1.0, "x": 2.0}], name="atan2")(torch.atan2)
    assert c2.params == ("y", "x")  # the first point's order: fn is called positionally


def test_a_builtin_without_named_points_is_refused_with_the_fix() -> None:
    import torch

    with pytest.raises(
        gg.CaseError, match=r"cannot read the function's parameters .*give points=\[\{name: value\}\]"
    ):
        gg.case(wolfram="Exp[x]", points=[], name="exp")(torch.exp)


def test_a_case_records_the_line_that_declared_it() -> None:
    c = gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 2.0}])(add)
    assert c.line == test_a_case_records_the_line_that_declared_it.__code__.co_firstlineno + 1
    assert c.source == __file__


def test_f32_rounds_numbers_nested_lists_and_complex_numbers() -> None:
    assert gg.f32(0.1, 2.0) == [float(np.float32(0.1)), 2.0]
    assert gg.f32([0.1, 1.0], [3.0, 0.2]) == [[float(np.float32(0.1)), 1.0], [3.0, float(np.float32(0.2))]]
    assert gg.f32(0.1 + 0.3j) == [complex(float(np.float32(0.1)), float(np.float32(0.3)))]
    assert gg.f32(np.array(0.5 + 0.25j)) == [0.5 + 0.25j]


def test_unary_declares_the_case_at_order_2_and_its_extreme_case() -> None:
    import torch

    with collecting() as found:
        cases = gg.unary("exp", "Exp[x]", torch.exp, [0.1, 0.5, 3.0, 80.0], extreme=[700.0], precision=50)
    assert [c.name for c in found] == ["exp", "exp-extreme"] and list(cases) == found
    main, extreme = found
    assert main.params == ("x",) and main.fn is torch.exp and main.precision == 50
    assert [float(p["x"]) for p in main.points] == gg.f32(0.1, 0.5, 3.0, 80.0)  # on the float32 grid
    assert main.order == 2  # the Hessian at every point: no "-d2" twin
    assert extreme.order == 1 and extreme.dtypes == ("float64",) and float(extreme.points[0]["x"]) == 700.0
    assert not extreme.xfail


def test_unary_records_a_second_order_bug_on_the_case_itself() -> None:
    import torch

    with collecting() as found:
        gg.unary("t", "Tanh[x]", torch.tanh, [1.0], xfail={"float64-hessian": "reason"})
    assert [c.name for c in found] == ["t"] and found[0].order == 2
    assert found[0].xfail == {"float64-hessian": "reason"}


@pytest.mark.parametrize("second", [True, "reason", {"float64": "reason"}])
def test_unary_second_was_removed_and_says_what_to_write(second: object) -> None:
    import torch

    with pytest.raises(gg.CaseError) as err, collecting():
        gg.unary("t", "Tanh[x]", torch.tanh, [1.0], second=second)
    message = str(err.value)
    assert "test_cases.py:" in message and "case 't'" in message
    assert "gg.unary(second=...) was removed" in message
    assert "holds its Hessian by default" in message and "xfail={'hessian': reason}" in message


def test_unary_extreme_case_records_its_own_failure_only() -> None:
    import torch

    with collecting() as found:
        gg.unary("t", "Tanh[x]", torch.tanh, [1.0], extreme=[40.0], xfail={"float32": "a"}, extreme_xfail="b")
    assert found[0].xfail == {"float32": "a"} and found[1].xfail == {"*": "b"}


def test_unary_binds_another_parameter_name_and_complex_points() -> None:
    import torch

    c = gg.unary("log", "Log[z]", torch.log, [0.5 + 0.25j], param="z")[0]
    assert c.params == ("z",) and c.complex_params == ("z",)
    (m,) = gg.unary("det", "Det[A]", torch.linalg.det, [[[1, 0.5], [0.25, 2]]], param="A")
    assert m.shapes == {"A": (2, 2)}


def test_unary_errors_point_at_the_declaring_line() -> None:
    import torch

    with pytest.raises(gg.CaseError, match=r"test_cases.py:\d+: case 'bad name'"):
        gg.unary("bad name", "Exp[x]", torch.exp, [1.0])


def test_errors_about_a_library_function_point_at_the_case_not_the_library() -> None:
    import torch.nn.functional as F

    with pytest.raises(gg.CaseError) as err:
        gg.case(wolfram="input", points=[{"input": "a"}], name="leaky")(F.leaky_relu)
    line = err.traceback[0].lineno + 1
    assert str(err.value).startswith(f"{__file__}:{line}: case 'leaky', point 0: input='a' is not a real")
    assert "functional.py" not in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"flaot32": 64},
            "rtol_ulps key 'flaot32' is not a dtype; did you mean 'float32'? use one of float64,",
        ),
        ({"half": 64}, "rtol_ulps key 'half' is not a dtype; use one of float64,"),
        ({"float32": 0}, "rtol_ulps['float32']=0; give a positive number of float32 ULPs, e.g. 64"),
        ({"float32": float("inf")}, "rtol_ulps['float32']=inf; give a positive number"),
        ({"float32": "64"}, "rtol_ulps['float32']='64'; give a positive number"),
    ],
)
def test_rtol_ulps_names_a_dtype_and_a_positive_number(overrides: dict, message: str) -> None:
    with pytest.raises(gg.CaseError, match=r"test_cases.py:\d+: case 'add'") as err:
        gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}], rtol_ulps=overrides)(add)
    assert message in str(err.value)


def test_rtol_ulps_accepts_every_dtype() -> None:
    c = gg.case(wolfram="w + z", points=[{"w": 1.0, "z": 1.0}], rtol_ulps={"float32": 8, "float64": 2.5})(add)
    assert c.rtol_ulps == {"float32": 8, "float64": 2.5}


def test_the_cli_and_the_api_read_the_one_dtype_and_mode_tables() -> None:
    from gradgold import api
    from gradgold.cases import DTYPE_NAMES
    from gradgold.cli import main
    from gradgold.modes import MODES

    options = {p.name: p for p in main.commands["check"].params}  # type: ignore[attr-defined]
    assert tuple(options["dtypes"].type.choices) == DTYPE_NAMES  # type: ignore[attr-defined]
    assert tuple(options["modes"].type.choices) == MODES  # type: ignore[attr-defined]
    assert api.DTYPES is DTYPE_NAMES
