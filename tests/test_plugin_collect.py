"""Collection: one readable item per case, dtype and mode, selectable like any test, and a plugin that
costs nothing to load."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

MODES = ("reverse", "double_backward", "func", "forward")


def test_items_are_case_x_dtype_x_mode_with_readable_ids(demo: pytest.Pytester) -> None:
    run = demo.runpytest("golden", "--collect-only", "-q")
    assert run.outlines[:16] == [
        f"golden/demo.py::{c}[{d}-{m}]"
        for c in ("sine", "product")
        for d in ("float64", "float32")
        for m in MODES
    ]


def test_a_full_run_passes_and_reports_nothing_else(demo: pytest.Pytester) -> None:
    run = demo.runpytest("golden", "-v")
    run.assert_outcomes(passed=16)
    run.stdout.fnmatch_lines(["golden/demo.py::sine[[]float64-reverse[]] PASSED*"])
    run.stdout.no_fnmatch_line("*gradgold:*")


def test_k_and_node_ids_select_items(demo: pytest.Pytester) -> None:
    demo.runpytest("golden", "-k", "product and float32").assert_outcomes(passed=4)
    demo.runpytest("golden", "-k", "product and float32 and func").assert_outcomes(passed=1)
    demo.runpytest("golden/demo.py::sine[float64-reverse]").assert_outcomes(passed=1)
    demo.runpytest("-m", "gradgold", "golden").assert_outcomes(passed=16)


def test_a_case_file_is_never_imported_as_a_test_module(demo: pytest.Pytester) -> None:
    path = demo.path / "golden" / "demo.py"
    path.write_text(path.read_text() + "\n\ndef test_not_a_test():\n    raise AssertionError\n")
    demo.runpytest("golden/demo.py").assert_outcomes(passed=16)


def test_a_broken_case_file_is_a_collection_error_naming_it(demo: pytest.Pytester) -> None:
    (demo.path / "golden" / "demo.py").write_text("import gradgold as gg\nraise ValueError('oops')\n")
    run = demo.runpytest("golden")
    assert run.ret == pytest.ExitCode.INTERRUPTED
    run.stdout.fnmatch_lines(
        [
            "*/golden/demo.py: importing the case file failed at */golden/demo.py:2: ValueError: oops; "
            "fix the file"
        ]
    )


def test_files_outside_the_golden_dir_are_ordinary(demo: pytest.Pytester) -> None:
    demo.makepyfile(test_other="def test_one():\n    pass\n")
    demo.runpytest("test_other.py").assert_outcomes(passed=1)


def test_loading_the_plugin_imports_neither_torch_nor_the_checker(demo: pytest.Pytester) -> None:
    """The plugin is loaded in every pytest run of the environment, golden tests or not."""
    demo.makepyfile(
        test_light=textwrap.dedent(
            """
            import sys

            def test_nothing_heavy_was_imported():
                assert "gradgold.plugin" in sys.modules
                assert "torch" not in sys.modules
                assert "gradgold.check" not in sys.modules
            """
        )
    )
    demo.runpytest_subprocess("test_light.py").assert_outcomes(passed=1)
    code = "import sys, gradgold.plugin; print(sorted({'torch', 'gradgold.check'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
