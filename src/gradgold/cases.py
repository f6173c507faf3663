"""Cases: a torch function under test, its Wolfram Language reference, and the points to check.

This module is imported by every case file, so it stays light: numpy only, no torch, no engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import CaseError
from .exact import COMPLEX_PARTS, GRID_NAMES, grid_of, round_to_grid
from .golden import FINGERPRINT_VERSION
from .tolerance import check_overrides
from .wlsource import exact_decimals, wl_names

__all__ = ["Case", "Point", "case", "f32", "unary", "uniform"]


#: How a golden's numbers may be computed: "rigorous" demands gradgold's ball-arithmetic evaluator,
#: "symbolic"/"substituted" the engine's programs, "auto" the evaluator wherever it supports the case.
STRATEGIES: tuple[str, ...] = ("auto", "rigorous", "symbolic", "substituted")

#: Dtypes the checker runs by default.
DEFAULT_DTYPES: tuple[str, ...] = ("float64", "float32")
#: ... and for a case with a complex input.
DEFAULT_COMPLEX_DTYPES: tuple[str, ...] = ("complex128", "complex64")
#: Every dtype a case may name.
DTYPE_NAMES: tuple[str, ...] = (*GRID_NAMES, *COMPLEX_PARTS)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

#: One input point: parameter name -> float64 array (0-d for scalars; a complex parameter of shape S
#: is held as its real and imaginary parts, shape S + (2,), like ``torch.view_as_real``).
Point = dict[str, npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Case:
    """One golden case. Build it with :func:`case`; call it like the function it wraps."""

    name: str
    fn: Callable[..., Any]
    wolfram: str
    params: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...]]
    points: tuple[Point, ...]
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    precision: int = 30
    min_digits: int = 20
    rtol_ulps: Mapping[str, float] = field(default_factory=dict)
    xfail: Mapping[str, str] = field(default_factory=dict)
    order: int = 1
    projections: int = 0
    full_jacobian: bool = True
    strategy: str = "auto"
    modes: tuple[str, ...] | None = None
    require_modes: tuple[str, ...] = ()
    expect: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    complex_params: tuple[str, ...] = ()
    complex_output: bool = False
    normwise: str = ""
    magnitudes: bool = False
    source: str = "<unknown>"
    suite: str = ""
    #: The line of ``source`` that declared the case (0: unknown), where reports point.
    line: int = 0

    @property
    def wl_names(self) -> dict[str, str]:
        """Each parameter's symbol in ``wolfram=`` (see :func:`gradgold.wlsource.wl_name`: itself,
        or camelCase for ``axis_angle``, lower case first for ``C``)."""
        return wl_names(self.params)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def id(self) -> str:
        """``<suite>/<case>``: the name used on the command line and for the golden's path."""
        return f"{self.suite}/{self.name}" if self.suite else self.name

    @property
    def is_complex(self) -> bool:
        """Whether the reference is computed over the complex numbers: a complex input or output."""
        return bool(self.complex_params) or self.complex_output

    @property
    def n_vars(self) -> int:
        """Scalar inputs in all: the length of the flattened variable vector derivatives run over."""
        return sum(math.prod(self.shapes[p]) for p in self.params)

    def directions(self) -> npt.NDArray[np.float64]:
        """The ``projections`` seeded directions, shape (k, n_vars): exact float32-grid values,
        identical on every machine."""
        if not self.projections:
            return np.zeros((0, self.n_vars))
        drawn = uniform(-1, 1, shapes={"v": (self.n_vars,)}, n=self.projections, seed=0)
        return np.stack([d["v"] for d in drawn])

    def expected_failure(self, dtype: str) -> str:
        """Why torch is expected to fail this case in ``dtype`` ("" if it is expected to pass)."""
        return self.xfail.get(dtype) or self.xfail.get("*") or ""

    def grids(self) -> tuple[str, ...]:
        """The float grids whose references the golden holds: float64, plus each other dtype's
        grid where some point is not exactly representable in it."""
        out = ["float64"]
        for grid in dict.fromkeys(grid_of(d) for d in self.dtypes):
            if grid in GRID_NAMES and grid != "float64" and not self.on_grid(grid):
                out.append(grid)
        return tuple(out)

    def on_grid(self, grid: str) -> bool:
        """Whether every point is exactly representable in ``grid``."""
        return all(np.array_equal(round_to_grid(v, grid), v) for p in self.points for v in p.values())

    def fingerprint(self) -> str:
        """Hash of everything the golden's numbers depend on (not the torch function: the golden is
        the mathematics, the function is what is checked against it)."""
        doc = {
            "format_version": FINGERPRINT_VERSION,
            "wolfram": self.wolfram,
            "params": [[p, list(self.shapes[p])] for p in self.params],
            "points": [{k: [float(x).hex() for x in v.ravel()] for k, v in p.items()} for p in self.points],
            "grids": list(self.grids()),
            "precision": self.precision,
            "min_digits": self.min_digits,
            "order": self.order,
        }
        # Keys added after format 1 shipped enter only when used, so older goldens stay fresh.
        if self.projections:
            doc |= {"projections": self.projections, "full_jacobian": self.full_jacobian}
        if self.complex_params:
            doc["complex"] = list(self.complex_params)
        if self.complex_output:
            doc["complex_output"] = True
        if self.magnitudes:
            doc["magnitudes"] = True  # the golden then holds the generator's magnitudes of terms
        if any(p != w for p, w in self.wl_names.items()):
            doc["wl_names"] = self.wl_names
        if exact_decimals(self.wolfram) != self.wolfram:
            doc["exact_decimals"] = 1  # the program evaluates decimals as exact (a format change)
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def valid_name(name: str) -> bool:
    """Whether ``name`` can name a suite or a case: it becomes a file name, and may not escape."""
    return bool(_NAME.match(name))


# Case files register their cases here while the loader executes them (see ``suite.py``).
_collector: list[Case] | None = None
# Where each ``gg.case(...)`` not yet applied to a function was written: a forgotten ``(fn)``
# would otherwise register nothing, silently.
_pending: dict[int, str] = {}
_tokens = itertools.count()


@contextlib.contextmanager
def collecting() -> Iterator[list[Case]]:
    """Collect every case created while the block runs, in creation order (loops included); a
    ``gg.case(...)`` never applied to a function is an error naming its line."""
    global _collector
    previous, _collector = _collector, []
    _pending.clear()
    try:
        yield _collector
        if _pending:
            where = sorted(_pending.values())[0]
            raise CaseError(
                f"{where}: gg.case(...) was never applied to a function, so it declares no case; "
                "write @gg.case(...) above a def, or gg.case(...)(fn)"
            )
    finally:
        _collector = previous
        _pending.clear()


def case(
    wolfram: str,
    points: Sequence[Mapping[str, Any]],
    *,
    name: str | None = None,
    dtypes: Sequence[str] | None = None,
    precision: int = 30,
    min_digits: int = 20,
    rtol_ulps: Mapping[str, float] | None = None,
    xfail: str | Mapping[str, str] | None = None,
    order: int | None = None,
    projections: int = 0,
    full_jacobian: bool = True,
    strategy: str = "auto",
    modes: Sequence[str] | None = None,
    require_modes: Sequence[str] = (),
    expect: Mapping[int, Mapping[str, Any]] | None = None,
    complex_output: bool | None = None,
    normwise: str | None = None,
    magnitudes: bool = False,
) -> Callable[[Callable[..., Any]], Case]:
    """Declare a golden case: decorate the torch function under test.

    ``wolfram`` is the reference in Wolfram Language over the function's parameter names (array
    parameters are bound to symbolic arrays of their shape, so ``W . W`` is a matrix product).
    ``points`` lists the inputs, each a mapping from every parameter name to a number or nested
    list; :func:`uniform` draws reproducible ones. ``rtol_ulps`` overrides the checker's default
    tolerance per dtype, in units of that dtype's machine epsilon.

    ``xfail`` records a known torch bug as a strict expected failure: a reason (with the upstream
    issue number where there is one), for every dtype, or ``{dtype: reason}``. A torch fix then shows
    as a failing "unexpectedly passed" check, never as silence. ``order`` is the highest derivative
    order the golden holds (1: value and gradient; 2 adds the Hessian over all N scalar inputs; 3
    and 4 the third and fourth derivative tensors); without it, 2 for a real case of at most
    :data:`SECOND_ORDER_INPUTS` scalar inputs (so ``double_backward`` checks a second derivative)
    that does not ask for ``strategy="substituted"``, else 1.

    ``projections=k`` adds k seeded directions v (exact, reproducible) and stores <grad f, v> (and
    v' H v for order >= 2), computed from the univariate f(x0 + t v): what a large input can afford
    when a full Jacobian cannot be, which ``full_jacobian=False`` then skips. ``strategy`` picks how
    derivatives are computed: "symbolic" (D, then substitute), "substituted" (substitute
    high-precision numbers, then differentiate along each direction), "rigorous" (gradgold's own
    ball-arithmetic evaluator, no engine: every stored float64 is proven), or "auto" (the rigorous
    evaluator wherever it implements every head of the case, else the engine by size).
    ``modes``/``require_modes`` restrict the checker's execution modes or demand that a mode
    applies; ``expect={point: {quantity: value}}`` declares the result torch must give at a point
    where the derivative does not exist (a subgradient, "nan", "inf"), checked exactly.

    Complex numbers: a parameter whose points hold complex values (``1 + 2j``, or
    ``uniform(..., complex=True)``) is a complex input, checked in complex128 and complex64 by
    default. gradgold differentiates with respect to its real and imaginary parts, so the golden
    holds the real Jacobian; the value is complex (stored as real and imaginary parts) unless
    ``complex_output=False`` declares a real-valued function (a loss), which the generator then
    verifies. ``complex_output=True`` declares a complex-valued function of real inputs.

    A function whose signature Python cannot read (a builtin such as ``torch.exp``) takes its
    parameter names from the points, in the order the first point lists them.

    ``normwise="<evidence>"`` makes the absolute part of the checker's allowance normwise: a
    multiple of the largest element of the quantity at the point instead of each element's own
    magnitude. It is for results computed by normwise backward-stable algorithms (LU, QR, eigen and
    singular value decompositions), whose error in an element that is small or exactly zero is of
    the order of eps times the norm of the result; the string says why (the evidence), and is
    printed in every mismatch. It weakens the check of small elements, so use it only there.

    ``magnitudes=True`` has the generator store each element's magnitude of terms (the derivative
    with every sum of the ``wolfram=`` expression replaced by the sum of absolute values; rigorous
    path only), which replaces ``|ref|`` in the absolute part of the allowance. It is for results
    that are inherently cancelling sums, whatever the implementation (a sum of forces of both signs,
    softmax minus a target); never for a formula whose cancellation a good implementation avoids
    (``x - tanh(x)`` at small x, ``1 - sigmoid``): there it would hide the very bug a case records.
    """
    spec = _Spec(
        wolfram=wolfram,
        points=points,
        name=name,
        dtypes=dtypes,
        precision=precision,
        min_digits=min_digits,
        rtol_ulps=rtol_ulps,
        xfail=xfail,
        order=order,
        projections=projections,
        full_jacobian=full_jacobian,
        strategy=strategy,
        modes=modes,
        require_modes=require_modes,
        expect=expect,
        complex_output=complex_output,
        normwise=normwise,
        magnitudes=magnitudes,
    )
    site = _call_site()
    token = None
    if _collector is not None:
        token = next(_tokens)
        _pending[token] = f"{site[0]}:{site[1]}"

    def decorate(fn: Callable[..., Any]) -> Case:
        if token is not None:
            _pending.pop(token, None)
        return _declare(fn, spec, site, None)

    return decorate


@dataclass(frozen=True)
class _Spec:
    """The options of one case as its declaration wrote them (validated by :func:`_declare`)."""

    wolfram: str
    points: Sequence[Mapping[str, Any]]
    name: str | None = None
    dtypes: Sequence[str] | None = None
    precision: int = 30
    min_digits: int = 20
    rtol_ulps: Mapping[str, float] | None = None
    xfail: str | Mapping[str, str] | None = None
    order: int | None = None
    projections: int = 0
    full_jacobian: bool = True
    strategy: str = "auto"
    modes: Sequence[str] | None = None
    require_modes: Sequence[str] = ()
    expect: Mapping[int, Mapping[str, Any]] | None = None
    complex_output: bool | None = None
    normwise: str | None = None
    magnitudes: bool = False


def _call_site(depth: int = 2) -> tuple[str, int]:
    """(file, line) of the declaration ``depth`` frames up: where errors and reports point, since
    the function under test may be a builtin or live in another package."""
    frame = inspect.currentframe()
    try:
        for _ in range(depth):
            if frame is None:
                break
            frame = frame.f_back
        if frame is None:
            return "<unknown>", 0
        return frame.f_code.co_filename, frame.f_lineno
    finally:
        del frame


def _declare(
    fn: Callable[..., Any], spec: _Spec, site: tuple[str, int], params: tuple[str, ...] | None
) -> Case:
    """Validate one declaration and register the case (``params``: the names the caller binds,
    or None to read them from the function)."""
    built = _build(fn, spec, site, params)
    built = _resolve_complex(built, spec.dtypes, spec.complex_output)
    reasons = {"*": spec.xfail} if isinstance(spec.xfail, str) else dict(spec.xfail or {})
    projections = spec.projections
    n_vars = sum(math.prod(s) for s in built.shapes.values())
    order = (
        spec.order
        if spec.order is not None
        else default_order(n_vars, built.is_complex, spec.strategy == "substituted")
    )
    where = _where(built.source, built.line, built.name)
    if not 1 <= order <= 4:
        raise CaseError(f"{where}: order={order}; use 1 to 4")
    if not all(isinstance(r, str) and r.strip() for r in reasons.values()):
        raise CaseError(f"{where}: xfail= needs a reason for each dtype")
    _check_modes_and_xfail(where, spec.modes, spec.require_modes, reasons)
    _check_xfail_quantities(where, reasons, built.params, order, projections)
    if spec.normwise is not None and not (isinstance(spec.normwise, str) and spec.normwise.strip()):
        raise CaseError(
            f"{where}: normwise= needs the evidence as a non-empty string (why the op rounds normwise)"
        )
    check_overrides(where, built.rtol_ulps, DTYPE_NAMES)
    if projections < 0 or (not spec.full_jacobian and projections == 0):
        raise CaseError(f"{where}: full_jacobian=False needs projections=k > 0 to check anything")
    if spec.strategy not in STRATEGIES:
        raise CaseError(
            f"{where}: strategy={spec.strategy!r}; use 'auto', 'rigorous', 'symbolic' or 'substituted'"
        )
    if order >= 3 and n_vars**order > 4096:
        raise CaseError(
            f"{where}: order={order} over {n_vars} scalar inputs is {n_vars**order} numbers per "
            "point; higher orders are for few scalar inputs (use projections= for large ones)"
        )
    built = dataclasses.replace(
        built,
        xfail=reasons,
        order=order,
        projections=projections,
        full_jacobian=spec.full_jacobian,
        strategy=spec.strategy,
        modes=tuple(spec.modes) if spec.modes is not None else None,
        require_modes=tuple(spec.require_modes),
        expect={int(k): dict(v) for k, v in (spec.expect or {}).items()},
        normwise=spec.normwise or "",
        magnitudes=bool(spec.magnitudes),
    )
    if _collector is not None:
        _collector.append(built)
    return built


#: A real case declared without ``order=`` holds the Hessian when it has at most this many scalar
#: inputs. Measured (bench/TOLERANCE.md, "Second order by default"): on the rigorous path the Hessian
#: costs 2-15x the first order up to 8 inputs (under 0.4 s CPU for 3 points), 9-37x at 16; and its
#: N^2 entries per output element grow the golden. A complex case stays at first order: the engine
#: computes it (the rigorous evaluator is real only), and Mathics3 took over 4 minutes for the
#: Hessian of complex tan and tanh at 4 points.
SECOND_ORDER_INPUTS = 8


def default_order(n_vars: int, is_complex: bool = False, substituted: bool = False) -> int:
    """The derivative order a case of ``n_vars`` scalar inputs holds when it does not say (1 for a
    case that asks for ``strategy="substituted"``, which computes first derivatives only)."""
    return 2 if n_vars <= SECOND_ORDER_INPUTS and not is_complex and not substituted else 1


def unary(
    name: str,
    wolfram: str,
    fn: Callable[..., Any],
    points: Sequence[Any],
    *,
    param: str = "x",
    extreme: Sequence[float] = (),
    extreme_xfail: str | Mapping[str, str] | None = None,
    **options: Any,
) -> tuple[Case, ...]:
    """Declare the cases of a function of one input ``param`` (a scalar, vector or matrix): no
    wrapper, no copied helper. Returns the cases declared, the main one first.

    ``points`` are the values of ``param``, rounded to the float32 grid (:func:`f32`) so one
    reference serves float64 and float32 alike; ``options`` are :func:`case`'s (``xfail``,
    ``dtypes``, ``precision``, ``order`` ...). The main case holds the Hessian by default (see
    :func:`default_order`); a second-order bug is a quantity-keyed ``xfail={"hessian": reason}``,
    which leaves the value and gradient checked.

    ``extreme`` adds a float64-only case ``<name>-extreme`` at these points, unrounded: arguments
    float32 cannot hold or whose results leave its range (``extreme_xfail`` records its known
    failure; first order only).
    """
    site = _call_site()
    if "second" in options:
        # Removed (issue #16 item 5): a "-d2" twin existed only because a recorded failure used to
        # cover a whole check; a quantity key now confines it to the Hessian of the one case.
        raise CaseError(
            f"{_where(site[0], site[1], name)}: gg.unary(second=...) was removed: the case holds its "
            "Hessian by default (order 2 up to SECOND_ORDER_INPUTS scalar inputs), so no '-d2' twin is "
            "needed; drop second= and record a second-order bug on the case itself, "
            "xfail={'hessian': reason} (or {'<dtype>-hessian': reason})"
        )
    precision = options.get("precision", 30)
    declared = [
        _declare(fn, _Spec(wolfram, [{param: v} for v in f32(*points)], name, **options), site, (param,))
    ]
    if extreme:
        pts = [{param: float(v)} for v in extreme]
        # First order: beyond float32's range a second derivative often leaves float64's (Log at
        # 1e-300: -1e600), which no golden can hold; a Hessian at a hard point is a case of its own.
        spec = _Spec(wolfram, pts, f"{name}-extreme", ("float64",), precision, xfail=extreme_xfail, order=1)
        declared.append(_declare(fn, spec, site, (param,)))
    return tuple(declared)


def f32(*values: Any) -> list[Any]:
    """``values`` rounded to the nearest float32 numbers (elementwise through nested lists and
    arrays, complex numbers part by part): points exact in float32 and float64 alike, so one
    reference serves both dtypes."""
    return [_round32(v) for v in values]


def _round32(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.ndim:
        return [_round32(v) for v in arr]
    if np.iscomplexobj(arr):
        return complex(float(np.float32(arr.real)), float(np.float32(arr.imag)))
    return float(np.float32(arr))


def _resolve_complex(built: Case, dtypes: Sequence[str] | None, complex_output: bool | None) -> Case:
    """Default dtypes and output kind from the inputs; complex dtypes need complex inputs."""
    where = _where(built.source, built.line, built.name)
    cplx = bool(built.complex_params)
    chosen = tuple(dtypes) if dtypes is not None else (DEFAULT_COMPLEX_DTYPES if cplx else DEFAULT_DTYPES)
    real = [d for d in chosen if d not in COMPLEX_PARTS]
    if cplx and real:
        raise CaseError(
            f"{where}: input {built.complex_params[0]!r} is complex but dtypes= names {real[0]!r}; "
            f"complex inputs are checked in {list(COMPLEX_PARTS)}"
        )
    if not cplx and len(real) < len(chosen):
        raise CaseError(
            f"{where}: dtypes= names a complex dtype but every input is real; give complex points "
            "(e.g. 1+2j, or gg.uniform(..., complex=True)), or for a complex-valued function of real "
            "inputs keep real dtypes and declare complex_output=True"
        )
    out = cplx if complex_output is None else bool(complex_output)
    return dataclasses.replace(built, dtypes=chosen, complex_output=out)


def _check_modes_and_xfail(
    where: str, modes: Sequence[str] | None, required: Sequence[str], reasons: Mapping[str, str]
) -> None:
    """Mode names and xfail keys must be ones the checker knows: a typo would silently never match."""
    from .modes import MODES

    for label, names in (("modes", modes or ()), ("require_modes", required)):
        unknown = [m for m in names if m not in MODES]
        if unknown:
            raise CaseError(f"{where}: {label}= names unknown mode {unknown[0]!r}; use {list(MODES)}")
    if not all(isinstance(k, str) for k in reasons):
        bad = next(k for k in reasons if not isinstance(k, str))
        raise CaseError(f"{where}: xfail key {bad!r} is not a string; write e.g. 'float32-forward-hessian'")


def _check_xfail_quantities(
    where: str, reasons: Mapping[str, str], params: Sequence[str], order: int, projections: int
) -> None:
    """Each xfail key must name checks and quantities the case has (see :mod:`gradgold.xfail`)."""
    from .xfail import xfail_key_problem

    for key in reasons:
        problem = xfail_key_problem(key, params, order, projections)
        if problem:
            raise CaseError(f"{where}: xfail key {key!r} {problem}")


def _build(
    fn: Callable[..., Any], spec: _Spec, site: tuple[str, int], params: tuple[str, ...] | None
) -> Case:
    """Validate a case's declaration once, where the user wrote it (dtypes are resolved later, by
    :func:`_resolve_complex`)."""
    source = site[0] if site[1] else _source_of(fn)
    cname = str(spec.name or getattr(fn, "__name__", ""))
    where = _where(source, site[1], cname)
    if not valid_name(cname):
        raise CaseError(
            f"{where}: invalid case name; use letters, digits, '_', '.', '-' "
            "(it names the golden file), e.g. name='matrix_norm'"
        )
    wolfram, points, dtypes, precision = spec.wolfram, spec.points, spec.dtypes, spec.precision
    if not isinstance(wolfram, str) or not wolfram.strip():
        raise CaseError(f"{where}: wolfram= must be a non-empty Wolfram Language expression")
    if isinstance(points, Mapping):
        raise CaseError(f"{where}: points= must be a list of mappings, e.g. points=[{{...}}]")
    params, call = _params_of(fn, where, points, params)
    unknown = [d for d in dtypes or () if d not in DTYPE_NAMES]
    if unknown:
        raise CaseError(f"{where}: unknown dtype {unknown[0]!r}; use one of {', '.join(DTYPE_NAMES)}")
    if precision < 16:
        raise CaseError(f"{where}: precision={precision} is below float64's; use 30 or more")
    complex_params = _complex_params(points, params)
    normalized = tuple(_point(p, params, i, where, complex_params) for i, p in enumerate(points))
    if not normalized:
        raise CaseError(f"{where}: no points; give points=[{{...}}] or gg.uniform(...)")
    shapes = {p: normalized[0][p].shape for p in params}
    for i, pt in enumerate(normalized):
        for p in params:
            if pt[p].shape != shapes[p]:
                raise CaseError(
                    f"{where}, point {i}: {p} has shape {pt[p].shape} but point 0 has {shapes[p]}; "
                    "all points of a case share shapes (make another case for another shape)"
                )
    return Case(
        name=cname,
        fn=call,
        wolfram=wolfram,
        params=params,
        shapes=shapes,
        points=normalized,
        precision=precision,
        min_digits=spec.min_digits,
        rtol_ulps=dict(spec.rtol_ulps or {}),
        complex_params=complex_params,
        source=source,
        line=site[1],
    )


def _source_of(fn: Callable[..., Any]) -> str:
    try:
        return inspect.getsourcefile(fn) or "<unknown>"
    except TypeError:
        return "<unknown>"


def _where(source: str, line: int, name: str) -> str:
    """``file:line: case 'name'``: where a message about a case points (the declaration)."""
    return f"{source}:{line}: case {name!r}" if line else f"{source}: case {name!r}"


def _params_of(
    fn: Callable[..., Any], where: str, points: Sequence[Any], given: tuple[str, ...] | None = None
) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """The inputs of a case and how to call ``fn`` with them positionally, in that order.

    ``given``: the names a family binds (``gg.unary``). With a signature: the parameters the first
    point names, in the signature's order; the others keep their defaults (one without a default
    is an input all the same, which the points then lack). Without one (a builtin such as
    ``torch.exp``): the first point's keys, in its order, passed positionally. Each name must map
    to a Wolfram Language symbol (:func:`gradgold.wlsource.wl_name`)."""
    first = points[0] if isinstance(points, Sequence) and points else None
    named = [str(k) for k in first] if isinstance(first, Mapping) else None
    if given:
        names, call = given, fn
    else:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            if not named:
                raise CaseError(
                    f"{where}: cannot read the function's parameters ({exc}); give "
                    "points=[{name: value}] naming them, or wrap it: lambda x: fn(x)"
                ) from exc
            names, call = tuple(named), fn
        else:
            names, call = _from_signature(fn, sig, named, where)
    if not names:
        raise CaseError(f"{where}: the function takes no parameters; a case needs at least one input")
    try:
        wl_names(names)
    except ValueError as exc:
        raise CaseError(
            f"{where}: {exc}; such a parameter cannot be written in wolfram= (wrap the function: "
            "lambda x, y: f(x, y))"
        ) from None
    return names, call


def _from_signature(
    fn: Callable[..., Any], sig: inspect.Signature, named: list[str] | None, where: str
) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """The signature's parameters the points name or that have no default (those without one when
    the points are malformed, for :func:`_point` to report), and ``fn`` or an adapter passing the
    later ones by keyword (keyword-only ones, and any after a parameter left to its default)."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    usable = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    wanted = set(named or ())
    chosen = [p for p in usable if p.name in wanted or p.default is p.empty]
    names = tuple(p.name for p in chosen)
    n_positional = next(
        (i for i, p in enumerate(chosen) if p.name != usable[i].name or p.kind not in kinds), len(chosen)
    )
    if n_positional == len(chosen):
        return names, fn
    late = [p.name for p in chosen[n_positional:] if p.kind is p.POSITIONAL_ONLY]
    if late:
        raise CaseError(
            f"{where}: positional-only parameter {late[0]!r} comes after a parameter the points leave "
            "to its default, so it cannot be passed; give that parameter in the points too"
        )
    return names, _by_keyword(fn, n_positional, names[n_positional:])


def _by_keyword(fn: Callable[..., Any], n_positional: int, keywords: tuple[str, ...]) -> Callable[..., Any]:
    """``fn`` called with a case's inputs in order: the first ``n_positional`` positionally, the
    rest by name."""

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        return fn(*args[:n_positional], **dict(zip(keywords, args[n_positional:], strict=True)))

    return call


def _complex_params(points: Sequence[Any], params: tuple[str, ...]) -> tuple[str, ...]:
    """The parameters some point gives a complex value (Python or numpy complex numbers)."""
    found = set()
    for raw in points:
        if isinstance(raw, Mapping):
            for p in params:
                if p in raw and _is_complex(raw[p]):
                    found.add(p)
    return tuple(p for p in params if p in found)


def _is_complex(value: Any) -> bool:
    try:
        return bool(np.iscomplexobj(np.asarray(value)))
    except (TypeError, ValueError):
        return False


def _point(
    raw: Mapping[str, Any], params: tuple[str, ...], i: int, where: str, complex_params: tuple[str, ...] = ()
) -> Point:
    """One point as float64 arrays, checked against the parameters (a complex parameter as its real
    and imaginary parts along a last axis of 2)."""
    if not isinstance(raw, Mapping):
        raise CaseError(f"{where}, point {i}: expected a mapping {{param: value}}, got {raw!r}")
    keys = set(raw)
    if keys != set(params):
        missing, extra = sorted(set(params) - keys), sorted(keys - set(params))
        raise CaseError(
            f"{where}, point {i}: keys must be the parameters {list(params)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {extra}" if extra else "")
        )
    out: Point = {}
    for p in params:
        kind = "complex" if p in complex_params else "real"
        try:
            value = np.array(raw[p], dtype=np.complex128 if kind == "complex" else np.float64)
        except (TypeError, ValueError) as exc:
            raise CaseError(f"{where}, point {i}: {p}={raw[p]!r} is not a {kind} number or array") from exc
        arr: npt.NDArray[np.float64] = (
            np.stack([value.real, value.imag], axis=-1) if kind == "complex" else value.astype(np.float64)
        )
        if not np.all(np.isfinite(arr)):
            raise CaseError(f"{where}, point {i}: {p} holds a non-finite number; points must be finite")
        out[p] = arr
    return out


def uniform(
    low: float,
    high: float,
    *,
    shapes: Mapping[str, Sequence[int]],
    n: int,
    seed: int,
    complex: bool = False,
) -> list[dict[str, Any]]:
    """``n`` points drawn uniformly from [low, high), identical on every machine and numpy version.

    The numbers come from SHA-256 of (seed, point, parameter, index), not from numpy's generators,
    whose streams may change between releases. They are drawn on the float32 grid (24-bit
    fractions of the interval, then rounded to float32), so one reference serves float64 and
    float32 checks alike. ``complex=True`` draws complex numbers whose real and imaginary parts
    are each drawn so.
    """
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise CaseError(f"uniform: need finite low < high, got low={low!r}, high={high!r}")
    points = []
    for k in range(n):
        point = {}
        for pname in sorted(shapes):
            shape = tuple(int(s) for s in shapes[pname])
            size = math.prod(shape)
            parts = [_draw(low, high, seed, k, pname, size, part) for part in ("", "im")[: 1 + complex]]
            arr = parts[0] + 1j * parts[1] if complex else parts[0]
            point[pname] = arr.reshape(shape)
        points.append(point)
    return points


def _draw(
    low: float, high: float, seed: int, k: int, pname: str, size: int, part: str
) -> npt.NDArray[np.float64]:
    """``size`` numbers on the float32 grid in [low, high) (``part`` "im": the imaginary parts)."""
    key = f"{pname}:{part}" if part else pname
    vals = [_unit(seed, k, key, j) for j in range(size)]
    arr = np.float32(low) + (np.float32(high) - np.float32(low)) * np.array(vals, np.float32)
    arr = np.minimum(arr.astype(np.float32), np.nextafter(np.float32(high), np.float32(low)))
    return arr.astype(np.float64)


def _unit(seed: int, k: int, pname: str, j: int) -> float:
    """A number in [0, 1) with 24 random bits, from a hash of its coordinates."""
    digest = hashlib.sha256(f"gradgold:{seed}:{k}:{pname}:{j}".encode()).digest()
    return (int.from_bytes(digest[:3], "big")) / float(1 << 24)
