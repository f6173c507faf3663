"""Finding a kernel: --kernel, WOLFRAM_KERNEL, WOLFRAM_INSTALLATION_DIRECTORY, then embedded."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import gradgold.generation.engine as engine
from gradgold.errors import KernelNotFoundError


def _kernel(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(autouse=True)
def _no_installed_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WOLFRAM_KERNEL", raising=False)
    monkeypatch.delenv("WOLFRAM_INSTALLATION_DIRECTORY", raising=False)
    monkeypatch.setattr(engine, "_STANDARD_KERNELS", ())


def test_explicit_kernel_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    k = _kernel(tmp_path / "WolframKernel")
    monkeypatch.setenv("WOLFRAM_KERNEL", str(_kernel(tmp_path / "other" / "WolframKernel")))
    assert engine.locate_kernel(str(k)) == (str(k), "wolfram")


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    k = _kernel(tmp_path / "env" / "WolframKernel")
    monkeypatch.setenv("WOLFRAM_KERNEL", str(k))
    assert engine.locate_kernel() == (str(k), "wolfram")
    monkeypatch.delenv("WOLFRAM_KERNEL")
    install = tmp_path / "Mathematica" / "14.1"
    inner = _kernel(install / "Executables" / "WolframKernel")
    monkeypatch.setenv("WOLFRAM_INSTALLATION_DIRECTORY", str(install))
    assert engine.locate_kernel() == (str(inner), "wolfram")


def test_macos_app_layouts_are_found_in_a_directory(tmp_path: Path) -> None:
    app = tmp_path / "Wolfram.app"
    inner = _kernel(app / "Contents" / "MacOS" / "WolframKernel")
    assert engine.locate_kernel(str(app)) == (str(inner), "wolfram")


def test_standard_locations_are_searched_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _kernel(tmp_path / "Wolfram" / "Mathematica" / "13.3" / "Executables" / "WolframKernel")
    new = _kernel(tmp_path / "Wolfram" / "Mathematica" / "14.1" / "Executables" / "WolframKernel")
    monkeypatch.setattr(
        engine, "_STANDARD_KERNELS", (str(tmp_path / "Wolfram/*/*/Executables/WolframKernel"),)
    )
    assert engine.locate_kernel() == (str(new), "wolfram")
    assert old.exists()


def test_a_named_kernel_that_is_not_executable_is_an_error_with_the_fix(tmp_path: Path) -> None:
    script = tmp_path / "wolfram"
    script.write_text("not executable")
    with pytest.raises(
        KernelNotFoundError, match=r"--kernel names .*wolfram, which is not an executable Wolfram"
    ):
        engine.locate_kernel(str(script))
    with pytest.raises(
        KernelNotFoundError, match=r"give the path of WolframKernel \(not the `wolfram` script\)"
    ):
        engine.locate_kernel(str(tmp_path / "missing"))


def test_without_any_kernel_the_embedded_engine_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    path, kind = engine.locate_kernel()
    assert kind == "embedded"
    assert path.endswith("gradgold-embedded-kernel")
    assert engine.locate_kernel(embedded=True) == (path, "embedded")


def test_without_mathics_the_error_says_how_to_get_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(KernelNotFoundError, match=r"install it \(`pip install 'gradgold\[mathics\]'`"):
        engine.locate_kernel()
