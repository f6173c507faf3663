"""Certified digits: expressions that cancel catastrophically are computed right or refused.

Mathics3's ``N[expr, 30]`` does no significance tracking (engines.md: one correct digit for
``Sin[10^30 + 1/3]``, the wrong sign for the derivative of ``(1 - Cos[x])/x^2`` at 1e-8). The
generator's two-precision agreement must catch every such case: each golden written here is
compared with mpmath at 80 digits, and each refusal must say why.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from conftest import embedded_suite
from gradgold.golden import read_golden

# strategy="symbolic": these cases test the engine (the rigorous evaluator is tested in test_rigorous.py)
CASES = """
import torch
import gradgold as gg

@gg.case(wolfram="Sin[x]", points=[{"x": 1e30}, {"x": 1e22}], strategy="symbolic")
def sin_huge(x):
    return torch.sin(x)

@gg.case(wolfram="(1 - Cos[x])/x^2", points=[{"x": 1e-8}, {"x": 0.5}], dtypes=["float64"],
         strategy="symbolic")
def cos_cancel(x):
    return (1 - torch.cos(x)) / x**2

@gg.case(wolfram="Log[1 + x]", points=[{"x": 1e-30}], strategy="symbolic")
def log1p_tiny(x):
    return torch.log1p(x)

@gg.case(wolfram="Hypergeometric2F1[1/2, 1/3, 2, x]", points=[{"x": 0.25}], dtypes=["float64"],
         strategy="symbolic")
def hyp2f1(x):
    return x  # the reference is what is tested here

@gg.case(wolfram="Exp[x] - 1", points=[{"x": 1e-300}], dtypes=["float64"], strategy="symbolic")
def expm1_underflow(x):
    return torch.expm1(x)

@gg.case(wolfram="Exp[x] - 1 - x", points=[{"x": 1e-12}], dtypes=["float64"], strategy="symbolic")
def expm1_cancel(x):
    return torch.expm1(x) - x
"""

MP = {
    "sin_huge": (lambda x: mpmath.sin(x)),
    "cos_cancel": (lambda x: (1 - mpmath.cos(x)) / x**2),
    "log1p_tiny": (lambda x: mpmath.log(1 + x)),
    "expm1_cancel": (lambda x: mpmath.exp(x) - 1 - x),
    "hyp2f1": (lambda x: mpmath.hyp2f1(mpmath.mpf(1) / 2, mpmath.mpf(1) / 3, 2, x)),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("certify")
    run = embedded_suite(root, "hard", CASES, jobs=1, timeout=300)
    return root, run.stdout


@pytest.mark.parametrize("name", sorted(MP))
def test_each_hard_case_is_right_or_refused(generated: tuple[Path, str], name: str) -> None:
    root, out = generated
    path = root / "golden" / "hard" / f"{name}.npz"
    if not path.exists():
        reasons = [line for line in out.splitlines() if f"case hard/{name}" in line and "failed" not in line]
        assert reasons, out
        assert "digits certified (N at 30 digits gave" in reasons[0]
        assert "below min_digits=20. The expression cancels catastrophically here" in reasons[0]
        return
    golden = read_golden(path)
    mpmath.mp.dps = 80
    for grid, data in golden.grids.items():
        for i, x in enumerate(data.inputs["x"]):
            xq = Fraction(float(x))
            xm = mpmath.mpf(xq.numerator) / xq.denominator
            value = MP[name](xm)
            grad = mpmath.diff(MP[name], xm)
            for got, want in ((data.digits["value"][i], value), (data.digits["grad/x"][i], grad)):
                err = abs(mpmath.mpf(str(got)) - want) / abs(want)
                assert err < mpmath.mpf(10) ** -20, (grid, i, got, want)


def test_cancellation_is_resolved_by_raising_the_working_precision(generated: tuple[Path, str]) -> None:
    """At 30 digits Mathics3 gets these wrong; the second precision exposes it, and the generator
    raises the working precision until the digits certify (their values are checked against mpmath
    above). Nothing uncertified is ever written."""
    root, out = generated
    for name in ("cos_cancel", "log1p_tiny", "expm1_cancel"):
        golden = read_golden(root / "golden" / "hard" / f"{name}.npz")
        assert golden.meta.precision == 30
        assert (golden.meta.working_precision or 0) > 30
    # Sine of a huge argument is reduced exactly by Mathics3's mpmath backend: certified at 30.
    assert read_golden(root / "golden" / "hard" / "sin_huge.npz").meta.working_precision is None
    # Mathics3 crashes differentiating 2F1 in z and returns 4-digit values labelled precision 50 at
    # an exact z; the program's 2F1 rewrite (a known z-derivative, evaluated at a high-precision z)
    # makes it right: generated, and checked against mpmath above.
    assert (root / "golden" / "hard" / "hyp2f1.npz").exists()
    assert "failed  hard/hyp2f1" not in out


def test_a_computed_zero_that_is_not_exactly_zero_is_refused(generated: tuple[Path, str]) -> None:
    """exp(1e-300) - 1 is 1e-300, a float64; at fixed working precision it computes to 0. at every
    precision the generator tries. Zeros are certified only when exact (or negligible beside the
    quantity's other elements), so this one is refused, never stored as 0."""
    root, out = generated
    assert not (root / "golden" / "hard" / "expm1_underflow.npz").exists()
    reasons = [line for line in out.splitlines() if "case hard/expm1_underflow" in line]
    assert reasons, out
    assert "N gives 0 at 90 and 120 digits but the exact value is not 0" in reasons[0]


def test_a_short_number_labelled_high_precision_is_not_certified() -> None:
    """Mathics3 returns ``N[Hypergeometric2F1[1/2, 1/3, 2, 1/5], 50]`` as 1.018 with precision 50:
    equal at both precisions, yet only 4 digits. The digits sent bound what is certified."""
    import gradgold as gg
    from gradgold.errors import EvaluationError
    from gradgold.generation.generate import _certify

    case = gg.case(wolfram="x", points=[{"x": 0.2}])(lambda_free)
    with pytest.raises(EvaluationError, match=r"index \(\): only 4 digits certified"):
        _certify(case, "here", [Decimal("1.018"), Decimal("1.018"), Decimal(50), False])


def lambda_free(x: float) -> float:
    return x
