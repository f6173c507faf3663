"""Derivatives by Taylor arithmetic along directions, in one pass per direction.

A pass binds every scalar input ``x_i`` to the series ``x0_i + u_i t`` and evaluates the tree once:
coefficient ``k`` of the result times ``k!`` is the k-th derivative along ``u``. The value, each
gradient entry (u = e_i), each projection (u = v) and, by polarization, each entry of the Hessian
and of the third and fourth derivative tensors come from such passes:
``T(e_i1, ..., e_ik) = sum over nonempty S of (-1)^(k - |S|) c_k(sum_{j in S} e_ij)``, exact in
ball arithmetic (the balls only widen).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import acb, acb_series, arb, arb_mat, arb_series, ctx

from ...cases import Case, Point
from . import arrays as A
from . import complexes as C
from .balls import NeedTerms, Refusal, coefficient, lift
from .evaluate import evaluate
from .jets import Jet, JetUnavailable, MajorantJet, SparseRow
from .tree import Expr

__all__ = ["NeedTerms", "Passes", "quantity_balls", "tensor_balls", "value_balls"]


#: Whether gradients and Hessians come from one jet pass where one applies (the bench turns it off
#: to measure the directional passes side by side).
JETS = True

Direction = tuple[float, ...]
Balls = npt.NDArray[np.object_]  # arrays of arb


class Passes:
    """Evaluates one tree at one point along directions, caching each (direction, order) pass."""

    #: Whether the passes are the magnitude pass's majorants (its jets are then majorant jets).
    majorant = False

    def __init__(self, tree: Expr, case: Case, point: Point, guard: int) -> None:
        self.tree, self.case, self.guard = tree, case, guard
        self.x0 = [float(v) for p in case.params for v in np.asarray(point[p], dtype=np.float64).ravel()]
        self.cache: dict[tuple[Direction, int], tuple[tuple[int, ...], list[arb_series]]] = {}
        self.out_shape: tuple[int, ...] | None = None
        self.constants: dict[tuple[int, int], list[arb_series]] = {}

    def run(self, u: Direction, order: int) -> tuple[tuple[int, ...], list[arb_series]]:
        key = (u, order)
        if key not in self.cache:
            self.cache[key] = self._run(u, order)
        return self.cache[key]

    def _run(self, u: Direction, order: int) -> tuple[tuple[int, ...], list[arb_series]]:
        ctx.cap = order + 1 + self.guard
        key = (int(ctx.cap), int(ctx.prec))
        if key not in self.constants:  # series are immutable: the inputs' constant series are shared
            self.constants = {key: [arb_series([arb(x)]) for x in self.x0]}
        inputs: list[Any] = list(self.constants[key])
        for i, ui in enumerate(u):
            if ui:
                inputs[i] = arb_series([arb(self.x0[i]), arb(ui)])
        env: dict[str, Any] = {"I": acb_series([acb(0, 1)])} if self.case.is_complex else {}
        start = 0
        for p in self.case.params:
            shape = tuple(self.case.shapes[p])
            size = math.prod(shape)
            items = inputs[start : start + size]
            if p in self.case.complex_params:  # real pairs (re, im) -> x + i y
                items = [self._complex(start + j, u) for j in range(0, size, 2)]
                shape = shape[:-1]
            env[self.case.wl_names[p]] = items[0] if not shape else A.obj_array(items, shape)
            start += size
        value = evaluate(self.tree, env)
        if isinstance(value, (str, bool)) or not (
            isinstance(value, np.ndarray)
            or hasattr(value, "denominator")
            or isinstance(value, (arb_series, acb_series))
        ):
            raise Refusal(f"the expression evaluates to {value!r}, not a number or an array of numbers")
        arr = A.as_array(value)
        if self.case.complex_output:  # the value as real pairs (re, im), like its golden
            parts = [part for v in arr.ravel() for part in (C.real(v), C.imag(v))]
            return (*arr.shape, 2), [lift(v) for v in parts]
        return arr.shape, [lift(self._real(v)) for v in arr.ravel()]

    def _complex(self, i: int, u: Direction) -> acb_series:
        """The complex input whose real and imaginary parts are scalar inputs ``i`` and ``i + 1``."""
        z0 = acb(arb(self.x0[i]), arb(self.x0[i + 1]))
        if not (u[i] or u[i + 1]):
            return acb_series([z0])
        return acb_series([z0, acb(arb(u[i]), arb(u[i + 1]))])

    def _real(self, v: Any) -> Any:
        """A value a case declares real (``complex_output=False``): its real part, refused where its
        imaginary part is proven not 0 (then the function is complex-valued)."""
        if not isinstance(v, acb_series):
            return v
        for k in range(int(ctx.cap)):
            im = C.ccoef(v, k).imag
            if not im.contains(0):
                raise Refusal(
                    f"the case declares complex_output=False but the value has imaginary part "
                    f"{im.str(5)} (Taylor coefficient {k}); the function is complex-valued here: remove "
                    "complex_output=False, or fix the wolfram= expression (e.g. Abs[z]^2, not z^2)"
                )
        return C.real(v)

    def coefficients(self, u: Direction, k: int, order: int | None = None) -> list[arb]:
        """The k-th Taylor coefficient of every output element along ``u``."""
        shape, series = self.run(u, order if order is not None else k)
        self.out_shape = shape
        out = []
        for s in series:
            if s.prec <= k:
                raise NeedTerms()
            out.append(coefficient(s, k))
        return out


def _unit(n: int, counts: dict[int, int]) -> Direction:
    return tuple(float(counts.get(i, 0)) for i in range(n))


def _generic(n: int) -> Direction:
    """A direction with distinct exact entries, along which a removable singularity at the point
    (sinc at 0, or a function of x - y at x = y) is taken as its limit."""
    return tuple(1 + (i + 1) / 1024 for i in range(n))


def value_balls(p: Passes) -> tuple[tuple[int, ...], list[arb]]:
    vals = p.coefficients(_generic(len(p.x0)), 0)
    assert p.out_shape is not None
    return p.out_shape, vals


def tensor_balls(p: Passes, k: int) -> list[list[arb]]:
    """The k-th derivative tensor, entry lists per output element, in row-major (i1, ..., ik) order."""
    n = len(p.x0)
    entries: dict[tuple[int, ...], list[arb]] = {}
    for idx in itertools.combinations_with_replacement(range(n), k):
        total: list[arb] | None = None
        for size in range(1, k + 1):
            for subset in itertools.combinations(range(k), size):
                counts: dict[int, int] = {}
                for j in subset:
                    counts[idx[j]] = counts.get(idx[j], 0) + 1
                c = p.coefficients(_unit(n, counts), k)
                sign = (-1) ** (k - size)
                total = (
                    [sign * x for x in c]
                    if total is None
                    else [t + sign * x for t, x in zip(total, c, strict=True)]
                )
        assert total is not None
        entries[idx] = total
    full = []
    for idx in itertools.product(range(n), repeat=k):
        full.append(entries[tuple(sorted(idx))])
    return full


def jet_tensors(
    tree: Expr, case: Case, point: Point, m: int, majorant: bool = False
) -> dict[int, list[list[arb]]]:
    """The gradient (and, for order 2, the Hessian) of all ``m`` outputs in one pass of
    :class:`.jets.Jet` values (with ``majorant``, of the magnitude pass's majorants:
    :class:`.jets.MajorantJet`), as :func:`tensor_balls` lays them out; {} where a jet pass does not
    apply (a complex case, order above 2, no full Jacobian) or cannot be made (a removable
    singularity...: :class:`.jets.JetUnavailable`), and the directional passes take over."""
    if case.is_complex or not case.full_jacobian or case.order > 2:
        return {}
    x0 = [float(v) for p in case.params for v in np.asarray(point[p], dtype=np.float64).ravel()]
    n = len(x0)
    old_cap, old_second = ctx.cap, Jet.second
    ctx.cap, Jet.second = case.order + 1, case.order == 2
    try:
        # First order: sparse rows (O(N) balls for N inputs); a Hessian needs dense ones.
        units: list[Any] = (
            [arb_mat(1, n, [int(i == j) for j in range(n)]) for i in range(n)]
            if Jet.second
            else [SparseRow({i: arb(1)}) for i in range(n)]
        )
        inputs: list[Any] = (
            [MajorantJet(arb(x), abs(arb(x)), units[i]) for i, x in enumerate(x0)]
            if majorant
            else [Jet(arb(x), units[i]) for i, x in enumerate(x0)]
        )
        env: dict[str, Any] = {}
        start = 0
        for p in case.params:
            shape = tuple(case.shapes[p])
            size = math.prod(shape)
            items = inputs[start : start + size]
            env[case.wl_names[p]] = items[0] if not shape else A.obj_array(items, shape)
            start += size
        value = evaluate(tree, env)
        if isinstance(value, (str, bool)):
            return {}
        lift_jet = MajorantJet.of if majorant else Jet.of
        outputs = [lift_jet(v) for v in A.as_array(value).ravel()]
    except (JetUnavailable, NeedTerms, ZeroDivisionError, ValueError, TypeError):
        return {}
    finally:
        ctx.cap, Jet.second = old_cap, old_second
    if len(outputs) != m:
        return {}
    zero = arb(0)
    out = {1: [[o.g[0, e] if o.g is not None else zero for o in outputs] for e in range(n)]}
    if case.order == 2:
        out[2] = [
            [o.h[min(i, j), max(i, j)] if o.h is not None else zero for o in outputs]
            for i in range(n)
            for j in range(n)
        ]
    return out


def quantity_balls(
    tree: Expr, case: Case, point: Point, guard: int, passes: type[Passes] = Passes
) -> dict[str, tuple[tuple[int, ...], list[arb]]]:
    """Balls of every quantity the golden holds at one point, each with its shape, row-major.
    Names and layouts as in the golden: value, grad/<param> (output axes first), hessian, d3, d4,
    proj/grad and proj/hess (direction axis first). ``passes`` is the pass runner (the magnitude
    pass brings its own)."""
    p = passes(tree, case, point, guard)
    out_shape, value = value_balls(p)
    result: dict[str, tuple[tuple[int, ...], list[arb]]] = {"value": (out_shape, value)}
    n, m = case.n_vars, len(value)
    jets = jet_tensors(tree, case, point, m, passes.majorant) if guard == 0 and JETS else {}
    if case.full_jacobian:
        for k in range(1, case.order + 1):
            t = jets[k] if k in jets else tensor_balls(p, k)  # [entry][output]
            flat = [t[e][o] for o in range(m) for e in range(len(t))]
            if k == 1:
                start = 0
                for param in case.params:
                    size = math.prod(case.shapes[param])
                    block = [t[start + j][o] for o in range(m) for j in range(size)]
                    result[f"grad/{param}"] = ((*out_shape, *case.shapes[param]), block)
                    start += size
            else:
                name = {2: "hessian", 3: "d3", 4: "d4"}[k]
                result[name] = ((*out_shape, *(n,) * k), flat)
    if case.projections:
        dirs = case.directions()
        top = 2 if case.order >= 2 else 1
        grads, hess = [], []
        for v in dirs:
            u = tuple(float(x) for x in v)
            grads += p.coefficients(u, 1, top)
            if top == 2:
                hess += [2 * c for c in p.coefficients(u, 2, top)]
        result["proj/grad"] = ((len(dirs), *out_shape), grads)
        if top == 2:
            result["proj/hess"] = ((len(dirs), *out_shape), hess)
    return result
