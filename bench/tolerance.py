"""Tolerance evidence: how far torch is from the exact references, per dtype, and how small an error
in a gradient the checker still catches. Writes bench/TOLERANCE.md.

    .venv/bin/python bench/tolerance.py            # all built-in suites, default modes
    .venv/bin/python bench/tolerance.py --quick    # reverse mode only

Measured in *allowance units*: an element's error divided by ``eps * (|ref| + cond + mag)``, the
checker's per-element rule (gradgold.compare) with rtol_ulps = atol_ulps = 1 (``mag``: the element's
stored magnitude of terms, its own ``|ref|`` without one, ``max|ref|`` for a ``normwise=`` case).
The largest value over every case, mode and point is the smallest ``rtol_ulps`` that would pass
them all. Also shown: the largest
error in ULPs of the element itself (elements at least 2^-10 of their quantity's largest).

References: float64 and float32 (and complex128 and complex64, whose parts they are) use the goldens
(exact). float16 and bfloat16 use the golden's own
grid where it has one, else, for points the dtype cannot hold, torch in float64 at the rounded point
(its error, about 1e-16 relative, is 1e-13 of a float16 ULP), marked "f64 ref" in the table.
Cases with a recorded torch bug (``xfail=``) are left out: their errors are the bug.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gradgold.artifacts import obtained  # noqa: E402
from gradgold.cases import Case  # noqa: E402
from gradgold.check import _conditioning, _Context, _magnitude, check_golden, reference_grid  # noqa: E402
from gradgold.errors import GradgoldError  # noqa: E402
from gradgold.exact import COMPLEX_PARTS, grid_of, round_to_grid  # noqa: E402
from gradgold.golden import Golden, GridData  # noqa: E402
from gradgold.modes import DEFAULT_MODES, case_modes  # noqa: E402
from gradgold.suite import find_project, fresh_golden, load_cases  # noqa: E402
from gradgold.tolerance import DEFAULT_RTOL_ULPS, eps_of  # noqa: E402
from gradgold.xfail import expected_failure  # noqa: E402

DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64")
LADDER = [10.0**-k for k in range(1, 14)]


class Scaled(torch.autograd.Function):
    """Identity whose derivative is scaled by ``scale`` in every mode: a gradient off by a relative
    ``scale - 1`` everywhere."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, scale: float) -> torch.Tensor:  # type: ignore[override]
        return x.clone()

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.scale = inputs[1]

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return g * ctx.scale, None

    @staticmethod
    def jvp(ctx: Any, t: torch.Tensor, _: Any) -> torch.Tensor:
        return t * ctx.scale


def f64_grid(case: Case, golden: Golden, dtype: str) -> tuple[GridData, bool]:
    """The dtype's references: the golden's, else torch float64 at the rounded points."""
    try:
        return reference_grid(golden, dtype), False
    except GradgoldError:
        pass
    base = golden.grids["float64"]
    inputs = {p: round_to_grid(base.inputs[p], dtype) for p in case.params}
    numbers = {q: np.zeros_like(v) for q, v in base.numbers.items()}
    data = GridData(inputs=inputs, numbers=numbers, digits={}, certified={})
    got = obtained(case, data, "float64", mode="reverse")
    return GridData(inputs=inputs, numbers=got, digits={}, certified={}), True


def usage(case: Case, golden: Golden, data: GridData, dtype: str, mode: str) -> tuple[float, float]:
    """(largest error in allowance units, largest error in the element's ULPs) of one check."""
    got = obtained(case, data, dtype, mode=mode)
    ctx = _Context(case, golden, data, dtype, mode, "cpu", case.params)
    eps, worst, worst_ulp = eps_of(dtype), 0.0, 0.0
    for q, ref in data.numbers.items():
        for i in range(data.n_points):
            r, g = ref[i], got[q][i]
            cond = _conditioning(ctx, i, q)
            scale = float(np.max(np.abs(r))) if r.size else 0.0
            found = _magnitude(ctx, i, q, r)
            mag = np.abs(r) if found is None else np.maximum(found, np.abs(r))
            allowed = eps * (np.abs(r) + (0 if cond is None else cond) + mag) + 1e-300
            err = np.abs(g - r)
            if not np.all(np.isfinite(err)):
                return float("inf"), float("inf")
            worst = max(worst, float(np.max(err / allowed)))
            big = np.abs(r) >= scale * 2.0**-10
            if np.any(big):
                _, e = np.frexp(np.abs(r[big]))
                worst_ulp = max(worst_ulp, float(np.max(err[big] / (eps * np.ldexp(1.0, e - 1)))))
    return worst, worst_ulp


def floor(case: Case, golden: Golden, dtype: str) -> float | None:
    """The smallest relative error in the gradient (all entries scaled) that the reverse-mode check
    catches, down the ladder 1e-1 .. 1e-13; None if not even 1e-1 is caught."""
    fn: Callable[..., Any] = case.fn
    if not all(r.passed for r in check_golden(case, golden, dtype, mode="reverse")):
        return None  # a failing baseline says nothing about detection
    best = None
    for eps in LADDER:

        def wrong(*args: torch.Tensor, s: float = 1 + eps) -> torch.Tensor:
            return Scaled.apply(fn(*args), s)

        results = check_golden(case, golden, dtype, fn=wrong, mode="reverse")
        if not any(not r.passed for r in results if r.quantity.startswith("grad/")):
            break
        best = eps
    return best


def collect(modes: tuple[str, ...]) -> dict[str, Any]:
    project = find_project(ROOT)
    rows: dict[str, Any] = {
        d: {"usage": [], "ulps": [], "floors": [], "f64ref": 0, "checks": 0} for d in DTYPES
    }
    for case in load_cases(project):
        try:
            golden = fresh_golden(project, case)
        except GradgoldError:
            continue
        for dtype in DTYPES:
            if any(expected_failure(case, dtype, m) for m in modes) or dtype in case.rtol_ulps:
                continue
            if (dtype in COMPLEX_PARTS) != bool(case.complex_params):
                continue  # complex dtypes for complex inputs, real dtypes for the others
            if dtype in ("float64", "float32") and dtype not in case.dtypes:
                continue  # float16/bfloat16 go over every real case, listed or not
            data, synthetic = f64_grid(case, golden, dtype)
            row = rows[dtype]
            row["f64ref"] += synthetic
            for mode in modes:
                u, ulp = usage(case, golden, data, dtype, mode)
                row["usage"].append((u, case.id, mode))
                row["ulps"].append((ulp, case.id, mode))
                row["checks"] += 1
            if not synthetic and any(
                np.any(v != 0) for q, v in data.numbers.items() if q.startswith("grad/")
            ):
                row["floors"].append(
                    (floor(case, Golden(golden.meta, {dtype: data, "float64": data}), dtype), case.id)
                )
    return rows


def render(rows: dict[str, Any], modes: tuple[str, ...]) -> str:
    lines = [
        "# Tolerance evidence (bench/tolerance.py)",
        "",
        f"torch {torch.__version__}, CPU; modes: {', '.join(modes)}; every case of the built-in suites",
        "except those with a recorded torch bug (`xfail=`) and, per dtype, those with a per-case rtol_ulps.",
        "Regenerate: `.venv/bin/python bench/tolerance.py`.",
        "",
        "Rule (gradgold.compare):",
        "`|got - ref| <= eps * (rtol_ulps * (|ref| + cond) + atol_ulps * mag)` per element,",
        "`cond = sum_i |x_i| |d ref / d x_i|` from the golden's next derivative order (0 at the highest),",
        "`mag` the element's stored magnitude of terms, else its own `|ref|`",
        "(`max|ref|` for `normwise=` cases).",
        "",
        "| dtype | checks | error in allowance units: median / 90% / 99% / max | worst case |"
        " largest error, element ULPs |"
        " default rtol_ulps | smallest injected gradient error caught (worst case / median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for dtype, row in rows.items():
        if not row["checks"]:
            continue
        finite = [x for x in row["usage"] if np.isfinite(x[0])]
        u = max(finite)
        q = np.quantile([x[0] for x in finite], [0.5, 0.9, 0.99])
        ulp = max(x for x in row["ulps"] if np.isfinite(x[0]))
        nonfinite = len(row["usage"]) - len(finite)
        floors = [f for f, _ in row["floors"] if f is not None]
        missed = [c for f, c in row["floors"] if f is None]
        missed = missed[:6] + ([f"{len(missed) - 6} more"] if len(missed) > 6 else [])
        caught = (
            f"{max(floors):.0e} / {float(np.median(floors)):.0e} ({len(floors)} cases"
            + (f"; failing baseline or not caught at 1e-1: {', '.join(missed)}" if missed else "")
            + ")"
            if floors
            else "n/a (no exact grid)"
        )
        ref = f" ({row['f64ref']} f64 ref)" if row["f64ref"] else ""
        lines.append(
            f"| {dtype} | {row['checks']}{ref}, {nonfinite} non-finite |"
            f" {q[0]:.2g} / {q[1]:.2g} / {q[2]:.2g} / {u[0]:.3g} | {u[1]} [{u[2]}] | {ulp[0]:.3g} |"
            f" {DEFAULT_RTOL_ULPS[grid_of(dtype)]:g} | {caught} |"
        )
    lines += [
        "",
        "Reading: a check passes when its allowance-unit error is below rtol_ulps (atol_ulps is the floor",
        "term). The injected error scales every gradient entry by (1 + e) through a custom",
        "autograd.Function; 'caught' means some gradient quantity of the case fails in reverse mode.",
        "",
        *PER_ELEMENT_EVIDENCE,
        *MAGNITUDES_EVIDENCE,
    ]
    return "\n".join(lines)


#: How the per-element rule was chosen (2026-11-30, torch 2.13.0, issue #13), kept with the table.
PER_ELEMENT_EVIDENCE = [
    "## Per-element rule: evidence",
    "",
    "Before 2026-11-30 the absolute part was `atol_ulps * eps * max|ref|`, shared by every element of a",
    "quantity, so a wrong small element beside a large one passed (`torch.sigmoid(x).sum()` at",
    "`x = [0.5, 40]`: gradient 0 for 4.2e-18). Switching to each element's own scale, every committed",
    "case was checked in its dtypes and default modes under both rules (426 cases; a script beside",
    "`gradgold.check.run_checks`). 18 cases changed verdict, none from fail to pass:",
    "",
    "- 4 are torch bugs the old rule hid, now strict xfails: `activations/log_softmax` (0 for -7.2e-22,",
    "  no log1p; backward 1 - softmax 0 for 7.2e-22), `activations/glu` (backward 1 - sigmoid(30) cancels:",
    "  relative error 1e-3 in float64, 1 in float32), `losses/binary_cross_entropy_with_logits` (gradient",
    "  0 for +-1.2e-44 at saturated logits), `reductions/logsumexp-dim0` (3.7e-44 becomes 0).",
    "- 12 are results of matrix decompositions (LU, QR, eigh, SVD, Cholesky; `complex/inv`, and the",
    "  real Hessian of `complex/sum_abs2` through complex products) whose exactly-zero or small elements",
    "  carry errors of 1 to 2.6 ULPs of the result's largest element, in float64 and float32: these",
    "  algorithms are backward stable in norm, not per element. Each declares `normwise=` with that",
    "  evidence; its absolute part is `atol_ulps * eps * max|ref|` as before.",
    "- 2 are cancelling sums at the highest stored order, where no conditioning is available:",
    "  `composites/lennard_jones` (forward mode, 1.25x the element's allowance) and",
    "  `losses/cross_entropy-label_smoothing` (float32, 1.1x). They declared `normwise=` with that evidence",
    "  until the generator stored magnitudes of terms; they now use `magnitudes=True` (below).",
    "",
    "No `rtol_ulps=` override became unnecessary: the new rule is stricter everywhere. The remaining ones",
    "state their evidence beside the case (`golden/reductions.py`: logsumexp and logcumsumexp at large",
    "offsets, whose gradient error is the inputs' rounding times |x|, a conditioning only a stored Hessian",
    "would give; `golden/special.py`, `golden/composites.py`).",
    "",
]

#: Magnitudes from the generator, overrides checked without them, and the measured cost of a
#: second-order default (2026-11-30, issue #13 items 1-2); the overrides table is
#: ``--overrides``'s output of that day.
MAGNITUDES_EVIDENCE = [
    "## Magnitudes of terms from the generator (2026-11-30)",
    "",
    "The rigorous evaluator computes, per element, the derivative with every sum of the case's `wolfram=`",
    "expression replaced by the sum of absolute values (a majorant pass, `generation/rigorous/magnitude.py`;",
    "products of absolute values, `|f^(k)|` for every head), rounded up to 3 digits, and stores it where it",
    "exceeds `4 |ref|`. Regenerating the whole suite with magnitudes for every case (179 of 436 goldens got",
    "some) turned 16 recorded torch failures into passes: activations/log_softmax, softmax-saturated,",
    "softsign-large, tanhshrink-small, batched/softsign, batched/tanhshrink, composites/attention-saturated,",
    "scaled_dot_product_attention-saturated, elementwise/sinc-near_zero,",
    "losses/binary_cross_entropy_with_logits, cross_entropy-confident, special/erfcx-d2, erfcx-large,",
    "i0e-large, i1e-d2, i1e-large. The majorant follows the expression's own sums, and where the",
    "expression mirrors a formula whose cancellation torch should avoid (`x - Tanh[x]` at small x, a",
    "quotient rule, `1 - softmax`), it counts that cancellation as terms and hides the very bug the case",
    "records. So magnitudes are opt-in: `magnitudes=True` on a case whose result is a cancelling sum",
    "whatever the implementation. The two `normwise=` overrides that waited for magnitudes use it instead",
    "(worst error over its allowance in the case's dtypes and default modes, with magnitudes / with `|ref|`",
    "alone): `composites/lennard_jones` 0.019 / 0.49 (now order 2, so the Hessian's conditioning covers",
    "its gradient too), `losses/cross_entropy-label_smoothing` 0.077 / 1.11 (float32 reverse, point 1,",
    "grad/x). `gradgold verify --rigorous` recomputes a stored magnitude and fails one above the",
    "recomputation by more than its rounding (1 %).",
    "",
    "Every remaining override, checked without it (`bench/tolerance.py --overrides`; worst error over the",
    "default allowance in the case's dtypes and default modes; above 1: needed; the huge ratios are",
    "exactly-zero references whose allowance is the subnormal floor). None became unnecessary:",
    "",
    "| case | override | without it: worst error / default allowance | where |",
    "|---|---|---|---|",
    "| complex/sum_abs2 | normwise= | 3.51e+305 | complex128-reverse, point 0, hessian |",
    "| complex/inv | normwise= | 8.63 | complex128-reverse, point 1, grad/A |",
    "| composites/layer_norm-offset | rtol_ulps=2^14 | 121 | float32-reverse, point 0, grad/x |",
    "| linalg/pinv-tall | normwise= | 1.09 | float64-forward, point 0, grad/A |",
    "| linalg/cholesky_inverse | normwise= | 3.32e+35 | float32-reverse, point 0, grad/A |",
    "| linalg/qr-r_abs | normwise= | 3.98e+05 | float32-forward, point 2, grad/A |",
    "| linalg/qr-q_canonical | normwise= | 2.11e+306 | float64-forward, point 0, grad/A |",
    "| linalg/eigh-matrix_function | normwise= | 3.51e+305 | float64-forward, point 2, grad/A |",
    "| linalg/eigh-invariant_3x3 | normwise= | 38.2 | float32-reverse, point 2, grad/A |",
    "| linalg/svd-reconstruct | normwise= | 7.02e+305 | float64-forward, point 0, grad/A |",
    "| linalg/svd-left_function | normwise= | 3.86e+306 | float64-forward, point 1, grad/A |",
    "| linalg/det-d2 | normwise= | 1.05e+306 | float64-func, point 0, hessian |",
    "| linalg/cholesky-d2 | normwise= | 2.3e+305 | float64-func, point 0, hessian |",
    "| reductions/logsumexp-offset | rtol_ulps=1e4 | 23.3 | float64-reverse, point 0, grad/x |",
    "| reductions/logcumsumexp-offset | rtol_ulps=1e4 | 50.9 | float64-reverse, point 0, grad/x |",
    "| special/lgamma-near_pole | rtol_ulps=2e7 | 7.03e+03 | float64-reverse, point 0, grad/x |",
    "| special/log_ndtr-tail | rtol_ulps=2048 | 1.73 | float64-reverse, point 0, grad/x |",
    "",
    "## Second order by default (2026-11-30, issue #13 item 2)",
    "",
    "A real case declared without `order=` holds the Hessian when it has at most 8 scalar inputs",
    "(`gradgold.cases.SECOND_ORDER_INPUTS`); larger and complex cases stay at first order, `-extreme`",
    "cases too, and `unary`'s main case beside its `-d2` twin. `double_backward` checks a second",
    'derivative only, so where a golden holds none it is a skip, "not applicable".',
    "",
    "Generation cost on the rigorous path, CPU seconds for 3 points, order 1 / order 2 (each with",
    "magnitudes), one run side by side: `Log[Total[Exp[x]]]` n = 2: 0.006 / 0.017, 4: 0.013 / 0.038,",
    "8: 0.032 / 0.14, 16: 0.062 / 0.54; vector `Tanh[x]` 0.006 / 0.027, 0.009 / 0.11, 0.043 / 0.36,",
    "0.084 / 2.2; `Exp[x]/Total[Exp[x]]` 0.009 / 0.030, 0.022 / 0.064, 0.043 / 0.32, 0.17 / 2.7.",
    "Adopting the default regenerated 204 goldens (`gradgold generate -j 2`, every one on the rigorous",
    "path: 189 in 7.2 CPU s, 16 s wall, then 15 of cases new on main); 201 keep the Hessian. Checking those 204 cases (`gradgold",  # noqa: E501
    "check --jsonl`, their dtypes and default modes, 137 CPU s) failed 44 cases, every failure on the",
    "Hessian:",
    "",
    '- 14 are strict expected failures keyed by quantity (`xfail={"forward-hessian": ...}`), where another',
    "  mode (or dtype) gets the same Hessian from the same golden: composites/batch_norm_train (forward,",
    "  off by 1.8e3 where the entry is 0), layer_norm-affine (forward 0.32 and func 0.48, relative 15 and",
    "  3.3), layer_norm-offset (forward, 5.7, relative 8.8), linalg/solve-near_singular (forward, 7.0e13,",
    "  relative 1), reductions/cumprod-zeros (forward, off by 1), linalg/cholesky_inverse and",
    "  reductions/logcumsumexp (func = jacfwd over jacrev meets their recorded forward-mode bugs;",
    "  logcumsumexp also reverse and double_backward, below), elementwise/pow-zero_base_tensor_exponent",
    "  (reverse and double_backward give NaN), reductions/logsumexp, logcumsumexp and",
    "  losses/cross_entropy-soft_targets (a 7.2e-22 entry with relative error 1 in reverse,",
    "  double_backward and func; forward gets it), elementwise/logaddexp, logaddexp2 and",
    "  losses/binary_cross_entropy_with_logits (float32 reverse and double_backward, relative error 1;",
    "  func, forward and float64 get it), activations/softplus-above_threshold (float32 Hessian: the",
    "  documented linearisation gives 0 for 1.4e-11). Three cases new on main, nested/layer_norm-jvp,",
    "  batch_norm_train-jvp and cumprod-zeros-jvp, failed only after main keyed their recorded",
    "  reverse-over-forward failure by quantity: the Hessian of the JVP, the derivative of that wrong",
    "  d(jvp)/dx, is recorded under the same reason (off by 0.16-0.17, relative 15 and 87; NaN).",
    "- 30 are back to an explicit `order=1`, not yet classified (tolerance questions, float32 range at",
    "  hard points, linalg cases whose Hessian fails in every mode), each with these numbers in a comment",
    "  in its case file. batched/softplus, i0e and i1e are at `order=1` too: the corrected implementations",
    "  in tests/test_batched.py fix their first derivative only (their Hessians: 9.5e-17 off at x = 30 in",
    "  float64 for softplus, NaN at x = 1e4 in float32 for i0e and i1e). Worst Hessian error of each (the allowance is the checker's default; \"ratio",  # noqa: E501
    '  overflows" is an exactly-zero reference whose allowance is the subnormal floor):',
    "",
    "| case | where the Hessian fails | worst |",
    "|---|---|---|",
    "| activations/rms_norm | all four modes in float64 and float32 | float32-reverse point 1: error 3.7e-12, allowance 2.5e-17 (1.48e+05x), relative 1.4 |",  # noqa: E501
    "| activations/softplus-beta2 | all four modes in float64 and float32 | float64-reverse point 4: error 1.6e-16, allowance 4.4e-18 (37.1x), relative 6.6e-13 |",  # noqa: E501
    "| elementwise/addcdiv | all four modes in float32 | float32-reverse point 2: error nan, allowance 9e-44 (torch gives a non-finite value), relative nan |",  # noqa: E501
    "| elementwise/atan2 | double_backward, func, reverse in float32 | float32-reverse point 3: error 1.1e-25, allowance 9.5e-26 (1.12x), relative 1.1e-05 |",  # noqa: E501
    "| elementwise/div | all four modes in float32 | float32-reverse point 2: error nan, allowance 9.5e+24 (torch gives a non-finite value), relative nan |",  # noqa: E501
    "| elementwise/hypot | all four modes in float64 and float32 | float64-reverse point 4: error 1e-20, allowance 1.8e-34 (5.63e+13x), relative 1 |",  # noqa: E501
    "| elementwise/logit-near_half | double_backward, reverse in float64 | float64-reverse point 0: error 4.3e-19, allowance 6.8e-20 (6.4x), relative 1.1e-13 |",  # noqa: E501
    "| elementwise/pow-cbrt | all four modes in float32 | float32-reverse point 3: error inf, allowance 2.1e+44 (torch gives a non-finite value), relative nan |",  # noqa: E501
    "| elementwise/xlogy | all four modes in float32 | float32-reverse point 3: error nan, allowance 9.5e+24 (torch gives a non-finite value), relative nan |",  # noqa: E501
    "| linalg/cholesky | all four modes in float64 and float32 | float64-func point 0: error 7.3e-17, allowance 3.2e-322 (2.3e+305x), relative inf |",  # noqa: E501
    "| linalg/det-2x2 | all four modes in float64 and float32 | float64-forward point 0: error 1.1, allowance 3.2e-322 (ratio overflows), relative inf |",  # noqa: E501
    "| linalg/eigh-eigenvalues | all four modes in float64 and float32 | float64-reverse point 2: error 6e-18, allowance 1.6e-20 (378x), relative 6.7e-12 |",  # noqa: E501
    "| linalg/eigvalsh | all four modes in float64 and float32 | float64-reverse point 2: error 6e-18, allowance 1.6e-20 (378x), relative 6.7e-12 |",  # noqa: E501
    "| linalg/pinv-square | all four modes in float64 and float32 | float64-reverse point 0: error 1.9e-15, allowance 8.3e-16 (2.3x), relative 4.1e-14 |",  # noqa: E501
    "| linalg/qr-r_abs | all four modes in float64 and float32 | float32-reverse point 2: error 4.4, allowance 5.5e-06 (7.98e+05x), relative inf |",  # noqa: E501
    "| linalg/svd-reconstruct | all four modes in float64 and float32 | float64-forward point 0: error 1.8e-15, allowance 3.2e-322 (5.62e+306x), relative inf |",  # noqa: E501
    "| linalg/svdvals | all four modes in float64 and float32 | float32-reverse point 2: error 8.5e-07, allowance 4.9e-07 (1.75x), relative 1.7e-05 |",  # noqa: E501
    "| losses/binary_cross_entropy | all four modes in float64 and float32 | float64-reverse point 1: error 6.7e-07, allowance 5.9e-15 (1.13e+08x), relative 2e-06 |",  # noqa: E501
    "| losses/multilabel_soft_margin_loss | all four modes in float64 and float32 | float64-reverse point 1: error 3.2e-17, allowance 5.5e-28 (5.74e+10x), relative 0.001 |",  # noqa: E501
    "| orders/softmax-half | forward, func in float16 and bfloat16 | float16-forward point 0: error 2.9e-05, allowance 1.3e-05 (2.32x), relative 0.028 |",  # noqa: E501
    "| reductions/cumprod | forward in float64 and float32 | float64-forward point 0: error 4.4e-16, allowance 3.2e-322 (1.4e+306x), relative inf |",  # noqa: E501
    "| reductions/prod | double_backward, reverse in float64 and float32 | float64-reverse point 0: error 4.4e-16, allowance 3.2e-322 (1.4e+306x), relative inf |",  # noqa: E501
    "| reductions/logcumsumexp-offset | func in float64 | float64-func point 0: error 2e-13, allowance 4.9e-320 (4.04e+306x), relative inf |",  # noqa: E501
    "| special/lbeta_via_lgamma | all four modes in float64 | float64-reverse point 0: error 1.9e-10, allowance 5.1e-15 (3.63e+04x), relative 6.5e-10 |",  # noqa: E501
    "| special/lgamma-near_pole | all four modes in float32 | float32-reverse point 0: error 9.5e+12, allowance 1.7e+08 (5.64e+04x), relative 0.54 |",  # noqa: E501
    "| special/lgamma-negative | all four modes in float64 and float32 | float32-reverse point 2: error 3.9e+13, allowance 6.7e+08 (5.87e+04x), relative 0.56 |",  # noqa: E501
    "| special/log_ndtr-tail | all four modes in float64 and float32 | float32-reverse point 1: error 0.0044, allowance 9.5e-06 (466x), relative 0.0044 |",  # noqa: E501
    "| special/mvlgamma-p3 | all four modes in float64 | float64-reverse point 1: error 8.1e-10, allowance 3.7e-14 (2.19e+04x), relative 3.9e-10 |",  # noqa: E501
    "| nested/normalize-jvp | double_backward, func, reverse in float64 | float64-reverse point 1: error 4.5e-18, allowance 4.48e-18 (1.004x), relative 1.8e-14 |",  # noqa: E501
    "| batched/softplus | all four modes in float32 (float64 is a recorded first-order failure) | float32-reverse point 0: error 1.4e-11, allowance 1.3e-16 (1.05e+05x), relative 1 |",  # noqa: E501
]


def overrides() -> list[str]:
    """Every case with a tolerance override (``rtol_ulps=``, ``normwise=``) checked without it, in
    its dtypes and default modes: the worst element's error over its default allowance (above 1:
    the override is needed) and the check that needs it. Markdown rows."""
    project = find_project(ROOT)
    rows = ["| case | override | without it: worst error / default allowance | where |", "|---|---|---|---|"]
    for case in load_cases(project):
        if not (case.rtol_ulps or case.normwise):
            continue
        golden = fresh_golden(project, case)
        bare = dataclasses.replace(case, rtol_ulps={}, normwise="")
        worst, where = 0.0, ""
        for dtype in case.dtypes:
            for mode in case_modes(case):
                if expected_failure(case, dtype, mode):
                    continue
                for r in check_golden(bare, golden, dtype, mode=mode):
                    c = r.comparison
                    ratio = c.worst_err / c.allowed_abs if c is not None and c.allowed_abs > 0 else 0.0
                    if c is not None and ratio > worst:
                        worst, where = ratio, f"{dtype}-{mode}, point {r.point}, {r.quantity}"
        kind = f"rtol_ulps={dict(case.rtol_ulps)}" if case.rtol_ulps else "normwise="
        rows.append(f"| {case.id} | {kind} | {worst:.3g} | {where} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reverse mode only")
    parser.add_argument(
        "--overrides", action="store_true", help="only the table of per-case overrides, checked without them"
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "TOLERANCE.md"))
    args = parser.parse_args()
    if args.overrides:
        print("\n".join(overrides()))
        return
    modes = ("reverse",) if args.quick else DEFAULT_MODES
    text = render(collect(modes), modes)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
