"""The rigorous evaluator: parsing, proven rounding, derivatives, refusals, and verify --rigorous."""

from __future__ import annotations

import dataclasses
import math
import subprocess
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from flint import arb, ctx

import gradgold as gg
from conftest import gradgold_cli, seed_project
from gradgold.errors import EvaluationError
from gradgold.generation.rigorous.balls import NeedPrecision
from gradgold.generation.rigorous.parser import WLSyntaxError, parse
from gradgold.generation.rigorous.reference import RigorousUnsupported, rigorous_golden_of, support_problem
from gradgold.generation.rigorous.rounding import exact_tie, round_ball
from gradgold.generation.rigorous.tree import full_form
from gradgold.golden import Golden, read_golden, write_golden

REPO = Path(__file__).resolve().parents[1]


def _case(wolfram: str, points: list[dict[str, Any]], **kw: Any) -> gg.Case:
    params = ", ".join(points[0])
    scope: dict[str, Any] = {}
    exec(f"def t({params}):\n    return 0", scope)
    return gg.case(wolfram=wolfram, points=points, **kw)(scope["t"])


def _numbers(case: gg.Case, q: str = "value") -> np.ndarray:
    return rigorous_golden_of(case).grids["float64"].numbers[q]


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("x - y/2", "Plus[x, Times[-1, Times[y, Power[2, -1]]]]"),
        ("-x^2", "Times[-1, Power[x, 2]]"),
        ("1.055 x", "Times[Rational[211, 200], x]"),
        ("2 (a + b)", "Times[2, Plus[a, b]]"),
        ("x[[1 ;; 2]]", "Part[x, Span[1, 2]]"),
        ("x[[2 ;;]]", "Part[x, Span[2, All]]"),
        ("f[g[x]][[2]]", "Part[f[g[x]], 2]"),
        ("Exp[#] & /@ v", "Map[Function[Exp[Slot[1]]], v]"),
        ('Norm[m, "Frobenius"]', 'Norm[m, "Frobenius"]'),
        ("x . A . y", "Dot[x, A, y]"),
        ("If[x < 1 && y >= 2, x, y]", "If[And[Less[x, 1], GreaterEqual[y, 2]], x, y]"),
    ],
)
def test_parser_gives_the_held_full_form(text: str, form: str) -> None:
    assert full_form(parse(text)) == form


def test_decimal_literals_are_exact_decimals() -> None:
    assert parse("1.055") == Fraction(1055, 1000)
    assert parse("2.5*^-3") == Fraction(25, 10000)


@pytest.mark.parametrize("text", ["1.055 x", "2.5 x^2 - 0.125", "3.2*^-3 x + 1.5", "x/0.2"])
def test_decimals_mean_what_the_engine_is_sent(text: str) -> None:
    """The engine gets wlsource.exact_decimals(text); the parser reads decimals exactly itself:
    both trees give the same exact value (here at x = 3/4, with exact arithmetic)."""
    from gradgold.wlsource import exact_decimals

    x = Fraction(3, 4)

    def value(e: Any) -> Fraction:
        if isinstance(e, Fraction):
            return e
        if getattr(e, "name", None) == "x":
            return x
        args = [value(a) for a in e.args]
        head = e.head.name
        if head == "Plus":
            return sum(args, Fraction(0))
        if head == "Times":
            return math.prod(args, start=Fraction(1))
        assert head == "Power" and args[1].denominator == 1
        return args[0] ** int(args[1])

    assert value(parse(text)) == value(parse(exact_decimals(text))) != 0


@pytest.mark.parametrize("text", ["x +", "f[x", "x ~~ y", "{1, 2"])
def test_parser_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(WLSyntaxError, match="at character"):
        parse(text)


# --- proven rounding -----------------------------------------------------------------------


def test_an_exact_tie_rounds_half_to_even() -> None:
    # 4 t + 7 at t = 0.7 (float64) is exactly halfway between two float64s: no two-precision
    # agreement can decide it, exact arithmetic does (issue #12).
    c = _case("4 t + 7", [{"t": 0.7}])
    exact = 4 * Fraction(0.7) + 7
    assert float(_numbers(c)[0]) == float(exact) == 4 * 0.7 + 7
    lo, hi = math.nextafter(float(exact), 0), math.nextafter(float(exact), math.inf)
    assert (
        Fraction(lo) + Fraction(float(exact)) == 2 * exact
        or Fraction(hi) + Fraction(float(exact)) == 2 * exact
    )
    digits = rigorous_golden_of(c).grids["float64"].digits["value"][0]
    assert Fraction(str(digits)) == exact and exact_tie(str(digits), float(exact))


def test_a_ball_straddling_a_rounding_boundary_asks_for_precision() -> None:
    old, ctx.prec = ctx.prec, 53  # its lower end rounds outward to 1 - 2^-53, a float64 below 1
    try:
        with pytest.raises(NeedPrecision, match="straddles"):
            round_ball(arb(1) + arb("0 +/- 1e-17"), 30, "here")
    finally:
        ctx.prec = old


def test_a_ball_beyond_the_float64_range_stores_infinity() -> None:
    assert round_ball(arb(10) ** 400, 30, "here")[0] == math.inf
    assert round_ball(-(arb(10) ** 400), 30, "here")[0] == -math.inf


def test_a_value_below_the_float64_range_keeps_its_digits() -> None:
    # exp(-10^4) rounds to 0.0, yet its digits are known (the engine's golden holds them: verify
    # --rigorous compares digits, and "0" certified to 30 digits would be a false claim)
    g = rigorous_golden_of(_case("Exp[x]", [{"x": -1e4}])).grids["float64"]
    assert g.numbers["value"][0] == 0.0 and not np.signbit(g.numbers["value"][0])
    mpmath.mp.dps = 40
    try:
        exact = Decimal(str(mpmath.exp(-10000)))
        assert abs(Decimal(str(g.digits["value"][0])) / exact - 1) < Decimal("1e-30")
    finally:
        mpmath.mp.dps = 15
    assert g.certified["value"][0] == 30


def test_certified_digits_come_from_the_radius() -> None:
    old, ctx.prec = ctx.prec, 200
    try:
        f, digits, n = round_ball(arb(1) / 3, 30, "here")
    finally:
        ctx.prec = old
    assert f == 1 / 3 and n == 30 and digits.startswith("0.3333333333")


# --- values, derivatives, singularities ----------------------------------------------------


def test_removable_singularities_are_limits() -> None:
    c = _case("Sin[Pi x]/(Pi x)", [{"x": 0.0}], order=2)
    g = rigorous_golden_of(c).grids["float64"].numbers
    assert g["value"][0] == 1.0 and g["grad/x"][0] == 0.0
    assert g["hessian"][0, 0, 0] == pytest.approx(-(math.pi**2) / 3, rel=1e-15)
    c2 = _case("(1 - Cos[x])/x^2", [{"x": 0.0}])
    assert rigorous_golden_of(c2).grids["float64"].numbers["value"][0] == 0.5


def test_a_pole_is_refused_by_name() -> None:
    c = _case("1/x", [{"x": 0.0}])
    with pytest.raises(
        EvaluationError,
        match=r"case t, evaluation point 0 \(x=0.0\): the expression has a pole here \(division by 0 "
        r"\(a pole\)\); move the point, or state what torch must give there for every quantity the "
        r"golden holds \(then compared exactly\) with expect=\{0: \{'value': ..., 'grad/x': ..., 'hessian': "
        r"...\}\}",
    ):
        rigorous_golden_of(c)
    partial = _case("Gamma[x]", [{"x": 1.5}, {"x": -2.0}], expect={1: {"value": "nan"}})
    with pytest.raises(
        EvaluationError,
        match=r"pole here \(Gamma has a pole at -2.0.*expect=\{1: \{'grad/x': ..., 'hessian': ...\}\}",
    ):
        rigorous_golden_of(partial)


def test_a_declared_pole_holds_no_reference_and_is_checked_as_declared() -> None:
    from gradgold.check import check_golden
    from gradgold.generation.verify import _number_findings

    expect = {1: {"value": "inf", "grad/x": "-inf"}}
    c = _case("1/x", [{"x": 2.0}, {"x": 0.0}], expect=expect, dtypes=["float64"], order=1)
    c = dataclasses.replace(c, fn=lambda x: 1 / x)
    g = rigorous_golden_of(c)
    data = g.grids["float64"]
    assert data.numbers["value"].tolist() == [0.5, 0.0] and data.numbers["grad/x"].tolist() == [-0.25, 0.0]
    assert data.digits["value"][1] == "0" and data.certified["value"][1] == 0  # claims nothing
    assert all(r.passed for r in check_golden(c, g, "float64", mode="reverse"))
    for q in ("value", "grad/x"):  # offline verification does not ask a declared result for digits
        assert _number_findings(c, Path("g.npz"), "float64", q, data) == []
    wrong = dataclasses.replace(c, expect={1: {"value": "inf", "grad/x": "inf"}})
    failed = [r for r in check_golden(wrong, g, "float64", mode="reverse") if not r.passed]
    assert [(r.point, r.quantity) for r in failed] == [(1, "grad/x")]


def test_a_zero_product_is_exactly_zero() -> None:
    # issue #12: the engine refused this with "the exact value is not 0"
    c = _case("Total[x] x[[1]] x[[2]] x[[3]]", [{"x": [0.0, 0.0, 0.0, 1.5]}])
    g = rigorous_golden_of(c).grids["float64"]
    assert g.numbers["value"][0] == 0.0 and g.certified["value"][0] == 30
    assert g.numbers["grad/x"][0].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_derivatives_match_closed_forms() -> None:
    c = _case("x^3 y + Exp[y]", [{"x": 1.5, "y": 0.25}], order=2, projections=2)
    g = rigorous_golden_of(c).grids["float64"].numbers
    x, y = 1.5, 0.25
    assert g["grad/x"][0] == 3 * x**2 * y and g["grad/y"][0] == x**3 + math.exp(y)
    assert g["hessian"][0].tolist() == [[6 * x * y, 3 * x**2], [3 * x**2, math.exp(y)]]
    v = c.directions()
    assert g["proj/grad"][0] == pytest.approx(v @ [3 * x**2 * y, x**3 + math.exp(y)], rel=1e-15)


def test_a_value_beyond_float64_is_stored_as_infinity(tmp_path: Path) -> None:
    # issue #12: the case is otherwise fine; the golden holds the infinity round-to-nearest gives,
    # with digits that say so (the loader refuses an infinity anywhere else: test_hostile_goldens)
    c = _case("Exp[x] - Exp[-x]", [{"x": 1000.0}, {"x": 1.0}])
    g = rigorous_golden_of(c)
    write_golden(tmp_path / "g.npz", g)
    data = read_golden(tmp_path / "g.npz").grids["float64"]
    assert data.numbers["value"].tolist() == [math.inf, math.exp(1) - math.exp(-1)]
    assert data.numbers["grad/x"][0] == math.inf and Fraction(str(data.digits["value"][0])) > 2**1024
    assert data.certified["value"][0] >= c.min_digits
    neg = rigorous_golden_of(_case("-Exp[x]", [{"x": 710.0}])).grids["float64"].numbers
    assert neg["value"][0] == -math.inf and neg["grad/x"][0] == -math.inf


def test_piecewise_refuses_a_point_on_its_boundary() -> None:
    c = _case("Piecewise[{{x^2, x < 1}}, 2 x]", [{"x": 1.0}])
    with pytest.raises(EvaluationError, match="within 1e-10 of a Piecewise/If boundary"):
        rigorous_golden_of(c)
    assert _numbers(_case("Piecewise[{{x^2, x < 1}}, 2 x]", [{"x": 0.5}]))[0] == 0.25


def test_unknown_heads_are_named() -> None:
    assert "does not implement FooBar" in support_problem(_case("FooBar[x]", [{"x": 1.0}]))
    with pytest.raises(RigorousUnsupported, match="does not implement FooBar"):
        rigorous_golden_of(_case("FooBar[x]", [{"x": 1.0}]))
    # a head it knows for real arguments only is handed to the engine for a complex one
    with pytest.raises(RigorousUnsupported, match=r"does not implement Zeta \(of a complex argument\)"):
        rigorous_golden_of(_case("Zeta[z]", [{"z": 2 + 1j}]))
    with pytest.raises(
        RigorousUnsupported, match=r"does not implement I \(the imaginary unit in a case with real"
    ):
        rigorous_golden_of(_case("Re[Exp[I x]]", [{"x": 1.0}]))


# --- complex cases: the real Jacobian of the real and imaginary parts ----------------------


def test_complex_values_and_their_real_jacobian() -> None:
    assert support_problem(_case("Exp[z]", [{"z": 1 + 2j}])) == ""
    x, y = 0.5, 0.25
    g = rigorous_golden_of(_case("z^2", [{"z": complex(x, y)}], order=2)).grids["float64"].numbers
    assert g["value"][0].tolist() == [x * x - y * y, 2 * x * y]  # (Re, Im)
    # d(Re, Im)/d(Re z, Im z): the Cauchy-Riemann pair of f' = 2 z
    assert g["grad/z"][0].tolist() == [[2 * x, -2 * y], [2 * y, 2 * x]]
    assert g["hessian"][0].tolist() == [[[2, 0], [0, -2]], [[0, 2], [2, 0]]]
    # not holomorphic: |z|^2 is real (complex_output=False drops the imaginary axis)
    r = rigorous_golden_of(_case("Abs[z]^2 + Re[z] Im[Conjugate[z]]", [{"z": 3 + 4j}], complex_output=False))
    assert r.grids["float64"].numbers["value"][0] == 25 - 12
    assert r.grids["float64"].numbers["grad/z"][0].tolist() == [6 - 4, 8 - 3]


def test_a_point_on_a_branch_cut_is_refused_by_name() -> None:
    with pytest.raises(
        EvaluationError, match=r"on or within 1e-10 of the branch cut of Log .* move the point"
    ):
        rigorous_golden_of(_case("Log[z]", [{"z": -2 + 0j}]))
    with pytest.raises(EvaluationError, match=r"branch cut of Sqrt \(Abs, Sign or Arg of a complex argument"):
        rigorous_golden_of(_case("Abs[z]", [{"z": 0j}], complex_output=False))


def test_a_complex_value_declared_real_is_refused() -> None:
    c = _case("z^2", [{"z": 1 + 1j}], complex_output=False)
    with pytest.raises(
        EvaluationError, match="declares complex_output=False but the value has imaginary part"
    ):
        rigorous_golden_of(c)


def test_domain_errors_are_refused_not_guessed() -> None:
    with pytest.raises(EvaluationError, match=r"Log is not real .* at -2.0"):
        rigorous_golden_of(_case("Log[x]", [{"x": -2.0}]))


# --- verify --rigorous ---------------------------------------------------------------------


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return seed_project(tmp_path)


def _verify(root: Path, *ids: str) -> subprocess.CompletedProcess[str]:
    return gradgold_cli(root, "verify", "--rigorous", *ids, timeout=300)


def test_verify_rigorous_passes_the_committed_seed_goldens(seed: Path) -> None:
    run = _verify(seed)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "evaluator: gradgold rigorous" in run.stdout and " 0 failure(s)" in run.stdout


def test_verify_rigorous_fails_a_consistently_forged_golden(seed: Path) -> None:
    """Floats and digits changed together (the offline checks all pass): only recomputation sees it."""
    path = next((seed / "golden" / "seed").glob("*.npz"))
    case_id = f"seed/{path.stem}"
    g = read_golden(path)
    data = g.grids["float64"]
    forged_value = np.nextafter(data.numbers["value"], np.inf)
    digits = np.array([repr(float(v)) for v in forged_value.ravel()]).reshape(forged_value.shape)
    certified = np.full(forged_value.shape, 20, dtype=np.int16)
    grid = type(data)(
        inputs=data.inputs,
        numbers=dict(data.numbers) | {"value": forged_value},
        digits=dict(data.digits) | {"value": digits},
        certified=dict(data.certified) | {"value": certified},
    )
    write_golden(path, Golden(meta=g.meta, grids=dict(g.grids) | {"float64": grid}, directions=g.directions))
    offline = gradgold_cli(seed, "verify", "--offline", case_id)
    assert offline.returncode == 0, offline.stdout  # internally consistent: offline cannot tell
    run = _verify(seed, case_id)
    assert run.returncode == 1, run.stdout
    assert "is not the proven correct rounding" in run.stdout and "golden is wrong or forged" in run.stdout


# --- what the engine's two-precision certificate struggles with ----------------------------


@pytest.mark.parametrize(
    ("wolfram", "x", "reference"),
    [
        ("Sin[x]", 1e30, lambda x: mpmath.sin(x)),
        ("(1 - Cos[x])/x^2", 1e-8, lambda x: (1 - mpmath.cos(x)) / x**2),
        ("Log[1 + x]", 1e-30, lambda x: mpmath.log1p(x)),
        ("Exp[x] - 1", 1e-300, lambda x: mpmath.expm1(x)),
        ("Exp[x] - 1 - x", 1e-12, lambda x: mpmath.expm1(x) - x),
        ("Hypergeometric2F1[1/2, 1/3, 2, x]", 0.25, lambda x: mpmath.hyp2f1(0.5, mpmath.mpf(1) / 3, 2, x)),
        ("Zeta[x]", 3.0, lambda x: mpmath.zeta(x)),
        ("Log[Abs[Gamma[x]]]", -30.5, lambda x: mpmath.log(abs(mpmath.gamma(x)))),
        ("PolyGamma[1, x]", 1e15, lambda x: mpmath.polygamma(1, x)),
    ],
)
def test_hard_values_and_derivatives_are_the_correct_roundings(
    wolfram: str, x: float, reference: Any
) -> None:
    mpmath.mp.prec = 400
    try:
        xm = mpmath.mpf(Fraction(x).numerator) / Fraction(x).denominator
        g = rigorous_golden_of(_case(wolfram, [{"x": x}], dtypes=["float64"])).grids["float64"].numbers
        assert g["value"][0] == float(reference(xm))
        assert g["grad/x"][0] == float(mpmath.diff(reference, xm))
    finally:
        mpmath.mp.prec = 53


def test_a_derivative_in_a_parameter_that_must_be_constant_is_refused() -> None:
    c = _case("Hypergeometric2F1[x, 1/3, 3/2, 1/5]", [{"x": 0.5}])
    with pytest.raises(EvaluationError, match="must not depend on the inputs"):
        rigorous_golden_of(c)


def test_regenerating_keeps_the_bytes_of_goldens_whose_numbers_agree(seed: Path) -> None:
    """The committed seed goldens were made by the engine; regenerated by the rigorous evaluator
    (strategy="auto") with the same float64s, they keep their bytes (and the engine's record)."""
    before = {p: p.read_bytes() for p in (seed / "golden" / "seed").glob("*.npz")}
    run = gradgold_cli(seed, "generate", "--force", "-v", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "unchanged  seed/matrix_norm" in run.stdout and "[rigorous]" in run.stdout
    assert "0 generated, 4 unchanged" in run.stdout
    assert {p: p.read_bytes() for p in before} == before


def test_strategy_rigorous_fails_a_case_it_cannot_do_by_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.gradgold]\ngolden_dir = "golden"\n')
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "r.py").write_text(
        "import gradgold as gg\n\n"
        '@gg.case(wolfram="StruveH[0, x]", points=[{"x": 1.0}], strategy="rigorous")\n'
        "def struve(x):\n    return x\n\n"
        '@gg.case(wolfram="4 t + 7", points=[{"t": 0.7}], strategy="rigorous")\n'
        "def tie(t):\n    return 4 * t + 7\n"
    )
    run = gradgold_cli(tmp_path, "generate", "-v", timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "the rigorous evaluator does not implement StruveH; use strategy='auto' (the engine)" in run.stdout
    assert "engine:" not in run.stdout  # no kernel was started
    golden = read_golden(tmp_path / "golden" / "r" / "tie.npz")
    assert golden.meta.evaluator == "rigorous" and golden.grids["float64"].numbers["value"][0] == 4 * 0.7 + 7
    check = gradgold_cli(tmp_path, "verify", "--offline", "r/tie")
    assert check.returncode == 0, check.stdout  # the exact tie passes the offline rounding rule


# --- one pass for all inputs ----------------------------------------------------------------


def test_one_jet_pass_gives_what_the_directional_passes_give() -> None:
    """Gradient and Hessian (and the magnitude pass's majorants) in one pass of jets enclose the
    same numbers as one directional pass per input or pair of inputs (polarization)."""
    from gradgold.generation.rigorous.derivatives import Passes, jet_tensors, tensor_balls
    from gradgold.generation.rigorous.magnitude import _MajorantPasses
    from gradgold.generation.rigorous.reference import held_tree

    wl = "Tanh[x . y] + Exp[x[[1]]] Abs[y[[2]]] + Max[x[[2]], y[[1]]]^2/(1 + x[[1]]^2) + Log[y[[1]]] x[[2]]"
    c = _case(wl, [{"x": [0.5, -0.25], "y": [0.75, 0.0]}], order=2)
    tree, point = held_tree(c), c.points[0]
    old, ctx.prec = ctx.prec, 200
    try:
        for runner in (Passes, _MajorantPasses):
            jets = jet_tensors(tree, c, point, 1, runner.majorant)
            for k in (1, 2):
                passes = tensor_balls(runner(tree, c, point, 0), k)
                assert len(jets[k]) == len(passes) == 4**k
                for e, (ours, theirs) in enumerate(zip(jets[k], passes, strict=True)):
                    assert ours[0].rad() < 1e-50 and ours[0].overlaps(theirs[0]), (runner, k, e)
        # a removable singularity at the point needs directional passes (limits): no jet pass
        sinc = _case("Sin[Pi x]/(Pi x)", [{"x": 0.0}], order=2)
        assert jet_tensors(held_tree(sinc), sinc, sinc.points[0], 1) == {}
    finally:
        ctx.prec = old


def test_a_first_order_jet_pass_carries_sparse_rows_with_the_dense_rows_balls() -> None:
    """Order 1: gradient rows hold only their nonzero entries (O(N) balls for Total[Sin[x]] where a
    dense row costs O(N^2)), and Total and a vector Dot add them in place; every entry, majorants
    included, is the dense rows' left fold's ball exactly."""
    from flint import arb_mat

    from gradgold.generation.rigorous import derivatives
    from gradgold.generation.rigorous.reference import held_tree

    wl = "Tanh[x . y] + Exp[x[[1]]] Abs[y[[2]]] + Max[x[[2]], y[[1]]]^2/(1 + x[[1]]^2) + Total[Sin[x]]"
    c = _case(wl, [{"x": [0.5, -0.25], "y": [0.75, 0.0]}], order=1)
    tree, point = held_tree(c), c.points[0]
    sparse = [derivatives.jet_tensors(tree, c, point, 1, majorant) for majorant in (False, True)]
    real = derivatives.SparseRow
    derivatives.SparseRow = lambda entries: arb_mat(1, 4, [int(j in entries) for j in range(4)])  # type: ignore[misc, assignment]
    try:
        dense = [derivatives.jet_tensors(tree, c, point, 1, majorant) for majorant in (False, True)]
    finally:
        derivatives.SparseRow = real  # type: ignore[misc]
    for ours, theirs in zip(sparse, dense, strict=True):
        assert len(ours[1]) == 4
        for a, b in zip(ours[1], theirs[1], strict=True):
            assert a[0].mid() == b[0].mid() and a[0].rad() == b[0].rad()
