"""Artifacts and hints per implementation: every implementation checked against a golden gets its
own files (module, qualname and a hash of its code), and its report says how to rerun its check."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gradgold.api import mismatch_report
from gradgold.artifacts import artifact_stem, implementation_of
from gradgold.cases import case
from gradgold.check import QuantityResult


def _scaled(k: float) -> torch.autograd.Function:
    class Scaled(torch.autograd.Function):
        @staticmethod
        def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
            return x * k

        @staticmethod
        def backward(ctx: object, g: torch.Tensor) -> torch.Tensor:
            return g * k

    return Scaled  # type: ignore[return-value]


def test_autograd_functions_are_named_by_class_and_told_apart_by_code() -> None:
    a, b = implementation_of(_scaled(2.0).apply), implementation_of(_scaled(3.0).apply)
    assert a.qualname == b.qualname == "_scaled.<locals>.Scaled.apply"
    assert a.module == __name__
    assert a.digest != b.digest  # same code, different closure
    assert implementation_of(_scaled(2.0).apply).digest == a.digest  # stable
    assert not a.importable


def test_functions_modules_partials_and_builtins() -> None:
    assert implementation_of(torch.sin).name == "torch.sin"
    assert implementation_of(torch.nn.Linear(2, 2)).name == "torch.nn.modules.linear.Linear"
    part = implementation_of(functools.partial(torch.add, alpha=2))
    assert part.name == "torch.add(partial)"
    assert part.digest != implementation_of(functools.partial(torch.add, alpha=3)).digest
    assert implementation_of(test_functions_modules_partials_and_builtins).importable

    def one(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    def two(x: torch.Tensor) -> torch.Tensor:
        return x + 2

    two.__qualname__ = one.__qualname__  # same name, other code
    assert implementation_of(one).digest != implementation_of(two).digest


def test_artifact_stems_are_distinct_and_safe() -> None:
    c = case(wolfram="x", points=[{"x": 1.0}], name="lin")(lambda x: x)
    stems = {artifact_stem(c, "float64", implementation_of(_scaled(k).apply)) for k in range(68)}
    assert len(stems) == 68
    stem = artifact_stem(c, "float64", implementation_of(_scaled(1.0).apply), "forward")
    assert stem.startswith(
        "lin.float64-forward.tests.test_artifact_names._scaled._locals_.Scaled.apply-"
    ) or (stem.startswith("lin.float64-forward.test_artifact_names._scaled._locals_.Scaled.apply-"))
    assert "<" not in stem and "/" not in stem


def test_an_overflowing_report_ends_with_the_given_hint() -> None:
    c = case(wolfram="x", points=[{"x": 1.0}], name="lin")(lambda x: x)
    results = [QuantityResult("lin", "float64", i, "value", False, message=f"m{i}") for i in range(8)]
    text = mismatch_report(
        Path("g.npz"), c, "float64", results, "pkg.fused", hint="rerun with `pytest t.py::x`"
    )
    assert (
        text.splitlines()[0]
        == "pkg.fused checked against lin [float64-reverse]: 8 of 8 checks failed against the golden g.npz"
    )
    assert text.splitlines()[-1] == "... and 2 more failed checks; rerun with `pytest t.py::x`"
    own = mismatch_report(Path("g.npz"), c, "float64", results)
    assert own.splitlines()[-1].endswith(
        "`gradgold check lin --dtype float64 --mode reverse --device cpu --json` lists them all"
    )


SIXTY_EIGHT = textwrap.dedent(
    """
    import pytest
    import torch


    def make(k):
        class Wrong(torch.autograd.Function):
            @staticmethod
            def forward(ctx, w, z):
                ctx.save_for_backward(z)
                return w + torch.sin(2 * z)

            @staticmethod
            def backward(ctx, g):
                (z,) = ctx.saved_tensors
                return g, g * 2 * torch.cos(2 * z) * (1 + (k + 1) / 1000)

        return Wrong


    IMPLS = [make(k) for k in range(68)]


    @pytest.mark.parametrize("k", range(68))
    def test_wrong(gradgold, k):
        gradgold.check("demo/sine", IMPLS[k].apply, dtypes=["float64"], modes=["reverse"])
    """
)


def test_68_failing_functions_leave_68_artifacts_from_the_checks_own_results(demo: pytest.Pytester) -> None:
    demo.makepyfile(test_sixty_eight=SIXTY_EIGHT)
    run = demo.runpytest("test_sixty_eight.py", "--gradgold-artifacts", "out")
    run.assert_outcomes(failed=68)
    npz = sorted((demo.path / "out" / "demo").glob("*.npz"))
    assert len(npz) == 68
    assert all(
        p.name.startswith("sine.float64-reverse.test_sixty_eight.make._locals_.Wrong.apply-") for p in npz
    )
    texts = {p.with_suffix(".txt").read_text().splitlines()[-1] for p in npz}
    assert {f"Reproduce: pytest 'test_sixty_eight.py::test_wrong[{k}]'" for k in range(68)} == texts
    obtained = set()
    for path in npz:
        with np.load(path, allow_pickle=False) as data:
            assert not np.isnan(data["obtained/grad/z"]).any()
            np.testing.assert_array_equal(data["failed/grad/w"], [False])
            obtained.add(float(data["obtained/grad/z"][0]))
    assert len(obtained) == 68  # each file holds its own implementation's gradient


def test_the_api_report_of_an_implementation_points_at_its_own_results() -> None:
    from gradgold.api import CheckReport
    from gradgold.check import CaseCheck

    c = case(wolfram="x", points=[{"x": 1.0}], name="lin")(lambda x: x)
    results = tuple(QuantityResult("lin", "float64", i, "value", False, message=f"m{i}") for i in range(8))
    report = CheckReport(c, "pkg.fused", (CaseCheck("lin", "float64", results),), Path("g.npz"))
    assert report.text().splitlines()[-1] == (
        "... and 2 more failed checks; the CheckReport of gradgold.check_gradients('lin', pkg.fused) "
        "holds them all (.failed[i].results)"
    )
