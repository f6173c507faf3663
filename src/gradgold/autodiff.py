"""Derivatives of a torch function in each execution mode (see :mod:`gradgold.modes`).

All derivatives of order >= 2 are over the case's N scalar variables: every parameter flattened, in
parameter order, row-major. Order k has shape ``out_shape + (N,) * k``; projections along k
directions have shape ``(k, *out_shape)``. Each derivative is computed on request (``full(k)``,
``proj(k, V)``), so an error is charged to the quantities it concerns, not to the whole point.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.autograd.forward_ad as fwad
import torch.func as tfunc

__all__ = ["Differentiator", "NotApplicable", "engine_for", "prepare", "unsupported_reason"]

Fn = Callable[..., Any]

# What torch says when a mode cannot run a function (as opposed to running it wrongly): custom
# autograd.Functions without functorch, vmap or jvp support, ops without forward-mode or double
# backward formulas, data-dependent control flow under vmap, double backward through AOT autograd.
_UNSUPPORTED = re.compile(
    "|".join(
        [
            r"must override the setup_context staticmethod",
            r"does not have vmap support",
            r"must implement the jvp function",
            r"Trying to use forward AD with",
            r"Nested forward mode AD is not supported",
            r"once_differentiable",
            r"Batching rule not implemented",
            r"does not currently support double backward",
            r"derivative for .* is not implemented",
            r"vmap: It looks like you're (calling \.item\(\)|attempting to use a Tensor in some "
            r"data-dependent control flow)",
        ]
    )
)


class NotApplicable(Exception):
    """A mode cannot run the function (see :func:`unsupported_reason`); the message says why."""


def unsupported_reason(exc: BaseException) -> str:
    """The first line of torch's message if ``exc`` says a mode does not support a function, else ""."""
    text = str(exc)
    if isinstance(exc, (RuntimeError, NotImplementedError)) and _UNSUPPORTED.search(text):
        return f"{type(exc).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"
    return ""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch's transforms warn about their own internals (vmap fallbacks, deprecated jit paths); the
    function under test is not at fault, and pytest's ``filterwarnings = error`` must not fail it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_COMPILED: dict[tuple[int, str], Fn] = {}


def prepare(mode: str, fn: Fn) -> Fn:
    """The function as the mode runs it: ``torch.compile(fn)`` for ``compile`` (once per function;
    backend ``inductor``), else ``fn`` itself."""
    if mode != "compile":
        return fn
    key = (id(fn), "inductor")
    if key not in _COMPILED:
        with _quiet():
            compiled = torch.compile(fn, backend="inductor", dynamic=False)

        def run(*args: Any) -> Any:
            with _quiet():
                return compiled(*args)

        _COMPILED[key] = run
    return _COMPILED[key]


def _flat(tensors: Sequence[torch.Tensor], lead: tuple[int, ...]) -> torch.Tensor:
    """Concatenate tensors shaped ``lead + x.shape`` along their flattened trailing part."""
    return torch.cat([t.reshape(*lead, -1) for t in tensors], dim=-1)


def _split(z: torch.Tensor, shapes: Sequence[torch.Size]) -> list[torch.Tensor]:
    sizes = [int(torch.Size(s).numel()) for s in shapes]
    return [part.reshape(s) for part, s in zip(torch.split(z, sizes), shapes, strict=True)]


def _along(full: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``sum_i full[..., i] v[k, i]`` for each direction k, shaped ``(k, *out)``, summed in float64
    on the CPU: the sum is the checker's own arithmetic, not torch's, and in float32 it would add
    an error growing with N (a correct float32 gradient of 10^5 inputs failed its projections)."""
    return torch.movedim(_f64(full) @ _f64(directions).T, -1, 0)


def _f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", torch.float64)


class Differentiator:
    """Derivatives of ``fn`` at ``xs`` (leaves that require grad) in one mode; ``out = fn(*xs)``."""

    def __init__(self, fn: Fn, xs: Sequence[torch.Tensor], out: torch.Tensor) -> None:
        self.fn, self.xs, self.out = fn, list(xs), out
        self.shapes = [x.shape for x in xs]
        self.n = sum(x.numel() for x in xs)

    def full(self, k: int) -> torch.Tensor:
        """Every k-th derivative, shaped ``out_shape + (N,) * k``."""
        raise NotImplementedError

    def proj(self, k: int, directions: torch.Tensor) -> torch.Tensor:
        """``J v`` (k=1) or ``v' H v`` (k=2) for each direction v (rows of ``directions``)."""
        raise NotImplementedError

    def flat_fn(self, z: torch.Tensor) -> torch.Tensor:
        """The function of the N variables as one flat vector (for torch.func)."""
        out: torch.Tensor = self.fn(*_split(z, self.shapes))
        return out

    def point(self) -> torch.Tensor:
        return _flat([x.detach() for x in self.xs], ())


class ReverseEngine(Differentiator):
    """``torch.autograd.grad`` per element; ``create_graph`` only where a next order needs it, or at
    every order for ``double_backward``."""

    def __init__(self, fn: Fn, xs: Sequence[torch.Tensor], out: torch.Tensor, graph_first: bool) -> None:
        super().__init__(fn, xs, out)
        self.graph_first = graph_first
        self._graphs: dict[int, torch.Tensor] = {0: out}

    def _step(self, t: torch.Tensor, create_graph: bool) -> torch.Tensor:
        """d t / d z for every element of t: shape ``t.shape + (N,)`` (zeros where t is constant)."""
        rows = []
        for e in t.reshape(-1):
            if not e.requires_grad:
                rows.append(torch.zeros(self.n, dtype=t.dtype, device=t.device))
                continue
            grads = torch.autograd.grad(
                e, self.xs, retain_graph=True, create_graph=create_graph, allow_unused=True
            )
            filled = [torch.zeros_like(x) if g is None else g for g, x in zip(grads, self.xs, strict=True)]
            rows.append(_flat(filled, ()))
        if not rows:
            return torch.zeros(*t.shape, self.n, dtype=t.dtype, device=t.device)
        return torch.stack(rows).reshape(*t.shape, self.n)

    def graph(self, k: int) -> torch.Tensor:
        """The k-th derivative with its graph kept, for the next order to differentiate."""
        if k not in self._graphs:
            self._graphs[k] = self._step(self.graph(k - 1), create_graph=True)
        return self._graphs[k]

    def full(self, k: int) -> torch.Tensor:
        if k == 1 and self.graph_first:
            return self.graph(1).detach()
        return self._step(self.graph(k - 1), create_graph=False).detach()

    def proj(self, k: int, directions: torch.Tensor) -> torch.Tensor:
        if k == 1:
            return _along(self.full(1), directions)
        g = self.graph(1)  # H v by differentiating <g, v>; the outer sum with v in float64
        return torch.stack(
            [(_f64(self._step((g * v).sum(-1), create_graph=False)) * _f64(v)).sum(-1) for v in directions]
        )


class FuncEngine(Differentiator):
    """``torch.func``: ``jacrev``, then ``jacfwd`` per further order (``hessian`` at order 2)."""

    def full(self, k: int) -> torch.Tensor:
        transform: Fn = tfunc.jacrev(self.flat_fn)
        for _ in range(k - 1):
            transform = tfunc.jacfwd(transform)
        with _quiet():
            result: torch.Tensor = transform(self.point())
        return result.detach()

    def proj(self, k: int, directions: torch.Tensor) -> torch.Tensor:
        if k == 1:
            return _along(self.full(1), directions)
        z = self.point()
        with _quiet():
            hvps = [tfunc.jvp(tfunc.jacrev(self.flat_fn), (z,), (v,))[1] for v in directions]
        return torch.stack([(_f64(hv) * _f64(v)).sum(-1) for hv, v in zip(hvps, directions, strict=True)])


def _make_dual(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    dual: torch.Tensor = fwad.make_dual(x, t)  # type: ignore[no-untyped-call]
    return dual


def _tangent_of(out: torch.Tensor) -> torch.Tensor | None:
    tangent: torch.Tensor | None = fwad.unpack_dual(out).tangent  # type: ignore[no-untyped-call]
    return tangent


class ForwardEngine(Differentiator):
    """Forward mode: dual numbers (``torch.autograd.forward_ad``) for first order, one tangent per
    variable or direction; nested ``torch.func.jvp`` for higher orders (forward_ad cannot nest)."""

    def _tangents(self, vs: torch.Tensor) -> torch.Tensor:
        """The output's tangent along each row of ``vs`` (stacked on a new first axis), one dual
        forward pass each. The passes share one dual level: entering a level (and the warnings
        filter) for each cost more than the pass itself for a small function, and the passes are
        the same either way (each makes fresh duals of the point and reads its own tangent). Each
        row is split into the parameters' tangents once for all rows (views of ``vs``, as a split
        of the row would be: the same values, shapes and strides), and the tangents are stacked
        inside the level (a copy, so none is cloned first)."""
        parts = self._split_rows(vs)
        found = []
        with _quiet(), fwad.dual_level():
            for k in range(vs.shape[0]):
                duals = [_make_dual(x.detach(), t[k]) for x, t in zip(self.xs, parts, strict=True)]
                out = self.fn(*duals)
                tangent = _tangent_of(out)
                found.append((torch.zeros_like(out) if tangent is None else tangent).detach())
            return torch.stack(found)

    def _split_rows(self, vs: torch.Tensor) -> list[torch.Tensor]:
        """``vs`` (rows over the N variables) as one tensor per parameter, ``(rows, *shape)``."""
        parts, start = [], 0
        for shape in self.shapes:
            size = int(shape.numel())
            parts.append(vs[:, start : start + size].reshape(vs.shape[0], *shape))
            start += size
        return parts

    def _nested(self, vs: Sequence[torch.Tensor], last: torch.Tensor | None = None) -> torch.Tensor:
        """The derivative along ``vs[0]``, ``vs[1]``, ... by jvp of jvp. With ``last`` (rows), the
        derivatives along ``vs`` and then each row of ``last``, stacked on a new last axis: the
        innermost jvps of one prefix run inside one nest of outer jvps instead of entering it again
        for each row. Each is the same computation as alone (the outer tangent of a stack is the
        stack of the outer tangents, a copy), and entering a jvp costs more than a small
        function's pass: a Hessian takes N outer jvps instead of N^2."""

        def innermost(z: torch.Tensor) -> torch.Tensor:
            assert last is not None
            return torch.stack([tfunc.jvp(self.flat_fn, (z,), (v,))[1] for v in last], dim=-1)

        def along(depth: int) -> Fn:
            if depth == len(vs):
                return self.flat_fn if last is None else innermost
            inner = along(depth + 1)
            return lambda z: tfunc.jvp(inner, (z,), (vs[depth],))[1]

        with _quiet():
            result: torch.Tensor = along(0)(self.point())
        return result.detach()

    def full(self, k: int) -> torch.Tensor:
        basis = torch.eye(self.n, dtype=self.out.dtype, device=self.out.device)
        if k == 1:
            return torch.movedim(self._tangents(basis), 0, -1)
        rows = [
            self._nested([basis[i] for i in idx], last=basis)
            for idx in itertools.product(range(self.n), repeat=k - 1)
        ]
        stacked = torch.stack(rows, dim=-2)  # (*out, N^(k-1) prefixes, N), the last index fastest
        return stacked.reshape(*self.out.shape, *([self.n] * k))

    def proj(self, k: int, directions: torch.Tensor) -> torch.Tensor:
        if k == 1:
            return self._tangents(directions)
        return torch.stack([self._nested([v, v]) for v in directions])


class CompiledEngine(ReverseEngine):
    """Reverse mode through a compiled graph, quiet: the compiler warns about its own internals."""

    def full(self, k: int) -> torch.Tensor:
        with _quiet():
            return super().full(k)

    def proj(self, k: int, directions: torch.Tensor) -> torch.Tensor:
        with _quiet():
            return super().proj(k, directions)


def engine_for(mode: str, fn: Fn, xs: Sequence[torch.Tensor], out: torch.Tensor) -> Differentiator:
    """The engine of ``mode``; ``fn`` is already :func:`prepare`-d (compiled for ``compile``)."""
    if mode == "reverse":
        return ReverseEngine(fn, xs, out, graph_first=False)
    if mode == "compile":
        return CompiledEngine(fn, xs, out, graph_first=False)
    if mode == "double_backward":
        return ReverseEngine(fn, xs, out, graph_first=True)
    if mode == "func":
        return FuncEngine(fn, xs, out)
    if mode == "forward":
        return ForwardEngine(fn, xs, out)
    raise ValueError(f"unknown mode {mode!r}")
