"""What the checker obtained in failed checks, kept as files for CI to upload.

Tests never write goldens; a failure in CI instead leaves, per case and dtype, an ``.npz`` that
``numpy.load(path)`` reads without pickles and a ``.txt`` with the report, so a reviewer can see the
numbers torch produced next to the references without rerunning anything::

    <dir>/<suite>/<case>.<dtype>-<mode>.npz   input/<param>, expected/<quantity>,
                                       obtained/<quantity> (NaN where torch raised),
                                       failed/<quantity> (bool per point) and metadata (JSON)
    <dir>/<suite>/<case>.<dtype>-<mode>.txt   the failure report

``<dtype>-<mode>`` (``-<device>`` off the CPU) is the pytest id's parameter and always the last
dot-separated part, so two checks never share a file; checks of other implementations (the
``gradgold`` fixture) add the implementation's name and a hash of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .autodiff import engine_for, prepare
from .cases import Case
from .check import _DTYPES, CaseCheck, QuantityResult, _by_param, _Context, real_view, reference_grid
from .golden import Golden, GridData
from .modes import check_label

__all__ = ["artifact_stem", "junit_xml", "obtained", "write_failure"]


def artifact_stem(case: Case, dtype: str, label: str = "", mode: str = "reverse", device: str = "cpu") -> str:
    """``<suite>/<case>.<dtype>-<mode>`` (plus ``.<label>-<hash>`` for another implementation)."""
    stem = f"{case.id}.{check_label(dtype, mode, device)}"
    if label:
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", label)[:40]
        stem += f".{safe}-{hashlib.sha256(label.encode()).hexdigest()[:8]}"
    return stem


def obtained(
    case: Case,
    data: GridData,
    dtype: str,
    fn: Callable[..., Any] | None = None,
    device: str = "cpu",
    mode: str = "reverse",
    golden: Golden | None = None,
) -> dict[str, np.ndarray[Any, Any]]:
    """Torch's value and derivatives at every point of ``data`` as float64, in ``mode``; NaN where
    torch raised or the mode cannot compute them.

    The checker's results carry comparisons, not arrays, so this evaluates again (the same way
    the checker does); it runs only for failed checks.
    """
    params = tuple(p for p in case.params if p in data.inputs) or tuple(data.inputs)
    func = real_view(case, prepare(mode, fn if fn is not None else case.fn), dtype, params)
    out = {q: np.full(v.shape, np.nan) for q, v in data.numbers.items()}
    for i in range(data.n_points):
        xs = [
            torch.tensor(data.inputs[p][i], dtype=_DTYPES[dtype], device=device).requires_grad_(True)
            for p in params
        ]
        try:
            value = func(*xs)
            out["value"][i] = value.detach().to("cpu", torch.float64).numpy()
            engine = engine_for(mode, func, xs, value)
            grads = [q for q in out if q.startswith("grad/")]
            if grads:
                ctx = _Context(case, golden or Golden({}, {}), data, dtype, mode, device, params)
                for p, jac in zip(params, _by_param(ctx, engine.full(1)), strict=True):
                    out[f"grad/{p}"][i] = jac.detach().to("cpu", torch.float64).numpy()
            for q, k in (("hessian", 2), ("d3", 3), ("d4", 4)):
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
    fn: Callable[..., Any] | None = None,
    label: str = "",
    device: str = "cpu",
    mode: str = "reverse",
) -> Path:
    """Write the ``.npz`` and ``.txt`` of one failed check; return the ``.npz`` path."""
    data = reference_grid(golden, dtype)
    stem = directory.joinpath(*artifact_stem(case, dtype, label, mode, device).split("/"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    arrays.update({f"input/{p}": v for p, v in data.inputs.items()})
    arrays.update({f"expected/{q}": v for q, v in data.numbers.items()})
    got = obtained(case, data, dtype, fn, device, mode, golden)
    arrays.update({f"obtained/{q}": v for q, v in got.items()})
    for q in data.numbers:
        failed = np.zeros(data.n_points, dtype=bool)
        for r in results:
            if r.quantity == q and not r.passed:
                failed[r.point] = True
        arrays[f"failed/{q}"] = failed
    meta = {
        "id": case.id,
        "dtype": dtype,
        "mode": mode,
        "device": device,
        "implementation": label or "the case's own function",
    }
    arrays["metadata"] = np.array(json.dumps(meta, sort_keys=True))
    npz = stem.with_name(stem.name + ".npz")
    with npz.open("wb") as f:
        np.savez(f, allow_pickle=False, **{k: arrays[k] for k in sorted(arrays)})
    text = [r.message for r in results if not r.passed]
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
