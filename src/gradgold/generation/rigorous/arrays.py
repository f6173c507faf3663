"""Wolfram Language array semantics over series: listable arithmetic, Dot, Transpose, Total, Tr,
Det, Inverse, LinearSolve, Norm, Part, Flatten, Outer, Cross.

An array is a numpy object array of ``arb_series`` (never of Python numbers: every element
supports the series' own ``+ - *``, so numpy's loops do the arithmetic). WL threads listable
operations over the *leading* axes (``{a, b} + {{1, 2}, {3, 4}}`` adds ``a`` to the first row),
unlike numpy's trailing-axis broadcasting, so operands of different rank are aligned first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import arb, arb_series

from .balls import NeedPrecision, Refusal, Scalar, coefficient, divide, lift, power, unary

__all__ = ["Value", "as_array", "listable", "obj_array"]

Array = npt.NDArray[np.object_]
Value = Any  # Scalar | Array | str | a held function


def obj_array(items: Sequence[Any], shape: tuple[int, ...]) -> Array:
    """An object array of the given shape from row-major items (numpy would unpack series)."""
    out = np.empty(len(items), dtype=object)
    for i, x in enumerate(items):
        out[i] = x
    return out.reshape(shape)


def as_array(x: Value) -> Array:
    """A scalar or array as an object array of series."""
    if isinstance(x, np.ndarray):
        return x
    return obj_array([lift(x)], ())


def _align(a: Array, b: Array) -> tuple[Array, Array]:
    """WL threading: the operand of lower rank gets trailing unit axes; leading shapes must match."""
    if a.ndim < b.ndim:
        a = a.reshape(a.shape + (1,) * (b.ndim - a.ndim))
    elif b.ndim < a.ndim:
        b = b.reshape(b.shape + (1,) * (a.ndim - b.ndim))
    for x, y in zip(a.shape, b.shape, strict=True):
        if x != y and 1 not in (x, y):
            raise Refusal(f"lists of unequal length {a.shape} and {b.shape} cannot be combined")
    return a, b


def listable(op: Callable[[Any, Any], Any], a: Value, b: Value) -> Value:
    """A binary listable operation on scalars or arrays."""
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        return op(a, b)
    if not isinstance(b, np.ndarray):  # a scalar stays as it is (an exact exponent stays exact)
        return _fill(np.frompyfunc(lambda v: op(v, b), 1, 1)(a))
    if not isinstance(a, np.ndarray):
        return _fill(np.frompyfunc(lambda v: op(a, v), 1, 1)(b))
    x, y = _align(a, b)
    return _fill(np.frompyfunc(op, 2, 1)(x, y))


def _fill(result: Any) -> Value:
    """numpy's ufuncs give a bare object for 0-d input; keep arrays arrays."""
    return result if isinstance(result, np.ndarray) else obj_array([result], ())


def map_scalar(fn: Callable[[Any], Any], a: Value) -> Value:
    """A unary listable function."""
    if isinstance(a, np.ndarray):
        out: Array = np.frompyfunc(fn, 1, 1)(a) if a.size else a
        return out
    return fn(a)


def add(a: Scalar, b: Scalar) -> Scalar:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a + b
    return lift(a) + lift(b)


def mul(a: Scalar, b: Scalar) -> Scalar:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a * b
    if isinstance(a, Fraction) and a.denominator == 1:
        return b * a.numerator
    if isinstance(b, Fraction) and b.denominator == 1:
        return a * b.numerator
    return lift(a) * lift(b)


ARITH: dict[str, Callable[[Any, Any], Any]] = {"Plus": add, "Times": mul, "Power": power, "Divide": divide}


def dot(a: Value, b: Value) -> Value:
    """WL ``Dot``: contracts the last axis of ``a`` with the first of ``b``."""
    x, y = as_array(a), as_array(b)
    if x.ndim == 0 or y.ndim == 0:
        raise Refusal("Dot needs lists (vectors, matrices), not scalars")
    if x.shape[-1] != y.shape[0]:
        raise Refusal(f"Dot: shapes {x.shape} and {y.shape} do not conform")
    if x.shape[-1] == 0:
        raise Refusal("Dot of empty lists")
    if x.ndim == y.ndim == 1:  # the products summed left to right, as tensordot sums them
        return _sum([p * q for p, q in zip(x, y, strict=True)])
    return _unwrap(np.tensordot(x, y, axes=(x.ndim - 1, 0)))


def _unwrap(a: Any) -> Value:
    return a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a


def total(a: Value, levels: int = 1) -> Value:
    """WL ``Total``: sum over the first axis (``Total[m, 2]`` over the first two)."""
    x = as_array(a)
    for _ in range(levels):
        if x.ndim == 0:
            break
        if x.shape[0] == 0:
            return Fraction(0)
        x = np.sum(x, axis=0) if x.ndim > 1 else _sum(list(x))
        if not isinstance(x, np.ndarray):
            return x
    return _unwrap(x)


def _sum(items: list[Any]) -> Any:
    """``items[0] + items[1] + ...``, left to right. Values of one type that can add many at once
    (``gradgold_sum``: a first-order jet accumulates its sparse gradient rows in place, where a left
    fold copies the growing row at every step) do, with the very same additions in the same order."""
    many = getattr(type(items[0]), "gradgold_sum", None)
    if many is not None and all(type(it) is type(items[0]) for it in items):
        return many(items)
    out = items[0]
    for it in items[1:]:
        out = out + it
    return out


def transpose(a: Value) -> Value:
    x = as_array(a)
    if x.ndim < 2:
        raise Refusal("Transpose needs a matrix (a list of depth 2 or more)")
    return np.swapaxes(x, 0, 1)


def tr(a: Value) -> Value:
    x = as_array(a)
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise Refusal(f"Tr of an array of shape {x.shape}: gradgold's evaluator takes square matrices")
    return _sum([x[i, i] for i in range(x.shape[0])])


def _pivot(m: list[list[arb_series]], col: int, rows: range) -> int:
    """The row whose entry in ``col`` is certainly nonzero and largest (by its lower bound)."""
    best, best_mag = -1, arb(-1)
    undecided = False
    for r in rows:
        c0 = coefficient(m[r][col], 0)
        if c0.is_zero():
            continue
        if c0.contains(0):
            undecided = True
            continue
        mag = abs(c0).lower()
        if best < 0 or mag > best_mag:
            best, best_mag = r, mag
    if best < 0:
        if undecided:
            raise NeedPrecision("matrix pivot: every candidate may be 0")
        raise Refusal("the matrix is singular at this point (no nonzero pivot); move the point")
    return best


def _square(a: Value, what: str) -> list[list[arb_series]]:
    x = as_array(a)
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise Refusal(f"{what} needs a square matrix, not shape {x.shape}")
    return [[lift(v) for v in row] for row in x]


def det(a: Value) -> Value:
    """Determinant: by cofactor expansion up to 6x6 (a polynomial: no division, so exact and right
    at singular points, derivatives included), else by elimination with proven-nonzero pivots."""
    m = _square(a, "Det")
    n = len(m)
    if n <= 6:
        return _laplace(m, list(range(n)))
    sign, out = 1, arb_series([arb(1)])
    for col in range(n):
        try:
            p = _pivot(m, col, range(col, n))
        except Refusal:
            return arb_series([arb(0)])  # a whole column of exact zeros below: the det is 0 here
        if p != col:
            m[col], m[p] = m[p], m[col]
            sign = -sign
        out = out * m[col][col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            m[r] = [m[r][j] - f * m[col][j] for j in range(n)]
    return out * sign


def _laplace(m: list[list[arb_series]], cols: list[int]) -> arb_series:
    """Det of the trailing rows of ``m`` restricted to ``cols``, expanding along the first row."""
    row = len(m) - len(cols)
    if len(cols) == 1:
        return m[row][cols[0]]
    out: arb_series | None = None
    for j, c in enumerate(cols):
        term = m[row][c] * _laplace(m, cols[:j] + cols[j + 1 :])
        out = term if out is None else (out - term if j % 2 else out + term)
    assert out is not None
    return out


def solve(a: Value, b: Value) -> Value:
    """``LinearSolve[a, b]`` (b a vector or matrix) by Gauss-Jordan elimination."""
    m = _square(a, "LinearSolve")
    n = len(m)
    rhs = as_array(b)
    vector = rhs.ndim == 1
    cols = rhs.reshape(n, -1) if rhs.ndim else None
    if cols is None or rhs.shape[0] != n:
        raise Refusal(f"LinearSolve: right-hand side of shape {rhs.shape} for a {n}x{n} matrix")
    aug = [row + [lift(v) for v in cols[i]] for i, row in enumerate(m)]
    width = len(aug[0])
    for col in range(n):
        p = _pivot(aug, col, range(col, n))
        aug[col], aug[p] = aug[p], aug[col]
        piv = aug[col][col]
        aug[col] = [v / piv for v in aug[col]]
        for r in range(n):
            if r != col:
                f = aug[r][col]
                aug[r] = [aug[r][j] - f * aug[col][j] for j in range(width)]
    out = obj_array([aug[i][j] for i in range(n) for j in range(n, width)], (n, width - n))
    return out.reshape(n) if vector else out


def inverse(a: Value) -> Value:
    n = as_array(a).shape[0]
    return solve(a, identity(n))


def identity(n: int) -> Array:
    return obj_array([arb_series([arb(int(i == j))]) for i in range(n) for j in range(n)], (n, n))


def norm(a: Value, p: Value = None) -> Value:
    """WL ``Norm``: a vector's 2-norm (or p-norm), a matrix's "Frobenius" norm; ``Norm[matrix]``
    is WL's spectral norm, refused as the engine program refuses it."""
    x = as_array(a)
    if x.ndim == 0:
        return unary("Abs", x.item())
    if isinstance(p, str):
        if p != "Frobenius":
            raise Refusal(f'Norm[..., "{p}"]: only "Frobenius" is supported')
        return unary("Sqrt", total(map_scalar(lambda v: mul(v, v), x.ravel())))
    if x.ndim != 1:
        raise Refusal(
            "Norm[matrix] is WL's spectral norm, which has no usable symbolic derivative; write "
            'Norm[m, "Frobenius"] or a closed form'
        )
    if p is None or p == Fraction(2):
        return unary("Sqrt", total(map_scalar(lambda v: mul(v, v), x)))
    if p == "Infinity":
        raise Refusal("Norm[v, Infinity] is a Max: write Max[Abs[v]]")
    absolute = map_scalar(lambda v: power(unary("Abs", v), p), x)
    return power(total(absolute), divide(Fraction(1), p))


def part(x: Value, specs: list[Any]) -> Value:
    """WL ``Part`` with 1-based (or negative) integers, ``All`` and spans ``{start, end}``."""
    arr = as_array(x)
    index: list[Any] = []
    for axis, s in enumerate(specs):
        if axis >= arr.ndim:
            raise Refusal(f"Part: index {axis + 1} is deeper than the array (shape {arr.shape})")
        size = arr.shape[axis]
        if s == "All":
            index.append(slice(None))
        elif isinstance(s, tuple):
            lo, hi = (_position(v, size) for v in s)
            index.append(slice(lo, hi + 1))
        elif isinstance(s, list):
            index.append([_position(v, size) for v in s])
        else:
            index.append(_position(s, size))
    return _unwrap(arr[tuple(index)])


def _position(v: Any, size: int) -> int:
    if not isinstance(v, Fraction) or v.denominator != 1:
        raise Refusal(f"Part: index {v!r} is not an integer constant")
    i = int(v)
    if not (1 <= abs(i) <= size):
        raise Refusal(f"Part: index {i} is out of range for length {size}")
    return i - 1 if i > 0 else size + i


def outer_times(a: Value, b: Value) -> Value:
    x, y = as_array(a), as_array(b)
    return np.frompyfunc(mul, 2, 1).outer(x, y)


def cross(a: Value, b: Value) -> Value:
    x, y = as_array(a), as_array(b)
    if x.shape != (3,) or y.shape != (3,):
        raise Refusal("Cross needs two 3-vectors")
    items = [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]
    return obj_array(items, (3,))


def from_items(items: list[Value]) -> Value:
    """A WL list of values (scalars or arrays of one shape) as one array."""
    arrays = [as_array(v) for v in items]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise Refusal(f"a ragged list (element shapes {sorted(shapes)}) is not an array")
    shape = (len(items), *(arrays[0].shape if arrays else ()))
    flat = [[lift(v)] if not isinstance(v, np.ndarray) else list(v.ravel()) for v in items]
    return obj_array(list(itertools.chain.from_iterable(flat)), shape)
