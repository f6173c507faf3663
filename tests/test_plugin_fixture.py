"""The ``gradgold`` fixture: one golden, many implementations."""

from __future__ import annotations

import textwrap

import pytest

TESTS = textwrap.dedent(
    """
    import torch


    def good(w, z):
        return w + torch.sin(z + z)


    def wrong(w, z):
        return w + torch.sin(2 * z.detach())


    def test_good(gradgold):
        report = gradgold.check("demo/sine", good)
        assert report.passed and report.implementation == "test_impls.good"
        assert {r.dtype for r in report.results} == {"float64", "float32"}
        assert {(c.dtype, c.mode) for c in report.checks} == {
            (d, m) for d in ("float64", "float32") for m in ("reverse", "double_backward", "func", "forward")
        }


    def test_wrong(gradgold):
        gradgold.check("demo/sine", wrong, dtypes=["float64"], modes=["reverse"])


    def test_unknown_id(gradgold):
        gradgold.check("demo/sin", good)


    def test_suite_id(gradgold):
        gradgold.check("demo", good)
    """
)


def test_the_fixture_checks_other_implementations(demo: pytest.Pytester) -> None:
    demo.makepyfile(test_impls=TESTS)
    run = demo.runpytest("test_impls.py", "--gradgold-artifacts", "out")
    run.assert_outcomes(passed=1, failed=3)
    run.stdout.fnmatch_lines(
        [
            "*_ test_wrong _*",
            "test_impls.wrong checked against demo/sine [[]float64-reverse[]]: 2 of 4 checks failed "
            "against the golden */golden/demo/sine.npz",
            "",
            "demo/sine [[]float64-reverse[]], point 0, d/dz: torch and the exact reference are not close!",
        ]
    )
    run.stdout.fnmatch_lines(
        [
            "*_ test_unknown_id _*",
            "gradgold.check('demo/sin', test_impls.good): unknown case id 'demo/sin'; did you mean "
            "demo/sine*",
        ]
    )
    run.stdout.fnmatch_lines(
        [
            "*_ test_suite_id _*",
            "gradgold.check('demo', test_impls.good): 'demo' names a suite of 2 cases; give one case id, "
            "e.g. 'demo/sine'",
        ]
    )
    run.stdout.no_fnmatch_line("*site-packages*")
    run.stdout.no_fnmatch_line("*During handling*")
    written = sorted(p.name for p in (demo.path / "out" / "demo").iterdir())
    assert [name.rsplit("-", 1)[0] for name in written] == [
        "sine.float64-reverse.test_impls.wrong",
        "sine.float64-reverse.test_impls.wrong",
    ]
    text = next((demo.path / "out" / "demo").glob("*.txt")).read_text()
    assert text.endswith("\nReproduce: pytest test_impls.py::test_wrong\n")
