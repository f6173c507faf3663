"""The same WL semantics on every engine: each rewrite checked against mpmath at high precision.

The cases (tests/data/semantics_cases.py) use heads Mathics3 cannot differentiate or gets wrong
(engines.md): Max/Min, Ramp, UnitStep, Clip, two-argument ArcTan, PolyGamma and ExpIntegralEi
derivatives, Piecewise/If (resolved to the branch active at the point), the z-derivatives of
Hypergeometric2F1 (both strategies, up to the Hessian), and the refusals: a point on a branch
boundary, Zeta', Norm[matrix] and Hypergeometric2F1 differentiated in a parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest

from conftest import embedded_suite
from gradgold.golden import read_golden

HERE = Path(__file__).parent
mp = mpmath.mp

REFERENCES: dict[str, Callable[..., object]] = {
    "maximum": lambda x, y: mpmath.mpf(max(x, y)),
    "minimum3": lambda x, y: min(x, y, 2 * x),
    "ramp_step": lambda x: max(x, 0) + (x**2 if x > 0 else 0),
    "clip": lambda x: min(max(x, mpmath.mpf(-1) / 2), 1) + min(max(x / 4, -1), 1),
    "atan2": lambda x, y: mpmath.atan2(y, x),
    "trigamma": lambda x: mpmath.polygamma(1, x),
    "ei": lambda x: mpmath.ei(x),
    "piecewise": lambda x, y: (x**2 if x > 0.5 else x**3 if x < -1 else -x) + y,
    "vnorm": lambda v1, v2: mpmath.sqrt(v1**2 + v2**2),
    "hyp2f1": lambda x: mpmath.hyp2f1(mpmath.mpf(1) / 2, mpmath.mpf(1) / 3, mpmath.mpf(3) / 2, x**2) + x,
    "hyp2f1_substituted": lambda x, y: mpmath.hyp2f1(
        mpmath.mpf(1) / 2, mpmath.mpf(1) / 3, mpmath.mpf(3) / 2, x * y
    ),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("semantics")
    run = embedded_suite(root, "sem", (HERE / "data" / "semantics_cases.py").read_text())
    return root, run.stdout


def _mp(x: float) -> mpmath.mpf:
    q = Fraction(x)
    return mpmath.mpf(q.numerator) / q.denominator


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_rewritten_heads_match_mpmath(generated: tuple[Path, str], name: str) -> None:
    root, _ = generated
    golden = read_golden(root / "golden" / "sem" / f"{name}.npz")
    params = [p for p, _ in golden.meta.params]
    f = REFERENCES[name]
    mp.dps = 60
    data = golden.grids["float64"]
    for i in range(data.n_points):
        args = [_mp(float(v)) for p in params for v in data.inputs[p][i].ravel()]
        value = f(*args)
        assert abs(mpmath.mpf(str(data.digits["value"][i])) - value) <= abs(value) * mpmath.mpf(10) ** -25
        grads = [mpmath.diff(f, args, tuple(int(k == j) for k in range(len(args)))) for j in range(len(args))]
        stored = [mpmath.mpf(str(d)) for p in params for d in data.digits[f"grad/{p}"][i].ravel()]
        for j, (got, want) in enumerate(zip(stored, grads, strict=True)):
            assert abs(got - want) <= max(abs(want), 1) * mpmath.mpf(10) ** -25, (name, i, j, got, want)
        if "hessian" in data.digits:
            second = mpmath.diff(f, args, tuple(2 if k == 0 else 0 for k in range(len(args))))
            got = mpmath.mpf(str(data.digits["hessian"][i].ravel()[0]))
            assert abs(got - second) <= max(abs(second), 1) * mpmath.mpf(10) ** -25, (name, i, got, second)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("if_boundary", "the point is on or within 1e-10 of a Piecewise/If boundary, where the derivative"),
        ("zeta", "the engine cannot differentiate Zeta (it left Derivative[1][Zeta] unevaluated"),
        ("spectral", "Norm[matrix] is WL's spectral norm, which has no usable symbolic derivative"),
        (
            "hyp2f1_in_a",
            "Hypergeometric2F1 is differentiated in its parameters a, b, c (Derivative[1, 0, 0, 0]), which "
            "gradgold does not rewrite and Mathics3 cannot do; keep a, b, c constant, or use a real Wolfram "
            "kernel (--kernel PATH)",
        ),
    ],
)
def test_what_the_engine_cannot_do_is_refused_with_the_reason(
    generated: tuple[Path, str], name: str, reason: str
) -> None:
    root, out = generated
    assert not (root / "golden" / "sem" / f"{name}.npz").exists()
    lines = [line for line in out.splitlines() if f"case sem/{name}" in line]
    assert lines, out
    assert reason in lines[0]
