"""The checker: run a torch function at a golden's points and compare with the references.

It imports torch and numpy only (never wolframclient, Mathics or sympy). A function that raises,
returns something other than a tensor of the golden's shape and dtype, or returns NaN is a failed
check with a message, never a crash of the run.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .cases import Case
from .compare import Comparison, compare
from .errors import CheckError, GradgoldError
from .golden import Golden, GridData
from .suite import Project, fresh_golden

__all__ = ["CaseCheck", "QuantityResult", "check_golden", "reference_grid", "run_checks"]

_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


@dataclass(frozen=True)
class QuantityResult:
    """One comparison: a case, dtype, point and quantity (``value`` or ``grad/<param>``)."""

    case_id: str
    dtype: str
    point: int
    quantity: str
    passed: bool
    comparison: Comparison | None = None
    error: str = ""
    message: str = ""

    def record(self) -> dict[str, Any]:
        """The JSON record of ``gradgold check --json``."""
        c = self.comparison
        return {
            "id": self.case_id,
            "dtype": self.dtype,
            "point": self.point,
            "quantity": self.quantity,
            "passed": self.passed,
            "max_abs_err": c.max_abs_err if c else None,
            "max_rel_err": c.max_rel_err if c else None,
            "max_ulp_err": c.max_ulp_err if c else None,
            "mismatched": c.mismatched if c else None,
            "n": c.n if c else None,
            "error": self.error or None,
        }


def reference_grid(golden: Golden, dtype: str) -> GridData:
    """The references for inputs as ``dtype`` represents them: that dtype's own grid when the
    golden has one, else float64's, provided rounding to ``dtype`` does not move its inputs."""
    if dtype in golden.grids:
        return golden.grids[dtype]
    data = golden.grids["float64"]
    for p, arr in data.inputs.items():
        rounded = torch.from_numpy(arr).to(_DTYPES[dtype]).double().numpy()
        if not np.array_equal(rounded, arr):
            raise CheckError(
                f"{golden.meta['id']}: input {p} is not exactly representable in {dtype} and the "
                f"golden holds no {dtype} references; add {dtype!r} to the case's dtypes= and run "
                f"`gradgold generate {golden.meta['id']}`"
            )
    return data


def check_golden(
    case: Case,
    golden: Golden,
    dtype: str,
    fn: Callable[..., Any] | None = None,
    device: str = "cpu",
) -> list[QuantityResult]:
    """Check ``fn`` (default: the case's own function) against every point of the golden."""
    if dtype not in _DTYPES:
        raise CheckError(f"{case.id}: unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
    data = reference_grid(golden, dtype)
    func = fn if fn is not None else case.fn
    results: list[QuantityResult] = []
    for i in range(data.n_points):
        results += _check_point(case, data, i, dtype, func, device)
    return results


def _check_point(
    case: Case, data: GridData, i: int, dtype: str, fn: Callable[..., Any], device: str
) -> list[QuantityResult]:
    tdtype = _DTYPES[dtype]
    params = list(data.inputs)
    names = ["value", *(f"grad/{p}" for p in params)]
    inputs_text = ", ".join(f"{p}={data.inputs[p][i].tolist()!r}" for p in params)

    def failed(quantity: str, error: str) -> QuantityResult:
        msg = f"{case.id} [{dtype}], point {i}, {quantity}: {error}\nInputs: {inputs_text}"
        return QuantityResult(case.id, dtype, i, quantity, False, error=error, message=msg)

    xs = [torch.tensor(data.inputs[p][i], dtype=tdtype, device=device).requires_grad_(True) for p in params]
    ref_value = data.numbers["value"][i]
    try:
        out = fn(*xs)
    except Exception as exc:
        return [failed(n, f"the torch function raised {_exc_text(exc)}") for n in names]
    problem = _output_problem(out, ref_value.shape, tdtype)
    if problem:
        return [failed(n, problem) for n in names]
    results = [_result(case, dtype, i, "value", out.detach(), ref_value, inputs_text)]
    try:
        jac = _jacobian(out, xs)
    except Exception as exc:
        return results + [failed(n, f"backward raised {_exc_text(exc)}") for n in names[1:]]
    for p, j in zip(params, jac, strict=True):
        results.append(_result(case, dtype, i, f"grad/{p}", j, data.numbers[f"grad/{p}"][i], inputs_text))
    return results


def _output_problem(out: Any, shape: tuple[int, ...], dtype: torch.dtype) -> str:
    if not isinstance(out, torch.Tensor):
        return f"the torch function returned {type(out).__name__}, not a tensor"
    if tuple(out.shape) != shape:
        return f"the torch function returned shape {tuple(out.shape)}, the reference has shape {shape}"
    if out.dtype != dtype:
        return (
            f"the torch function returned {out.dtype} for {dtype} inputs: it must compute in the input "
            "dtype, or the check of that dtype means nothing"
        )
    if not out.requires_grad:
        return "the output does not require grad: the function detached it from its inputs"
    return ""


def _jacobian(out: torch.Tensor, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """d out / d x for each input, shaped ``out.shape + x.shape`` (zeros where x is unused)."""
    flat = out.reshape(-1)
    rows: list[list[torch.Tensor]] = [[] for _ in xs]
    for k in range(flat.numel()):
        grads = torch.autograd.grad(flat[k], xs, retain_graph=True, allow_unused=True)
        for r, g, x in zip(rows, grads, xs, strict=True):
            r.append(torch.zeros_like(x) if g is None else g)
    return [torch.stack(r).reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, xs, strict=True)]


def _result(
    case: Case,
    dtype: str,
    i: int,
    quantity: str,
    got: torch.Tensor,
    ref: npt.NDArray[np.float64],
    inputs_text: str,
) -> QuantityResult:
    got64 = got.detach().to("cpu", torch.float64).numpy()
    key = quantity.removeprefix("grad/")
    rtol = case.rtol_ulps.get(dtype)
    cmp = compare(got64, ref, dtype, rtol_ulps=rtol)
    message = ""
    if not cmp.passed:
        label = "value" if quantity == "value" else f"d/d{key}"
        message = (
            f"{case.id} [{dtype}], point {i}, {label}: torch and the exact reference are not close!\n"
            f"{cmp.summary()}\nInputs: {inputs_text}\n"
            f"The golden is exact: if torch is right, the case's wolfram= expression is wrong; fix it "
            f"and run `gradgold generate {case.id}`."
        )
    return QuantityResult(case.id, dtype, i, quantity, cmp.passed, comparison=cmp, message=message)


def _exc_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


@dataclass(frozen=True)
class CaseCheck:
    """All comparisons of one case in one dtype, or why none could be made (missing/stale/...)."""

    case_id: str
    dtype: str
    results: tuple[QuantityResult, ...] = ()
    problem: str = ""
    expected_failure: str = ""

    @property
    def matched(self) -> bool:
        """Whether every comparison passed (whatever was expected)."""
        return not self.problem and all(r.passed for r in self.results)

    @property
    def passed(self) -> bool:
        """Whether the outcome is the expected one: all comparisons pass, or, for a recorded torch
        bug, some comparison fails (strictly: a torch fix makes this False until the case's
        ``xfail=`` is removed)."""
        if self.problem:
            return False
        return not self.matched if self.expected_failure else self.matched

    @property
    def status(self) -> str:
        """PASS, FAIL, XFAIL (failed as recorded) or XPASS (a recorded failure no longer fails)."""
        if self.expected_failure and not self.problem:
            return "XFAIL" if not self.matched else "XPASS"
        return "PASS" if self.passed else "FAIL"


def run_checks(
    project: Project,
    cases: Sequence[Case],
    dtypes: Sequence[str] | None = None,
    device: str = "cpu",
) -> list[CaseCheck]:
    """Check every case in each of its dtypes (or in ``dtypes`` when given)."""
    out: list[CaseCheck] = []
    for c in cases:
        try:
            golden = fresh_golden(project, c)
        except GradgoldError as exc:
            out += [CaseCheck(c.id, d, problem=str(exc)) for d in (dtypes or c.dtypes)]
            continue
        for d in dtypes or c.dtypes:
            try:
                results = tuple(check_golden(c, golden, d, device=device))
                out.append(CaseCheck(c.id, d, results, expected_failure=c.expected_failure(d)))
            except GradgoldError as exc:
                out.append(CaseCheck(c.id, d, problem=str(exc)))
    return out
