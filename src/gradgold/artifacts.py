"""What the checker obtained in failed checks, kept as files for CI to upload.

Tests never write goldens; a failure in CI instead leaves, per case, dtype and mode, an ``.npz``
that ``numpy.load(path)`` reads without pickles and a ``.txt`` with the report, so a reviewer can
see the numbers torch produced next to the references without rerunning anything::

    <dir>/<suite>/<case>.<dtype>-<mode>[.<implementation>].npz
        input/<param>, expected/<quantity>, failed/<quantity> (bool per point),
        obtained/<quantity> (what the check itself computed, stacked over the points where torch
        gave a result; obtained_points/<quantity> lists those points when torch raised at others,
        and the metadata holds its error), directions (for projections) and metadata (JSON)
    <dir>/<suite>/<case>.<dtype>-<mode>[.<implementation>].txt   the failure report

The arrays come from the check's own results: nothing is recomputed. ``<dtype>-<mode>``
(``-<device>`` off the CPU) is the pytest id's parameter. A check of another implementation (the
``gradgold`` fixture, :func:`gradgold.check_gradients`) adds ``<module>.<qualname>-<hash>``, the hash over
that name and the implementation's code (its class's methods for an ``autograd.Function``, closures
included), so two implementations never share a file.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
import types
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .autodiff import engine_for, prepare
from .cases import Case
from .check import CaseCheck, QuantityResult, _by_param, real_view, reference_grid
from .golden import DERIVATIVE_TENSORS, Golden, GridData
from .judge import FED_DTYPES
from .modes import check_label

__all__ = ["Implementation", "artifact_stem", "implementation_of", "junit_xml", "obtained", "write_failure"]

#: Characters of ``module.qualname`` kept in a file name (the hash keeps names distinct).
_NAME_CHARS = 80


@dataclass(frozen=True)
class Implementation:
    """Who is checked: ``module`` and ``qualname`` of the implementation (the class, for an
    ``autograd.Function``'s ``apply`` or a module instance) and ``digest``, a hash of that name and
    of its code."""

    module: str
    qualname: str
    digest: str

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname

    @property
    def importable(self) -> bool:
        """Whether ``module.qualname`` can be imported by name (not a local or a lambda)."""
        return (
            bool(self.module)
            and self.module != "__main__"
            and all(part.isidentifier() for part in (*self.module.split("."), *self.qualname.split(".")))
        )

    @property
    def file_part(self) -> str:
        """The implementation's part of an artifact's file name."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)[-_NAME_CHARS:].strip(".")
        return f"{safe}-{self.digest[:10]}"


def implementation_of(fn: Callable[..., Any]) -> Implementation:
    """Name and code hash of an implementation: a function, a bound method (``MyFunction.apply``
    names ``MyFunction``), a ``functools.partial``, a callable object (its class), or a builtin."""
    target, suffix = _target(fn)
    module = str(getattr(target, "__module__", None) or "")
    # A builtin's qualname can be torch's internal class (``_VariableFunctionsClass.sin``).
    first = "__name__" if inspect.isbuiltin(target) else "__qualname__"
    qualname = str(getattr(target, first, None) or getattr(target, "__name__", None) or type(target).__name__)
    qualname += suffix
    h = hashlib.sha256(f"{module}\0{qualname}\0".encode())
    for chunk in _code_chunks(fn, set()):
        h.update(chunk)
    return Implementation(module, qualname, h.hexdigest())


def _target(fn: Any) -> tuple[Any, str]:
    """What names ``fn``: itself, the class behind a bound method or a callable object."""
    if isinstance(fn, functools.partial):
        target, suffix = _target(fn.func)
        return target, suffix + "(partial)"
    owner = getattr(fn, "__self__", None)
    if isinstance(fn, types.MethodType) and owner is not None:
        cls = owner if inspect.isclass(owner) else type(owner)
        return cls, f".{fn.__func__.__name__}"
    if inspect.isfunction(fn) or inspect.isclass(fn) or inspect.isbuiltin(fn):
        return fn, ""
    return type(fn), ""  # a callable object: an nn.Module, an instance with __call__


def _code_chunks(obj: Any, seen: set[int], depth: int = 0) -> Iterator[bytes]:
    """Bytes that change with the implementation's code: function bodies (nested code, names,
    constants), closures, a class's own methods, a partial's arguments. Bounded in depth."""
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    if isinstance(obj, functools.partial):
        yield from _code_chunks(obj.func, seen, depth + 1)
        yield repr((obj.args, obj.keywords))[:2000].encode()
    elif isinstance(obj, types.MethodType):
        yield from _code_chunks(obj.__func__, seen, depth + 1)
        owner = obj.__self__
        yield from _code_chunks(owner if inspect.isclass(owner) else type(owner), seen, depth + 1)
    elif inspect.isfunction(obj):
        yield from _code_bytes(obj.__code__)
        for cell in obj.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if inspect.isfunction(value) or inspect.isclass(value) or isinstance(value, types.MethodType):
                yield from _code_chunks(value, seen, depth + 1)
            else:
                yield f"{type(value).__qualname__}:{_short_repr(value)}".encode()
    elif inspect.isclass(obj):
        for name, member in sorted(vars(obj).items()):
            func = getattr(member, "__func__", member)  # staticmethod, classmethod
            if inspect.isfunction(func):
                yield name.encode()
                yield from _code_chunks(func, seen, depth + 1)
    elif not inspect.isbuiltin(obj) and callable(obj):
        yield from _code_chunks(type(obj), seen, depth + 1)


def _code_bytes(code: types.CodeType) -> Iterator[bytes]:
    """A code object's bytecode, names and constants (nested code too), without its file name or
    line numbers, so the hash is the same on every machine."""
    yield code.co_code
    yield repr(code.co_names).encode()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_bytes(const)
        else:
            yield repr(const).encode()


def _short_repr(value: Any) -> str:
    try:
        return repr(value)[:200]
    except Exception:  # a repr that fails must not stop a report
        return type(value).__name__


def artifact_stem(
    case: Case,
    dtype: str,
    implementation: Implementation | None = None,
    mode: str = "reverse",
    device: str = "cpu",
) -> str:
    """``<suite>/<case>.<dtype>-<mode>`` (plus ``.<module>.<qualname>-<hash>`` for another
    implementation)."""
    stem = f"{case.id}.{check_label(dtype, mode, device)}"
    return f"{stem}.{implementation.file_part}" if implementation is not None else stem


def obtained(
    case: Case,
    data: GridData,
    dtype: str,
    fn: Callable[..., Any] | None = None,
    device: str = "cpu",
    mode: str = "reverse",
) -> dict[str, np.ndarray[Any, Any]]:
    """Torch's value and derivatives at every point of ``data`` as float64, in ``mode``; NaN where
    torch raised or the mode cannot compute them.

    For the tolerance benchmark (``bench/tolerance.py``), which needs every element's error, passed
    or not. Artifacts do not use it: they are written from the check's own results.
    """
    params = tuple(p for p in case.params if p in data.inputs) or tuple(data.inputs)
    func = real_view(case, prepare(mode, fn if fn is not None else case.fn), dtype, params)
    out = {q: np.full(v.shape, np.nan) for q, v in data.numbers.items()}
    for i in range(data.n_points):
        xs = [
            torch.tensor(data.inputs[p][i], dtype=FED_DTYPES[dtype], device=device).requires_grad_(True)
            for p in params
        ]
        try:
            value = func(*xs)
            out["value"][i] = value.detach().to("cpu", torch.float64).numpy()
            engine = engine_for(mode, func, xs, value)
            grads = [q for q in out if q.startswith("grad/")]
            if grads:
                for p, jac in zip(params, _by_param(data, params, engine.full(1)), strict=True):
                    out[f"grad/{p}"][i] = jac.detach().to("cpu", torch.float64).numpy()
            for q, k in DERIVATIVE_TENSORS.items():
                if q in out:
                    out[q][i] = engine.full(k).to("cpu", torch.float64).numpy()
        except Exception:  # what torch did is in the report; the arrays keep NaN there
            continue
    return out


def write_failure(
    directory: Path,
    case: Case,
    golden: Golden,
    dtype: str,
    results: Sequence[QuantityResult],
    implementation: Implementation | None = None,
    device: str = "cpu",
    mode: str = "reverse",
    reproduce: str = "",
) -> Path:
    """Write the ``.npz`` and ``.txt`` of one failed check from its own ``results``; return the
    ``.npz`` path. ``reproduce`` (a command) is kept in the metadata and the text."""
    data = reference_grid(golden, dtype)
    stem = directory.joinpath(*artifact_stem(case, dtype, implementation, mode, device).split("/"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    arrays.update({f"input/{p}": v for p, v in data.inputs.items()})
    arrays.update({f"expected/{q}": v for q, v in data.numbers.items()})
    directions = getattr(golden, "directions", None)
    if directions is not None and any(q.startswith("proj/") for q in data.numbers):
        arrays["directions"] = np.asarray(directions, dtype=np.float64)
    errors: dict[str, dict[str, str]] = {}
    for q in data.numbers:
        mine = {r.point: r for r in results if r.quantity == q}
        arrays[f"failed/{q}"] = np.array(
            [not mine[i].passed if i in mine else False for i in range(data.n_points)]
        )
        got = [i for i in range(data.n_points) if i in mine and mine[i].obtained is not None]
        if got:
            arrays[f"obtained/{q}"] = np.stack([np.asarray(mine[i].obtained, dtype=np.float64) for i in got])
            if len(got) < data.n_points:
                arrays[f"obtained_points/{q}"] = np.array(got, dtype=np.int64)
        missing = {str(i): mine[i].error or mine[i].skipped for i in mine if mine[i].obtained is None}
        if missing:
            errors[q] = missing
    meta: dict[str, Any] = {
        "id": case.id,
        "dtype": dtype,
        "mode": mode,
        "device": device,
        "implementation": implementation.name if implementation else "the case's own function",
    }
    if implementation is not None:
        meta["implementation_hash"] = implementation.digest
    if errors:
        meta["errors"] = errors
    if reproduce:
        meta["reproduce"] = reproduce
    arrays["metadata"] = np.array(json.dumps(meta, sort_keys=True))
    npz = stem.with_name(stem.name + ".npz")
    with npz.open("wb") as f:
        np.savez(f, allow_pickle=False, **{k: arrays[k] for k in sorted(arrays)})
    text = [r.message for r in results if not r.passed]
    if reproduce:
        text.append(f"Reproduce: {reproduce}")
    stem.with_name(stem.name + ".txt").write_text("\n\n".join(text) + "\n")
    return npz


def junit_xml(checks: Sequence[CaseCheck], seconds: float = 0.0) -> bytes:
    """A JUnit XML report of ``gradgold check``: one testcase per case and dtype, named like the
    pytest items (``<case>[<dtype>-<mode>]`` in class ``golden.<suite>``); a skip (absent device,
    mode that cannot run the function) is a ``skipped``. A mismatch is a ``failure``; a
    check that could not run (missing or stale golden...) is an ``error``, as its exit status is 2."""
    suite = ET.Element("testsuite", name="gradgold", tests=str(len(checks)), time=f"{seconds:.3f}")
    suite.set("failures", str(sum(not c.passed and not c.problem for c in checks)))
    suite.set("errors", str(sum(bool(c.problem) for c in checks)))
    suite.set("skipped", str(sum(c.status == "SKIP" for c in checks)))
    for c in checks:
        group, _, name = c.case_id.rpartition("/")
        case = ET.SubElement(suite, "testcase", classname=f"golden.{group}" if group else "golden")
        case.set("name", f"{name}[{c.label}]")
        if c.status == "SKIP":
            ET.SubElement(case, "skipped", message=c.skip_reason)
        elif c.problem:
            ET.SubElement(case, "error", message=c.problem.splitlines()[0]).text = c.problem
        elif not c.passed:
            failed = [r for r in c.results if not r.passed]
            head = f"{len(failed)} of {len(c.results)} checks failed"
            ET.SubElement(case, "failure", message=head).text = "\n\n".join(r.message for r in failed)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"
