"""Complex inputs and outputs: declaration, the generator's real Jacobian (checked against mpmath),
the checker in complex128/complex64 in every mode, torch's gradient convention, and the errors.

The generator differentiates with respect to the real and imaginary parts of each complex input;
the golden holds real and imaginary parts along a last axis of 2. These tests regenerate a small
suite with the embedded engine once per module.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import mpmath as mp
import numpy as np
import pytest
import torch

import gradgold as gg
from conftest import embedded_suite, gradgold_here
from gradgold.check import check_golden, run_checks
from gradgold.errors import CaseError
from gradgold.generation.wlprogram import bound_value, build_program
from gradgold.golden import Golden, read_golden
from gradgold.suite import find_project, load_cases

CASES = """
import torch
import gradgold as gg

Z = gg.uniform(-1, 1, shapes={"z": ()}, n=3, seed=1, complex=True)
ZV = gg.uniform(-1, 1, shapes={"z": (3,)}, n=2, seed=2, complex=True)


@gg.case(
    "Exp[z] Sin[z]",
    points=Z,
    normwise=(
        "complex64: Re f'(z) at point 0 is 0.00157, a difference of complex-product terms of about 0.2; "
        "torch's error, 2.1e-8, is 0.17 float32 ULPs of those terms (no magnitude stored for complex cases)"
    ),
)
def holo(z):
    return torch.exp(z) * torch.sin(z)


@gg.case(
    "Abs[z]^2",
    points=Z,
    complex_output=False,
    order=2,
    normwise="the zero cross terms d2/dRe dIm come out of complex products as differences of equal "
    "products: 1 ULP of max|ref| (as golden/complex.py's sum_abs2)",
)
def abs2(z):
    return z.abs() ** 2


@gg.case("Abs[z]", points=Z)
def absval(z):
    return z.abs()


@gg.case("Arg[z]", points=Z, complex_output=False)
def angle(z):
    return torch.angle(z)


@gg.case("Conjugate[z] Exp[z]", points=Z)
def conjexp(z):
    return z.conj() * torch.exp(z)


@gg.case("Sqrt[z] + Log[z]", points=[{"z": 0.5 + 0.3j}, {"z": -0.25 + 0.75j}])
def sqrtlog(z):
    return torch.sqrt(z) + torch.log(z)


@gg.case(
    "Total[Abs[z - w]^2]/3",
    points=[{"z": p["z"], "w": [0.5, -0.25j, 1 + 1j]} for p in ZV],
    complex_output=False,
)
def mse(z, w):
    return (z - w).abs().pow(2).mean()


@gg.case("r Exp[I t]", points=[{"r": 1.5, "t": 0.25}, {"r": 0.5, "t": -2.0}], complex_output=True)
def polar(r, t):
    return torch.polar(r, t)


@gg.case("Re[z] Im[z]^2 + Abs[Sin[z]]", points=Z, complex_output=False, strategy="substituted")
def mixed(z):
    return z.real * z.imag**2 + torch.sin(z).abs()


@gg.case("z^2", points=Z, complex_output=False)
def not_real(z):
    return z * z


@gg.case("Log[z]", points=[{"z": 0.5 + 0.25j}, {"z": -1.0 + 0j}])
def log_on_cut(z):
    return torch.log(z)


@gg.case("ArcSin[z]", points=[{"z": 2.0 + 0j}])
def asin_on_cut(z):
    return torch.asin(z)


@gg.case("Abs[z]", points=[{"z": 0j}], complex_output=False)
def abs_at_zero(z):
    return z.abs()
"""

#: The same functions in mpmath, for an independent reference.
MP: dict[str, Any] = {
    "holo": lambda z: mp.exp(z[0]) * mp.sin(z[0]),
    "abs2": lambda z: abs(z[0]) ** 2,
    "absval": lambda z: abs(z[0]),
    "angle": lambda z: mp.arg(z[0]),
    "conjexp": lambda z: mp.conj(z[0]) * mp.exp(z[0]),
    "sqrtlog": lambda z: mp.sqrt(z[0]) + mp.log(z[0]),
    "mixed": lambda z: mp.re(z[0]) * mp.im(z[0]) ** 2 + abs(mp.sin(z[0])),
}
GOOD = [*MP, "mse", "polar"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("complex")
    run = embedded_suite(root, "cx", CASES)
    return root, run


def _golden(root: Path, name: str) -> Golden:
    return read_golden(root / "golden" / "cx" / f"{name}.npz")


def _case(root: Path, name: str) -> gg.Case:
    return next(c for c in load_cases(find_project(root)) if c.name == name)


# ------------------------------------------------------------------------------ declaration


def _fn(z: torch.Tensor) -> torch.Tensor:
    return z


def test_complex_points_make_a_complex_parameter_held_as_real_pairs() -> None:
    c = gg.case("z", name="c", points=[{"z": [1 + 2j, 3.0]}])(_fn)
    assert c.complex_params == ("z",)
    assert c.shapes["z"] == (2, 2)
    assert c.points[0]["z"].tolist() == [[1.0, 2.0], [3.0, 0.0]]
    assert c.dtypes == ("complex128", "complex64")
    assert c.complex_output and c.is_complex and c.n_vars == 4
    real = gg.case("z", name="r", points=[{"z": [1.0, 3.0]}])(_fn)
    assert real.complex_params == () and real.dtypes == ("float64", "float32")
    assert (
        real.fingerprint()
        != gg.case("z", name="r", points=[{"z": [1.0, 3.0]}], complex_output=True)(_fn).fingerprint()
    )


def test_uniform_complex_draws_both_parts_and_leaves_real_draws_unchanged() -> None:
    real = gg.uniform(-1, 1, shapes={"z": (2,)}, n=2, seed=7)
    cplx = gg.uniform(-1, 1, shapes={"z": (2,)}, n=2, seed=7, complex=True)
    assert [p["z"].real.tolist() for p in cplx] == [p["z"].tolist() for p in real]
    imag = np.concatenate([p["z"].imag for p in cplx])
    assert np.all(imag != 0) and np.array_equal(imag.astype(np.float32).astype(np.float64), imag)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"points": [{"z": 1j}], "dtypes": ["float64"]},
            "input 'z' is complex but dtypes= names 'float64'; complex inputs are checked in "
            "['complex128', 'complex64']",
        ),
        (
            {"points": [{"z": 1.0}], "dtypes": ["complex128"]},
            "dtypes= names a complex dtype but every input is real; give complex points (e.g. 1+2j, or "
            "gg.uniform(..., complex=True)), or for a complex-valued function of real inputs keep real "
            "dtypes and declare complex_output=True",
        ),
        ({"points": [{"z": "1+j"}]}, "point 0: z='1+j' is not a real number or array"),
        ({"points": [{"z": 1j}, {"z": "x"}]}, "point 1: z='x' is not a complex number or array"),
        ({"points": [{"z": complex("nan+1j")}]}, "point 0: z holds a non-finite number"),
        ({"points": {"z": 1j}}, "points= must be a list of mappings, e.g. points=[{...}]"),
    ],
)
def test_complex_declaration_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(CaseError, match="case 'c'") as err:
        gg.case("z", name="c", **kwargs)(_fn)
    assert message in str(err.value)


def test_a_complex_parameter_is_bound_to_re_plus_i_im_of_real_symbols() -> None:
    c = gg.case("Total[z]", name="c", points=[{"z": [1j, 2.0]}])(_fn)
    assert bound_value(c, "z") == "{(gg$z$1$1 + I gg$z$1$2), (gg$z$2$1 + I gg$z$2$2)}"
    text = build_program(c, list(c.points)).text
    assert "ggV = {gg$z$1$1, gg$z$1$2, gg$z$2$1, gg$z$2$2};" in text
    assert "gg$z$1$2 -> 1" in text and "ggRI[N[ggE, 30]]" in text
    real = gg.case("Total[z]", name="r", points=[{"z": [1.0, 2.0]}])(_fn)
    assert "ggRI" not in build_program(real, list(real.points)).text  # real programs are unchanged


# ------------------------------------------------------------------------------ the generator


def test_generation_succeeds_except_the_case_declared_real_that_is_not(
    suite: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, run = suite
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{len(GOOD)} generated, 0 unchanged, 0 skipped, 4 failed" in run.stdout
    # Made by the rigorous evaluator (complex balls); the imaginary part is -0.518645754675674...
    assert (
        "case cx/not_real, evaluation point 0 (z=[-0.5940697193145752, 0.4365192651748657]): the case "
        "declares complex_output=False but the value has imaginary part [-0.51865 +/- "
    ) in run.stdout
    assert (
        "remove complex_output=False, or fix the wolfram= expression (e.g. Abs[z]^2, not z^2)" in run.stdout
    )
    assert not (root / "golden" / "cx" / "not_real.npz").exists()


@pytest.mark.parametrize("name", list(MP))
def test_goldens_agree_with_mpmath_to_25_digits(suite: tuple[Path, Any], name: str) -> None:
    """Value and real Jacobian, as decimal digits, against mpmath's own derivatives along the real
    and imaginary parts (independent of Mathics3's complex arithmetic)."""
    root, _ = suite
    g = _golden(root, name)
    data = g.grids["float64"]
    mp.mp.dps = 50
    for i in range(data.n_points):
        x, y = (mp.mpf(float(v)) for v in data.inputs["z"][i])

        def f(a: Any, b: Any) -> Any:
            return mp.mpc(MP[name]([mp.mpc(a, b)]))

        val = f(x, y)
        dx = mp.diff(lambda a, y=y: f(a, y), x)
        dy = mp.diff(lambda b, x=x: f(x, b), y)
        if g.meta.complex_output:
            want_v = [val.real, val.imag]
            want_j = [[dx.real, dy.real], [dx.imag, dy.imag]]
        else:
            want_v, want_j = val.real, [dx.real, dy.real]
        for quantity, want in (("value", want_v), ("grad/z", want_j)):
            digits = np.asarray(data.digits[quantity][i]).reshape(-1)
            for got, ref in zip(digits, np.asarray(want, dtype=object).reshape(-1), strict=True):
                assert abs(mp.mpf(str(got)) - ref) <= mp.mpf(10) ** -25 * max(1, abs(ref)), (
                    name,
                    i,
                    quantity,
                )


@pytest.mark.parametrize(
    ("name", "where"),
    [
        (
            "log_on_cut",
            "evaluation point 1 (z=[-1.0, 0.0]): the point is on or within 1e-10 of the branch cut of Log",
        ),
        (
            "asin_on_cut",
            "evaluation point 0 (z=[2.0, 0.0]): the point is on or within 1e-10 of the branch cut of ArcSin",
        ),
        (
            "abs_at_zero",
            "evaluation point 0 (z=[0.0, 0.0]): the point is on or within 1e-10 of the branch cut of",
        ),
    ],
)
def test_a_point_on_a_branch_cut_is_refused(suite: tuple[Path, Any], name: str, where: str) -> None:
    root, run = suite
    lines = [line for line in run.stdout.splitlines() if f"case cx/{name}," in line]
    # The rigorous evaluator refuses the point as a whole; the engine's program names the quantity too.
    assert lines and where in lines[0].replace(", quantity value, index ()", ""), run.stdout
    assert lines[0].endswith(
        "where the function has no complex derivative; move the point off the cut (Log, Sqrt and "
        "fractional powers: the negative real axis; Abs and Sign of a complex w are Sqrt[w Conjugate[w]]: "
        "w = 0)"
    )
    assert not (root / "golden" / "cx" / f"{name}.npz").exists()


def test_the_golden_records_complex_inputs_and_outputs(suite: tuple[Path, Any]) -> None:
    root, _ = suite
    holo, abs2, polar = _golden(root, "holo"), _golden(root, "abs2"), _golden(root, "polar")
    assert holo.meta.complex == ("z",) and holo.meta.complex_output is True
    assert holo.grids["float64"].numbers["value"].shape == (3, 2)
    assert holo.grids["float64"].numbers["grad/z"].shape == (3, 2, 2)
    assert not abs2.meta.complex_output and abs2.grids["float64"].numbers["hessian"].shape == (3, 2, 2)
    assert not polar.meta.complex and polar.meta.complex_output is True
    assert polar.grids["float64"].numbers["grad/r"].shape == (2, 2)


def test_the_mathics_leak_to_mpmaths_global_precision_is_closed(suite: tuple[Path, Any]) -> None:
    """|sin z| via Sqrt[Sin[z] Sin[conj z]] came back right to 16 digits only, labelled 40, before the
    embedded kernel raised mpmath's global precision: the digits must be right far beyond float64."""
    root, _ = suite
    data = _golden(root, "mixed").grids["float64"]
    mp.mp.dps = 60
    x, y = (mp.mpf(float(v)) for v in data.inputs["z"][0])
    z = mp.mpc(x, y)
    exact = mp.re(mp.conj(mp.sin(z)) * mp.cos(z)) / abs(mp.sin(z)) + y**2  # d/dRe z, analytically
    assert abs(mp.mpf(str(data.digits["grad/z"][0][0])) - exact) < mp.mpf(10) ** -28


# ------------------------------------------------------------------------------ the checker


def test_every_case_passes_in_complex128_and_complex64_in_every_mode(suite: tuple[Path, Any]) -> None:
    root, _ = suite
    project = find_project(root)
    cases = [c for c in load_cases(project) if c.name in GOOD]
    checks = run_checks(project, cases)
    assert len(checks) == len(GOOD) * 2 * 4
    assert {c.dtype for c in checks} == {"complex128", "complex64", "float64", "float32"}
    failed = [
        f"{c.case_id} {c.label}: {c.problem or [r.message for r in c.results if not r.passed]}"
        for c in checks
        if not c.passed
    ]
    assert not failed
    # complex cases hold first derivatives (order 2 by default is for real cases), so double_backward,
    # which would check no second derivative, is reported as not applicable
    skipped = [c for c in checks if c.status != "PASS"]
    assert all(c.status == "SKIP" and c.mode == "double_backward" for c in skipped), skipped
    assert all("second derivative" in (c.skipped or "") for c in skipped), skipped


def test_requested_dtypes_apply_to_cases_of_their_kind(suite: tuple[Path, Any]) -> None:
    root, _ = suite
    project = find_project(root)
    cases = [c for c in load_cases(project) if c.name in ("holo", "polar")]
    checks = run_checks(project, cases, dtypes=["complex64", "float64"], modes=["reverse"])
    assert [(c.case_id, c.dtype) for c in checks] == [("cx/holo", "complex64"), ("cx/polar", "float64")]


class _ExpForgettingConj(torch.autograd.Function):
    """exp(z) whose backward multiplies by exp(z) instead of its conjugate: a typical complex bug."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor) -> torch.Tensor:
        out = torch.exp(z)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return g * out


def test_a_backward_that_forgets_the_conjugate_fails(suite: tuple[Path, Any]) -> None:
    root, _ = suite
    case, golden = _case(root, "holo"), _golden(root, "holo")

    def buggy(z: torch.Tensor) -> torch.Tensor:
        return _ExpForgettingConj.apply(z) * torch.sin(z)  # type: ignore[no-any-return]

    results = check_golden(case, golden, "complex128", fn=buggy)
    assert [r.quantity for r in results if not r.passed] == ["grad/z"] * 3
    message = next(r.message for r in results if not r.passed)
    assert message.startswith(
        "cx/holo [complex128-reverse], point 0, d/dz: torch and the exact reference are not close!"
    )
    assert "Inputs: z=(-0.5940697193145752+0.4365192651748657j)" in message
    assert all(r.passed for r in check_golden(case, golden, "complex128"))


def test_torchs_gradient_of_a_real_function_is_d_dre_plus_i_d_dim(suite: tuple[Path, Any]) -> None:
    """The convention README documents: for real L(z), z.grad = dL/dRe z + i dL/dIm z (twice the
    conjugate Wirtinger derivative dL/dz-bar); checked on the leaf itself, not through the view."""
    root, _ = suite
    data = _golden(root, "abs2").grids["float64"]
    for i in range(data.n_points):
        z = torch.view_as_complex(torch.tensor(data.inputs["z"][i])).requires_grad_(True)
        (grad,) = torch.autograd.grad(z.abs() ** 2, z)
        d_re, d_im = data.numbers["grad/z"][i]
        assert grad.item() == pytest.approx(complex(d_re, d_im), rel=1e-14)
        assert grad.item() == pytest.approx(2 * z.detach().item(), rel=1e-14)  # 2 dL/dz-bar = 2 z


def test_torchs_vjp_of_a_holomorphic_function_is_the_conjugate_derivative(suite: tuple[Path, Any]) -> None:
    """For holomorphic f, backward with grad_output g gives g * conj(f'(z)); f' = dRe f/dx + i dIm f/dx."""
    root, _ = suite
    data = _golden(root, "holo").grids["float64"]
    for i in range(data.n_points):
        z = torch.view_as_complex(torch.tensor(data.inputs["z"][i])).requires_grad_(True)
        g = torch.tensor(0.5 - 2.0j, dtype=torch.complex128)
        (grad,) = torch.autograd.grad(torch.exp(z) * torch.sin(z), z, grad_outputs=g)
        jac = data.numbers["grad/z"][i]  # [[dRe/dx, dRe/dy], [dIm/dx, dIm/dy]]
        derivative = complex(jac[0][0], jac[1][0])
        assert grad.item() == pytest.approx(g.item() * derivative.conjugate(), rel=1e-13)


@pytest.mark.parametrize(
    ("name", "fn", "dtype", "error"),
    [
        (
            "abs2",
            lambda z: z * z.conj(),
            "complex128",
            "the torch function returned torch.complex128, but the case declares complex_output=False (a "
            "real-valued function): return a real tensor (e.g. .abs() or .real), or remove "
            "complex_output=False and regenerate",
        ),
        (
            "holo",
            lambda z: torch.exp(z).to(torch.complex64),
            "complex128",
            "the torch function returned torch.complex64 for complex128 inputs, expected torch.complex128: "
            "it must compute in the input dtype, or the check of that dtype means nothing",
        ),
    ],
)
def test_output_kind_errors(suite: tuple[Path, Any], name: str, fn: Any, dtype: str, error: str) -> None:
    root, _ = suite
    results = check_golden(_case(root, name), _golden(root, name), dtype, fn=fn)
    assert results and all(not r.passed for r in results)
    assert results[0].error == error
    assert results[0].message.startswith(f"cx/{name} [{dtype}-reverse], point 0, value: {error}\nInputs: z=(")


def test_a_complex_result_of_real_inputs_needs_complex_output(tmp_path: Path) -> None:
    from gradgold.check import _output_problem

    problem = _output_problem(
        torch.polar(
            torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
        ).requires_grad_(),
        (),
        torch.float64,
    )
    assert problem == (
        "the torch function returned torch.complex128 for torch.float64 inputs: it must compute in the "
        "input dtype, or the check of that dtype means nothing; for a complex-valued function of real "
        "inputs, declare complex_output=True on the case"
    )


# ------------------------------------------------------------------------------ the built-in suite

BUILT_IN = Path(__file__).resolve().parents[1] / "golden" / "complex"

#: The scalar cases of golden/complex.py, in mpmath.
SCALAR: dict[str, Any] = {
    "exp": mp.exp,
    "log": mp.log,
    "sqrt": mp.sqrt,
    "sin": mp.sin,
    "cos": mp.cos,
    "tan": mp.tan,
    "sinh": mp.sinh,
    "tanh": mp.tanh,
    "reciprocal": lambda z: 1 / z,
    "square": lambda z: z**2,
    "pow-2.5": lambda z: z ** mp.mpf(2.5),
    "sigmoid": lambda z: 1 / (1 + mp.exp(-z)),
    "log1p": lambda z: mp.log(1 + z),
    "expm1": mp.expm1,
    "asin": mp.asin,
    "atan": mp.atan,
    "exp-sin-order2": lambda z: mp.exp(z) * mp.sin(z),
    "conj_mul": lambda z: mp.conj(z) * mp.exp(z),
    "abs": abs,
    "angle": mp.arg,
    "real_imag": lambda z: mp.re(z) + 2 * mp.im(z),
}


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_built_in_complex_goldens_agree_with_mpmath(name: str) -> None:
    """golden/complex.py's scalar cases: value and real Jacobian at 25 digits, from mpmath alone."""
    g = read_golden(BUILT_IN / f"{name}.npz")
    data = g.grids["float64"]
    mp.mp.dps = 50
    for i in range(data.n_points):
        x, y = (mp.mpf(float(v)) for v in data.inputs["z"][i])

        def f(a: Any, b: Any) -> Any:
            return mp.mpc(SCALAR[name](mp.mpc(a, b)))

        val = f(x, y)
        dx = mp.diff(lambda a, y=y: f(a, y), x)
        dy = mp.diff(lambda b, x=x: f(x, b), y)
        if g.meta.complex_output:
            want = {"value": [val.real, val.imag], "grad/z": [dx.real, dy.real, dx.imag, dy.imag]}
        else:
            want = {"value": [val.real], "grad/z": [dx.real, dy.real]}
        for quantity, refs in want.items():
            digits = np.asarray(data.digits[quantity][i]).reshape(-1)
            for k, (got, ref) in enumerate(zip(digits, refs, strict=True)):
                assert abs(mp.mpf(str(got)) - ref) <= mp.mpf(10) ** -25 * max(1, abs(ref)), (
                    name,
                    i,
                    quantity,
                    k,
                )


def test_show_prints_complex_inputs_as_complex_numbers(suite: tuple[Path, Any]) -> None:
    root, _ = suite
    run = gradgold_here(root, "show", "cx/holo")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[2] == (
        "complex numbers are shown as [real, imag] pairs; derivatives are along the real and imaginary "
        "part of z (the last axis of d/d<param>)"
    )
    assert lines[4] == "  point 0: inputs {'z': (-0.5940697193145752+0.4365192651748657j)}"
    certified = int(
        read_golden(root / "golden" / "cx" / "holo.npz").grids["float64"].certified["value"][0].min()
    )
    assert lines[5] == (  # the certified count is the golden's own (the evaluator that made it decides it)
        f"    value [-0.39428690729890353, 0.0434832656108973]  ({certified} digits certified)"
    )
