"""``gradgold report`` and ``show`` in anyone's project: the title names the project, the
discrepancy list agrees with the FAIL rows, ``--plot`` without matplotlib says what to install and
the plot is linked from the report; ``show`` prints Hessians and higher derivatives."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import gradgold_cli, gradgold_here
from gradgold.cli import main
from gradgold.report import build_report, project_title, render_html, render_markdown
from test_report import Chk, _res

ROOT = Path(__file__).resolve().parents[1]


def test_the_title_comes_from_the_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "softstuff"\n')
    assert project_title(tmp_path) == "softstuff: PyTorch gradient conformance"
    (tmp_path / "pyproject.toml").write_text("[tool.gradgold]\n")
    assert project_title(tmp_path) == f"{tmp_path.name}: PyTorch gradient conformance"
    assert project_title(ROOT) == "gradgold: PyTorch gradient conformance"
    assert (
        (ROOT / "docs" / "conformance.md")
        .read_text()
        .startswith("# gradgold: PyTorch gradient conformance\n")
    )


def test_fail_rows_are_listed_as_discrepancies_and_the_plot_is_linked() -> None:
    failing = Chk(
        "ops/softplus", "float32", (_res("value", 0.5), _res("grad/beta", 3000.0, ok=False)), status="FAIL"
    )
    report = build_report([failing])
    text = render_markdown(report, date="d", torch_version="t", title="softstuff: T", plot="plots/errors.png")
    lines = text.splitlines()
    assert lines[0] == "# softstuff: T"
    assert "![Worst errors per family and dtype](plots/errors.png)" in lines
    section = lines[lines.index("## Discrepancies") + 2]
    assert section == (
        "- `ops/softplus`: **unexpected**: FAIL grad/beta float32 (3e+03 ULPs); torch disagrees with the "
        "exact reference and no xfail= records it (`gradgold check` shows the report)"
    )
    assert "None." not in lines
    page = render_html(report, date="d", torch_version="t", title="softstuff: T", plot="errors.png")
    assert "<title>softstuff: T</title>" in page and '<img src="errors.png"' in page
    assert "<li><code>ops/softplus</code>: unexpected: FAIL grad/beta float32" in page
    clean = build_report([Chk("ops/softplus", "float32", (_res("value", 0.5),))])
    assert "None." in render_markdown(clean, date="d", torch_version="t").splitlines()


def test_report_in_a_project_is_titled_by_it(demo_suite: Path, tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(demo_suite, root)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "softstuff"\n\n[tool.gradgold]\ngolden_dir = "golden"\n'
    )
    done = gradgold_here(root, "report", "--date", "d")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "# softstuff: PyTorch gradient conformance"


def test_plot_without_matplotlib_says_what_to_install(
    demo_suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    monkeypatch.chdir(demo_suite)
    done = CliRunner().invoke(main, ["report", "--plot", "errors.png"])
    assert done.exit_code == 2
    assert not (demo_suite / "errors.png").exists()
    assert done.stderr == (
        "gradgold: error: --plot needs matplotlib, which is not installed; install it with "
        "`pip install 'gradgold[plot]'` (or `pip install matplotlib`), or leave out --plot\n"
    )
    assert "Traceback" not in done.stderr


def test_show_prints_hessians_and_higher_derivatives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    shown = CliRunner().invoke(main, ["show", "orders/atan-d4"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "    hessian [[0.16]]  (50 digits certified)" in lines
    assert "    d3 [[[0.176]]]  (50 digits certified)" in lines
    assert "    d4 [[[[0.2304]]]]  (50 digits certified)" in lines
    assert "  (hessian, d3, d4 are over the variables x)" in lines
    doc = CliRunner().invoke(main, ["show", "orders/atan-d4", "--json"])
    assert '"hessian"' in doc.output


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs the plot extra")
def test_the_plot_is_linked_relative_to_the_report(demo_suite: Path, tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(demo_suite, root)
    (root / "docs" / "img").mkdir(parents=True)
    done = gradgold_cli(
        root, "report", "-o", "docs/report.md", "--plot", "docs/img/errors.png", "--date", "d"
    )
    assert done.returncode == 0, done.stderr
    assert (root / "docs" / "img" / "errors.png").read_bytes().startswith(b"\x89PNG")
    assert "![Worst errors per family and dtype](img/errors.png)" in (root / "docs" / "report.md").read_text()
