"""``gradgold check --junit-xml PATH``: a report CI systems read."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import gradgold_cli, gradgold_here


def test_junit_report_names_items_like_pytest(demo_suite: Path, tmp_path: Path) -> None:
    shutil.copytree(demo_suite, tmp_path, dirs_exist_ok=True)
    case_file = tmp_path / "golden" / "demo.py"
    text = case_file.read_text().replace("w * z**2", "w * z.detach() ** 2")
    case_file.write_text(text + '\n\n@gg.case(wolfram="x", points=[{"x": 1.0}])\ndef new(x):\n    return x\n')
    done = gradgold_cli(tmp_path, "check", "--junit-xml", "reports/gradgold.xml")
    assert done.returncode == 2  # a missing golden outranks a mismatch
    suite = ET.parse(tmp_path / "reports" / "gradgold.xml").getroot().find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors")} == {
        "name": "gradgold",
        "tests": "24",
        "failures": "8",
        "errors": "8",
    }
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    modes = ("reverse", "double_backward", "func", "forward")
    assert sorted(cases) == sorted(
        f"{n}[{d}-{m}]" for n in ("sine", "product", "new") for d in ("float64", "float32") for m in modes
    )
    assert {c.get("classname") for c in cases.values()} == {"golden.demo"}
    failure = cases["product[float64-reverse]"].find("failure")
    assert failure is not None
    assert failure.get("message") == "4 of 8 checks failed"  # grad/z and the Hessian at 2 points
    assert (failure.text or "").startswith(
        "demo/product [float64-reverse], point 0, d/dz: torch and the exact reference are not close!"
    )
    error = cases["new[float32-func]"].find("error")
    assert error is not None
    assert (error.get("message") or "").endswith(
        "is missing; run `gradgold generate demo/new` (or `pytest --gradgold-update`) and commit "
        "golden/demo/new.npz"
    )
    assert list(cases["sine[float64-reverse]"]) == []


def test_an_unwritable_path_is_a_usage_error(demo_suite: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = gradgold_here(demo_suite, "check", "--junit-xml", str(tmp_path / "file" / "x.xml"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"gradgold: error: cannot write the JUnit report to {tmp_path}/file/x.xml")
    assert done.stderr.endswith("; give a writable --junit-xml path\n")
