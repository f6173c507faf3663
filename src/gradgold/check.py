"""The checker: run a torch function at a golden's points and compare with the references.

It imports torch and numpy only (never wolframclient, Mathics or sympy). A function that raises,
returns something other than a tensor of the golden's shape and dtype, or returns NaN is a failed
check with a message, never a crash of the run. Each check is one case in one dtype, one execution
mode (:mod:`gradgold.modes`) and one device; a mode that cannot run the function (torch says so:
no jvp, no vmap support, ...) makes its quantities *not applicable*, a skip with torch's reason,
unless the case lists the mode in ``require_modes=``. Such a refusal is learned at the first point
and not tried again at the others (the value is still computed and compared at every point).

Quantities, as the golden names them: ``value``, ``grad/<param>`` (Jacobian), ``hessian``, ``d3``,
``d4`` (over the N flattened variables), ``proj/grad`` and ``proj/hess`` (along the golden's
``directions``). The checker computes exactly those present.

Complex numbers: the golden holds the real Jacobian (derivatives with respect to the real and
imaginary parts of each complex input, of the real and imaginary parts of a complex value), so the
checker runs the function on complex tensors built from real leaves, ``torch.complex(re, im)``,
and reads its value back as ``(real, imag)`` pairs (:func:`real_view`). Every mode then measures
exactly what torch's complex autograd computes: for a real-valued L of complex z, torch's gradient
is dL/dRe z + i dL/dIm z (twice the conjugate Wirtinger derivative dL/dz̄), so its real and
imaginary parts are the two real derivatives; a backward formula that forgets a conjugate fails.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .autodiff import Differentiator, engine_for, prepare, unsupported_reason
from .cases import SECOND_ORDER_INPUTS, Case, default_order
from .compare import Comparison, compare_exact
from .devices import device_problem, dtype_problem
from .errors import CheckError, GradgoldError
from .exact import COMPLEX_PARTS
from .golden import DERIVATIVE_TENSORS, PROJECTIONS, Golden, GridData
from .judge import FED_DTYPES, Judge, Judges, allowance_terms, reference_grid
from .modes import MODES, case_modes, check_label, required
from .suite import Project, fresh_golden
from .xfail import ExpectedFailure, expected_failure

__all__ = [
    "CaseCheck",
    "Judges",
    "QuantityResult",
    "allowance_terms",
    "check_golden",
    "not_applicable",
    "real_view",
    "reference_grid",
    "run_checks",
    "skip_reason",
]

#: The complex dtype whose parts are each real dtype.
_COMPLEX_OF = {
    torch.float64: torch.complex128,
    torch.float32: torch.complex64,
    torch.float16: torch.complex32,
}

#: Full derivatives by order, and the projections: (quantity, order).
_ORDERS = DERIVATIVE_TENSORS
_PROJECTIONS = PROJECTIONS
_LABELS = {
    "value": "value",
    "hessian": "Hessian",
    "d3": "third derivatives",
    "d4": "fourth derivatives",
    "proj/grad": "gradient along the golden's directions",
    "proj/hess": "v'Hv along the golden's directions",
}


@dataclass(frozen=True)
class QuantityResult:
    """One comparison: a case, dtype, mode, device, point and quantity (``value``, ``grad/<param>``,
    ``hessian``...). ``skipped`` (torch's reason) marks a quantity the mode cannot compute: not a
    failure, and ``passed`` is True. ``obtained`` is what torch computed for the quantity at the
    point (float64, on the CPU; None where torch raised or the quantity was skipped): artifacts are
    written from it, so a failure is never recomputed to be shown."""

    case_id: str
    dtype: str
    point: int
    quantity: str
    passed: bool
    comparison: Comparison | None = None
    error: str = ""
    message: str = ""
    mode: str = "reverse"
    device: str = "cpu"
    skipped: str = ""
    obtained: npt.NDArray[np.float64] | None = field(default=None, compare=False, repr=False)

    def record(self) -> dict[str, Any]:
        """The JSON record of ``gradgold check --json``: the verdict (``passed`` is null for a
        skip), the errors, the allowance at the worst element (the one furthest beyond its own
        allowance) with its index, and how many elements passed only thanks to the absolute
        (magnitude-of-terms) part of their allowance."""
        c = self.comparison
        return {
            "id": self.case_id,
            "dtype": self.dtype,
            "mode": self.mode,
            "device": self.device,
            "point": self.point,
            "quantity": self.quantity,
            "passed": None if self.skipped else self.passed,
            "skipped": self.skipped or None,
            "max_abs_err": c.max_abs_err if c else None,
            "max_rel_err": c.max_rel_err if c else None,
            "max_ulp_err": c.max_ulp_err if c else None,
            "worst_index": list(c.worst_index) if c else None,
            "worst_abs_err": c.worst_err if c else None,
            "allowed_abs": c.allowed_abs if c else None,
            "absolute_used": c.absolute_used if c else None,
            "mismatched": c.mismatched if c else None,
            "n": c.n if c else None,
            "error": self.error or None,
        }


@dataclass(frozen=True)
class _Context:
    """What every comparison of one check shares: the judge of its golden and dtype (the
    references, shared by the checks of every mode), the mode and the device."""

    judge: Judge
    mode: str
    device: str
    #: The derivatives to compute at each point (:func:`_levels`).
    levels: tuple[tuple[tuple[str, int], list[str]], ...]

    @property
    def case(self) -> Case:
        return self.judge.case

    @property
    def golden(self) -> Golden:
        return self.judge.golden

    @property
    def data(self) -> GridData:
        return self.judge.data

    @property
    def dtype(self) -> str:
        return self.judge.dtype

    @property
    def params(self) -> tuple[str, ...]:
        return self.judge.params

    @property
    def tag(self) -> str:
        return f"{self.case.id} [{check_label(self.dtype, self.mode, self.device)}]"


def check_golden(
    case: Case,
    golden: Golden,
    dtype: str,
    fn: Callable[..., Any] | None = None,
    device: str = "cpu",
    mode: str = "reverse",
    judges: Judges | None = None,
) -> list[QuantityResult]:
    """Check ``fn`` (default: the case's own function) in ``mode`` against every point of the golden.
    ``judges`` (:class:`gradgold.judge.Judges` of this case and golden) shares the references'
    preparation and comparisons with the other checks of the golden; None makes its own."""
    if dtype not in FED_DTYPES:
        raise CheckError(f"{case.id}: unknown dtype {dtype!r}; use one of {sorted(FED_DTYPES)}")
    if mode not in MODES:
        raise CheckError(f"{case.id}: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if judges is None or not judges.serve(case, golden):
        judges = Judges(case, golden)
    judge = judges.of(dtype)
    ctx = _Context(judge, mode, device, tuple(_levels(judge.data, judge.params)))
    func = real_view(case, prepare(mode, fn if fn is not None else case.fn), dtype, ctx.params)
    results: list[QuantityResult] = []
    refused: dict[tuple[str, int], str] = {}  # learned at the first point, for the others
    for i in range(ctx.data.n_points):
        results += _check_point(ctx, i, func, refused)
    return results


class OutputKindError(Exception):
    """The function returned a complex tensor where a real one is due, or the wrong complex dtype."""


def real_view(case: Case, fn: Callable[..., Any], dtype: str, params: Sequence[str]) -> Callable[..., Any]:
    """The function as the checker runs it: for a complex case, a function of real tensors (a
    complex parameter as ``(*shape, 2)`` real and imaginary parts) returning a real tensor (a
    complex value as ``(*shape, 2)``; a real value of a complex case gets imaginary part 0, as the
    golden holds it). A real case's function is returned as it is."""
    if not case.is_complex:
        return fn
    cplx = set(case.complex_params)
    real = FED_DTYPES[dtype]
    want = _COMPLEX_OF.get(real)

    def view(*xs: torch.Tensor) -> Any:
        args = [
            torch.complex(x[..., 0], x[..., 1]) if p in cplx else x for p, x in zip(params, xs, strict=True)
        ]
        out = fn(*args)
        if not isinstance(out, torch.Tensor):
            return out  # reported by _output_problem
        if out.is_complex() and not case.complex_output:
            raise OutputKindError(
                f"the torch function returned {out.dtype}, but the case declares complex_output=False "
                "(a real-valued function): return a real tensor (e.g. .abs() or .real), or remove "
                "complex_output=False and regenerate"
            )
        if out.is_complex() and out.dtype != want:
            raise OutputKindError(
                f"the torch function returned {out.dtype} for {dtype} inputs, expected {want}: it must "
                "compute in the input dtype, or the check of that dtype means nothing"
            )
        if out.is_complex():
            return torch.stack([out.real, out.imag], dim=-1)
        if case.complex_output:
            return torch.stack([out, torch.zeros_like(out)], dim=-1)
        return out

    return view


#: Inputs with more elements than this are shown by their first and last few (the golden holds all).
_SHOWN_INPUTS = 16


def _inputs_text(ctx: _Context, i: int) -> str:
    def shown(p: str) -> str:
        x = ctx.data.inputs[p][i]
        if p in ctx.case.complex_params:
            x = x[..., 0] + 1j * x[..., 1]
        if x.size <= _SHOWN_INPUTS:
            return repr(x.tolist())
        flat = x.reshape(-1).tolist()
        head, tail = ", ".join(map(repr, flat[:8])), ", ".join(map(repr, flat[-4:]))
        return f"shape {tuple(x.shape)}: [{head}, ..., {tail}] ({x.size} values; all in the golden)"

    return ", ".join(f"{p}={shown(p)}" for p in ctx.params)


def _check_point(
    ctx: _Context, i: int, fn: Callable[..., Any], refused: dict[tuple[str, int], str]
) -> list[QuantityResult]:
    names = [q for q in ctx.data.numbers]
    tdtype = FED_DTYPES[ctx.dtype]
    xs = [
        torch.tensor(ctx.data.inputs[p][i], dtype=tdtype, device=ctx.device).requires_grad_(True)
        for p in ctx.params
    ]
    try:
        out = fn(*xs)
    except OutputKindError as exc:
        return [_failed(ctx, i, n, str(exc)) for n in names]
    except Exception as exc:
        return [_failed(ctx, i, n, f"the torch function raised {_exc_text(exc)}") for n in names]
    problem = _output_problem(out, ctx.data.numbers["value"][i].shape, tdtype)
    if problem:
        return [_failed(ctx, i, n, problem) for n in names]
    results = [_compare(ctx, i, "value", out.detach())]
    if not out.requires_grad:
        # The value was compared; every derivative is unavailable, a failure of its own.
        why = (
            "no derivative: the output does not require grad (torch has no autograd formula for "
            "the function, or the function detached its output from its inputs)"
        )
        return results + [_failed(ctx, i, n, why) for n in names if n != "value"]
    engine = engine_for(ctx.mode, fn, xs, out)
    for level, quantities in ctx.levels:
        results += _check_level(ctx, i, engine, level, quantities, refused)
    return _with_suspect(results)


def _levels(data: GridData, params: Sequence[str]) -> list[tuple[tuple[str, int], list[str]]]:
    """The derivatives to compute, each with the quantities it answers, lowest order first."""
    present = data.numbers
    out: list[tuple[tuple[str, int], list[str]]] = []
    grads = [f"grad/{p}" for p in params if f"grad/{p}" in present]
    if grads:
        out.append((("full", 1), grads))
    out += [(("full", k), [q]) for q, k in _ORDERS.items() if q in present]
    out += [(("proj", k), [q]) for q, k in _PROJECTIONS.items() if q in present]
    return out


def _check_level(
    ctx: _Context,
    i: int,
    engine: Differentiator,
    level: tuple[str, int],
    quantities: list[str],
    refused: dict[tuple[str, int], str],
) -> list[QuantityResult]:
    """Compute one derivative and compare each quantity it answers; an error is charged to them.

    A derivative the mode refused at an earlier point of this check (``refused``) is not tried
    again: torch refuses for want of a formula or a transform rule (no jvp, no vmap support, no
    double backward), a property of the function, the mode and the dtype, not of the point, and
    trying cost as much as a check of its own at every point."""
    kind, k = level
    if level in refused:
        return [_skipped(ctx, i, q, refused[level]) for q in quantities]
    try:
        got = engine.full(k) if kind == "full" else engine.proj(k, _direction_tensor(ctx))
    except Exception as exc:
        results = _level_error(ctx, i, quantities, exc, first_order=level == ("full", 1))
        if results and results[0].skipped:
            refused[level] = results[0].skipped
        return results
    if kind == "full" and k == 1:
        parts = _by_param(ctx.data, ctx.params, got)
        return [_compare(ctx, i, q, part) for q, part in zip(quantities, parts, strict=True)]
    return [_compare(ctx, i, quantities[0], got)]


def _direction_tensor(ctx: _Context) -> torch.Tensor:
    v = ctx.judge.directions
    assert v is not None  # the judge refused projections without directions
    return torch.tensor(v, dtype=FED_DTYPES[ctx.dtype], device=ctx.device)


def _by_param(data: GridData, params: Sequence[str], jac: torch.Tensor) -> list[torch.Tensor]:
    """Split a flat Jacobian ``(*out, N)`` over ``params`` into ``grad/<p>`` shaped
    ``(*out, *shape_p)``, for the parameters whose ``grad/<p>`` the golden holds."""
    out_shape = tuple(jac.shape[:-1])
    parts, start = [], 0
    for p in params:
        shape = tuple(data.inputs[p].shape[1:])
        size = math.prod(shape)
        if f"grad/{p}" in data.numbers:
            parts.append(jac[..., start : start + size].reshape(out_shape + shape))
        start += size
    return parts


def _level_error(
    ctx: _Context, i: int, quantities: list[str], exc: BaseException, first_order: bool
) -> list[QuantityResult]:
    """A mode torch says cannot run the function: not applicable (a skip), unless the case requires
    the mode or it is the reverse-mode gradient every other mode is measured against."""
    reason = unsupported_reason(exc)
    baseline = ctx.mode == "reverse" and first_order
    if reason and not baseline and not required(ctx.case, ctx.mode):
        why = f"not applicable: mode {ctx.mode} cannot run this function ({reason})"
        return [_skipped(ctx, i, q, why) for q in quantities]
    what = "backward" if ctx.mode in ("reverse", "double_backward", "compile") else f"mode {ctx.mode}"
    error = f"{what} raised {_exc_text(exc)}"
    if reason:
        error += (
            f"; the case lists {ctx.mode!r} in require_modes=, so it must work"
            if required(ctx.case, ctx.mode)
            else "; reverse mode is the baseline every case must support"
        )
    return [_failed(ctx, i, q, error) for q in quantities]


def _failed(ctx: _Context, i: int, quantity: str, error: str) -> QuantityResult:
    msg = f"{ctx.tag}, point {i}, {quantity}: {error}\nInputs: {_inputs_text(ctx, i)}"
    return QuantityResult(
        ctx.case.id, ctx.dtype, i, quantity, False, error=error, message=msg, mode=ctx.mode, device=ctx.device
    )


def _skipped(ctx: _Context, i: int, quantity: str, reason: str) -> QuantityResult:
    msg = f"{ctx.tag}, point {i}, {quantity}: {reason}"
    return QuantityResult(
        ctx.case.id,
        ctx.dtype,
        i,
        quantity,
        True,
        message=msg,
        mode=ctx.mode,
        device=ctx.device,
        skipped=reason,
    )


def _output_problem(out: Any, shape: tuple[int, ...], dtype: torch.dtype) -> str:
    if not isinstance(out, torch.Tensor):
        return f"the torch function returned {type(out).__name__}, not a tensor"
    if tuple(out.shape) != shape:
        return f"the torch function returned shape {tuple(out.shape)}, the reference has shape {shape}"
    if out.dtype != dtype:
        hint = (
            "; for a complex-valued function of real inputs, declare complex_output=True on the case"
            if out.is_complex()
            else ""
        )
        return (
            f"the torch function returned {out.dtype} for {dtype} inputs: it must compute in the input "
            f"dtype, or the check of that dtype means nothing{hint}"
        )
    return ""


# ----------------------------------------------------------------------------- comparing one quantity


def _compare(ctx: _Context, i: int, quantity: str, got: torch.Tensor) -> QuantityResult:
    got64 = got.detach().to("cpu", torch.float64).numpy()
    declared = _declared(ctx, i, quantity)
    if declared is not None:
        cmp = compare_exact(got64, _round_declared(declared, got64.shape, ctx.dtype))
        why = "the case's expect= declares this result exactly (a point where the derivative does not exist)"
    else:
        cmp = ctx.judge.compare(i, quantity, got64)
        why = ""
    message = "" if cmp.passed else _mismatch_message(ctx, i, quantity, cmp, why)
    return QuantityResult(
        ctx.case.id,
        ctx.dtype,
        i,
        quantity,
        cmp.passed,
        comparison=cmp,
        message=message,
        mode=ctx.mode,
        device=ctx.device,
        obtained=got64,
    )


def _mismatch_message(ctx: _Context, i: int, quantity: str, cmp: Comparison, why: str) -> str:
    label = _LABELS.get(quantity) or f"d/d{quantity.removeprefix('grad/')}"
    if why:
        fix = f"{why}: if torch is right, fix the case's expect= entry for point {i}, {quantity!r}."
        head = "torch does not give the declared result!"
    else:
        fix = (
            "The reference is exact (certified digits; `gradgold verify` recomputes them), so torch is "
            "the suspect; only if torch is right is the case's wolfram= expression wrong (fix it and "
            f"run `gradgold generate {ctx.case.id}`)."
        )
        head = "torch and the exact reference are not close!"
    variables = _variables_text(ctx) if quantity in _ORDERS else ""
    if ctx.case.normwise and not why:
        variables += f"Allowance: normwise (the case's normwise=: {ctx.case.normwise})\n"
    element = element_label(ctx, quantity, cmp.worst_index)
    return (
        f"{ctx.tag}, point {i}, {label}: {head}\nWorst element: {element}\n{cmp.summary()}\n"
        f"Inputs: {_inputs_text(ctx, i)}\n{variables}{fix}"
    )


def element_label(ctx: _Context, quantity: str, index: tuple[int, ...]) -> str:
    """The element ``index`` of ``quantity`` as an op author reads it: ``out[4]``,
    ``d out[4] / d x[4]``, ``d^2 out / d x[0] d x[1]``, ``<d out[2], v1>``."""
    out_rank = len(ctx.data.numbers["value"].shape) - 1

    def at(name: str, ix: Sequence[int]) -> str:
        return name + (str(list(ix)) if ix else "")

    if quantity == "value":
        return at("out", index)
    if quantity.startswith("grad/"):
        return f"d {at('out', index[:out_rank])} / d {at(quantity.removeprefix('grad/'), index[out_rank:])}"
    if quantity in _ORDERS:
        names = _variable_names(ctx)
        ks = index[out_rank:]
        wrt = " ".join(f"d {names[k]}" if k < len(names) else f"d #{k}" for k in ks)
        return f"d^{len(ks)} {at('out', index[:out_rank])} / {wrt}"
    if quantity in _PROJECTIONS and index:
        order = "" if quantity == "proj/grad" else "^2"
        return f"d{order} {at('out', index[1:])} along direction v{index[0]}"
    return f"{quantity}{list(index)}"


def _with_suspect(results: list[QuantityResult]) -> list[QuantityResult]:
    """Add to each failed comparison at a point which side of torch is the likely culprit, from
    the evidence of the other quantities: a derivative failing beside a value that matches points
    at the derivative formula of the mode (the backward in reverse mode), not at the forward."""
    value = next((r for r in results if r.quantity == "value"), None)
    out = []
    for r in results:
        if r.passed or r.comparison is None or not r.message:
            out.append(r)
            continue
        if r.quantity == "value":
            hint = "Suspect: torch's forward computation (the value itself is off)."
        elif value is not None and value.passed and value.comparison is not None:
            what = (
                "the backward formula"
                if r.mode in ("reverse", "double_backward", "compile")
                else (f"the derivative rule used by mode {r.mode}")
            )
            hint = (
                f"Suspect: {what}. The value matches (to {value.comparison.max_ulp_err:.3g} ULPs), "
                "this derivative does not."
            )
        elif value is not None and not value.passed:
            hint = "Suspect: torch's forward first: the value is off too, and derivatives often reuse it."
        else:
            hint = ""
        out.append(dataclasses.replace(r, message=f"{r.message}\n{hint}" if hint else r.message))
    return out


def _variable_names(ctx: _Context) -> list[str]:
    """The flattened variables, ``x[0]``, ``x[1]``, ``b``..., in derivative-index order."""
    names = []
    for p in ctx.params:
        shape = ctx.data.inputs[p].shape[1:]
        names += [p + (str(list(ix)) if shape else "") for ix in np.ndindex(*shape)]
    return names


def _variables_text(ctx: _Context) -> str:
    """Which variable each index of a Hessian-like quantity is (they are flattened parameters)."""
    names = _variable_names(ctx)
    shown = ", ".join(f"{k}={n}" for k, n in enumerate(names[:16]))
    more = f", ... ({len(names)} in all)" if len(names) > 16 else ""
    return f"Variables (derivative indices): {shown}{more}\n"


def _declared(ctx: _Context, i: int, quantity: str) -> Any:
    """The case's ``expect={point: {quantity: value}}`` entry, or None."""
    expect: Mapping[Any, Mapping[str, Any]] = getattr(ctx.case, "expect", None) or {}
    entry = expect.get(i, expect.get(str(i), {}))
    return entry.get(quantity)


def _round_declared(value: Any, shape: tuple[int, ...], dtype: str) -> npt.NDArray[np.float64]:
    """The declared value (numbers, "nan", "inf", "-inf", nested lists) as ``dtype`` holds it."""
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
    return torch.from_numpy(np.array(arr)).to(FED_DTYPES[dtype]).double().numpy()


def _exc_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


# ------------------------------------------------------------------------------------ whole checks


@dataclass(frozen=True)
class CaseCheck:
    """All comparisons of one case in one dtype, mode and device, or why none could be made
    (``problem``: missing/stale golden...; ``skipped``: the device is absent or the mode cannot run
    the function)."""

    case_id: str
    dtype: str
    results: tuple[QuantityResult, ...] = ()
    problem: str = ""
    expected_failure: str = ""
    mode: str = "reverse"
    device: str = "cpu"
    skipped: str = field(default="")
    #: The quantities ``expected_failure`` is confined to (empty: the whole check).
    xfail_quantities: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``float32-reverse``: the pytest id's parameter."""
        return check_label(self.dtype, self.mode, self.device)

    @property
    def skip_reason(self) -> str:
        """Why the check is a skip: the check's own reason, or why the mode computed no derivative."""
        if self.skipped:
            return self.skipped
        return "" if self.problem else not_applicable(self.results)

    @property
    def matched(self) -> bool:
        """Whether every comparison passed (whatever was expected)."""
        return not self.problem and all(r.passed for r in self.results)

    def expects(self, result: QuantityResult) -> bool:
        """Whether a mismatch of ``result`` is the recorded failure (its quantity is covered)."""
        return ExpectedFailure(self.expected_failure, self.xfail_quantities).covers(result.quantity)

    @property
    def unexpected(self) -> tuple[QuantityResult, ...]:
        """The mismatches no ``xfail=`` records: all of them, or those outside its quantities."""
        return tuple(r for r in self.results if not r.passed and not self.expects(r))

    @property
    def passed(self) -> bool:
        """Whether the outcome is the expected one: all comparisons pass, or, for a recorded torch
        bug, some comparison it covers fails and no other does (strictly: a torch fix makes this
        False until the case's ``xfail=`` is removed). A skip is not a failure."""
        if self.problem:
            return False
        if self.skip_reason:
            return True
        if self.expected_failure:
            return not self.matched and not self.unexpected
        return self.matched

    @property
    def confined(self) -> str:
        """`` in hessian`` for an expected failure confined to quantities, else ""."""
        return f" in {', '.join(self.xfail_quantities)}" if self.xfail_quantities else ""

    @property
    def xpass_hint(self) -> str:
        """What an XPASS means and which ``xfail=`` key to remove, named by what it covers
        (``float64-forward hessian``): one text for the CLI, the API and the pytest plugin."""
        covers = " ".join([self.label, *self.xfail_quantities])
        return (
            f"expected to fail{self.confined} ({self.expected_failure}) but passed: torch was fixed? "
            f"remove the case's xfail= key that covers {covers}"
        )

    @property
    def status(self) -> str:
        """PASS, FAIL, SKIP, XFAIL (failed as recorded) or XPASS (a recorded failure no longer fails)."""
        if self.skip_reason and not self.problem:
            return "SKIP"
        if self.expected_failure and not self.problem and not self.unexpected:
            return "XFAIL" if not self.matched else "XPASS"
        return "PASS" if self.passed else "FAIL"


def second_order_problem(case: Case, mode: str) -> str:
    """Why ``double_backward`` does not apply ("" where it does): it differentiates the graph of a
    first derivative, which only a second derivative in the golden checks. At first order alone it
    would rerun ``reverse`` and report a double backward it never checked. The case's ``order``
    says what its (fresh) golden holds: every second-order quantity needs order 2 or more. The fix
    named is the one that applies to this case (:func:`_second_order_fix`)."""
    if mode != "double_backward" or case.order >= 2:
        return ""
    return (
        f"not applicable: double_backward checks a second derivative, and the golden of {case.id} holds "
        f"none (order={case.order}); {_second_order_fix(case)}"
    )


def _second_order_fix(case: Case) -> str:
    """How ``case`` gets a Hessian. A real case of few inputs is at first order only because it said
    so; a complex, large or ``strategy="substituted"`` case is at first order by default (or by
    need), so pointing it at "the default" would be wrong."""
    regenerate = "and regenerate to check the double backward"
    if case.strategy == "substituted":
        return (
            "strategy='substituted' computes first derivatives only: declare order=2 with another "
            f"strategy ('auto', 'symbolic' or 'rigorous') {regenerate}"
        )
    if case.is_complex:
        return f"a complex case stays at first order unless it says otherwise: declare order=2 {regenerate}"
    if default_order(case.n_vars) < 2:
        return (
            f"its {case.n_vars} scalar inputs are above the {SECOND_ORDER_INPUTS} that get the Hessian "
            f"by default: declare order=2 (a Hessian of {case.n_vars}^2 entries per output element) "
            f"{regenerate}"
        )
    return (
        "order=1 is declared (a case of its own says why: a Hessian beyond the dtype's range, or too "
        "ill-conditioned to check); declare order=2, the default for a real case of up to "
        f"{SECOND_ORDER_INPUTS} scalar inputs, {regenerate}"
    )


def skip_reason(case: Case, dtype: str, mode: str, device: str = "cpu", absent: str | None = None) -> str:
    """Why a check is skipped before it runs ("" if it runs): the device is absent (``absent``, if
    the caller already knows, replaces asking), it lacks the dtype, or the mode would check nothing
    of its own (:func:`second_order_problem`). The CLI, the API and the pytest plugin all ask here."""
    why = device_problem(device) if absent is None else absent
    return why or dtype_problem(device, dtype) or second_order_problem(case, mode)


def not_applicable(results: Sequence[QuantityResult]) -> str:
    """Why a mode computed none of the derivatives (the first reason), or "". The value is the plain
    forward pass in every mode except compile, so a mode that ran no derivative checked nothing of
    its own: the check is a skip, even though the value was compared."""
    derivatives = [r for r in results if r.quantity != "value"]
    if derivatives and all(r.skipped for r in derivatives) and all(r.passed for r in results):
        return derivatives[0].skipped
    return ""


def run_checks(
    project: Project,
    cases: Sequence[Case],
    dtypes: Sequence[str] | None = None,
    device: str = "cpu",
    modes: Sequence[str] | None = None,
) -> list[CaseCheck]:
    """Check every case in each of its dtypes (or ``dtypes``) and modes (or the requested ``modes``
    it allows) on ``device``."""
    out: list[CaseCheck] = []
    absent = device_problem(device)
    for c in cases:
        combos = [(d, m) for d in _dtypes_of(c, dtypes) for m in case_modes(c, modes)]
        try:
            golden = fresh_golden(project, c)
        except GradgoldError as exc:
            out += [CaseCheck(c.id, d, problem=str(exc), mode=m, device=device) for d, m in combos]
            continue
        judges = Judges(c, golden)  # the references prepared once for every dtype and mode
        out += [check_case(c, golden, d, m, device, absent, judges=judges) for d, m in combos]
    return out


def _dtypes_of(case: Case, requested: Sequence[str] | None) -> list[str]:
    """The case's dtypes, or the requested ones of its kind: complex dtypes for complex inputs."""
    if not requested:
        return list(case.dtypes)
    return [d for d in requested if (d in COMPLEX_PARTS) == bool(case.complex_params)]


def check_case(
    case: Case,
    golden: Golden,
    dtype: str,
    mode: str,
    device: str = "cpu",
    absent: str | None = None,
    fn: Callable[..., Any] | None = None,
    judges: Judges | None = None,
) -> CaseCheck:
    """One case in one dtype, mode and device, as a :class:`CaseCheck` (skipped where the device or
    the dtype on it is unavailable). ``fn`` checks another implementation against the case's golden;
    the case's ``xfail=`` describes its own function only, so it does not apply to ``fn``."""
    why = skip_reason(case, dtype, mode, device, absent)
    xfail = expected_failure(case, dtype, mode) if fn is None else ExpectedFailure()
    if why:
        return CaseCheck(
            case.id,
            dtype,
            mode=mode,
            device=device,
            skipped=why,
            expected_failure=xfail.reason,
            xfail_quantities=xfail.quantities,
        )
    try:
        results = tuple(check_golden(case, golden, dtype, fn=fn, device=device, mode=mode, judges=judges))
    except GradgoldError as exc:
        return CaseCheck(case.id, dtype, problem=str(exc), mode=mode, device=device)
    return CaseCheck(
        case.id,
        dtype,
        results,
        expected_failure=xfail.reason,
        mode=mode,
        device=device,
        xfail_quantities=xfail.quantities,
    )
