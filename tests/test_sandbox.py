"""The embedded engine's sandbox (issue #15, finding 7): a ``wolfram=`` string may compute, and
nothing else. The audit ran a shell command with ``Run``, deleted, wrote and read files with
``DeleteFile``, ``Export``, ``Import`` and ``Get``, and filled 4.4 GB with ``Range[10^9]``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import embedded_suite

# Each escape the audit tried, and more; {dir} is a scratch directory, {canary} a file in it.
ESCAPES = {
    "Run": 'Run["touch {dir}/run"]',
    "RunProcess": 'RunProcess[{{"touch", "{dir}/runprocess"}}]',
    "StartProcess": 'StartProcess[{{"touch", "{dir}/startprocess"}}]',
    "DeleteFile": 'DeleteFile["{canary}"]',
    "Export": 'Export["{dir}/export.txt", 1]',
    "Import": 'Import["{canary}", "Text"]',
    "Get": 'Get["{canary}"]',
    "Put": 'Put[1, "{dir}/put"]',
    "PutAppend": 'PutAppend[1, "{canary}"]',
    "OpenRead": 'OpenRead["{canary}"]',
    "OpenWrite": 'OpenWrite["{dir}/openwrite"]',
    "OpenAppend": 'OpenAppend["{canary}"]',
    "ReadList": 'ReadList["{canary}", String]',
    "FilePrint": 'FilePrint["{canary}"]',
    "CreateFile": 'CreateFile["{dir}/createfile"]',
    "CreateDirectory": 'CreateDirectory["{dir}/createdirectory"]',
    "CopyFile": 'CopyFile["{canary}", "{dir}/copy"]',
    "RenameFile": 'RenameFile["{canary}", "{dir}/renamed"]',
    "SetDirectory": 'SetDirectory["{dir}"]',
    "FileNames": 'FileNames["*", "{dir}"]',
    "LoadModule": 'LoadModule["os"]',
    "Environment": 'Environment["HOME"]',
    "SetEnvironment": 'SetEnvironment["GRADGOLD_PWNED" -> "1"]',
    "Compile": "Compile[{{x}}, x^2]",
}

_SCRIPT = """
import json, sys
from gradgold.generation.engine import Engine, locate_kernel

path, kind = locate_kernel(embedded=True)
with Engine(path, kind, startup_timeout=300) as engine:  # a loaded machine starts slowly
    for text in json.loads(sys.argv[1]):
        outcome = engine.evaluate(text, timeout=120)
        print(json.dumps({"result": str(outcome.result), "messages": list(outcome.messages)}))
"""


def test_each_escape_fails_with_a_clear_message(tmp_path: Path) -> None:
    home, tmp_path = tmp_path / "home", tmp_path / "scratch"  # gradgold's own process may write in HOME
    home.mkdir()
    tmp_path.mkdir()
    canary = tmp_path / "canary.txt"
    canary.write_text("1\n")
    texts = [t.format(dir=tmp_path, canary=canary) for t in ESCAPES.values()]
    texts += [f'Unprotect[Run]; ClearAll[Run]; Run["touch {tmp_path}/cleared"]']
    texts += ["N[Sin[1/3] + 2^10, 30]"]  # computing still works afterwards
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(texts)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    outcomes = [json.loads(line) for line in done.stdout.splitlines()]
    for name, outcome in zip(ESCAPES, outcomes, strict=False):
        assert outcome["result"] == "$Failed", (name, outcome)
        assert outcome["messages"] == [
            f"General::sandbox: {name} is not allowed in the gradgold embedded engine: a case's WL "
            "expression is code, and the engine only computes (no programs, no files, no network). "
            "Compute the case's value from its parameters alone"
        ], name
    cleared, computed = outcomes[len(ESCAPES) :]
    assert cleared["result"].startswith("Run[")  # its code is gone: nothing left to run
    assert computed["result"].startswith("1024.32719469679615")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt"]
    assert canary.read_text() == "1\n"


_HOOK = """
import os, subprocess, sys
from gradgold.generation.embedded.sandbox import SandboxError, _hook

sys.addaudithook(_hook((sys.prefix, sys.base_prefix)))
attempts = {
    "process": lambda: subprocess.run(["true"]),
    "system": lambda: os.system("true"),
    "write": lambda: open(sys.argv[1] + "/written", "w"),
    "read": lambda: open(sys.argv[1] + "/canary").read(),
    "os.open": lambda: os.open(sys.argv[1] + "/canary", os.O_RDONLY),
    "remove": lambda: os.remove(sys.argv[1] + "/canary"),
    "listdir": lambda: os.listdir(sys.argv[1]),
    "chdir": lambda: os.chdir(sys.argv[1]),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "ALLOWED")
    except SandboxError as exc:
        print(name, "refused:", str(exc).split(" is not allowed")[0])
import json  # reading Python's own library is allowed
print("import", "ok")
"""


def test_the_python_layer_refuses_processes_and_files_outside_python(tmp_path: Path) -> None:
    """Whatever builtin asks: the audit hook refuses by default (the WL layer is the first)."""
    (tmp_path / "canary").write_text("secret")
    done = subprocess.run(
        [sys.executable, "-c", _HOOK, str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "process refused: subprocess.Popen 'true'",
        "system refused: os.system b'true'",
        f"write refused: writing the file '{tmp_path}/written'",
        f"read refused: reading the file '{tmp_path}/canary'",
        f"os.open refused: reading the file '{tmp_path}/canary'",
        f"remove refused: os.remove '{tmp_path}/canary'",
        f"listdir refused: listing the directory '{tmp_path}'",
        f"chdir refused: os.chdir '{tmp_path}'",
        "import ok",
    ]
    assert (tmp_path / "canary").read_text() == "secret"


CASES = """\
import torch

import gradgold as gg


@gg.case(wolfram='Run["touch escaped"]; x', points=[{"x": 0.5}], strategy="symbolic")
def shell(x):
    return x


@gg.case(wolfram='StringLength[StringRepeat["ab", 10^9]] x', points=[{"x": 0.5}], strategy="symbolic")
def hog(x):
    return x


@gg.case(wolfram="x^2", points=[{"x": 0.5}])
def square(x):
    return x**2
"""


def test_generation_names_the_case_that_escapes_or_runs_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADGOLD_KERNEL_MEMORY_MB", "1024")
    done = embedded_suite(tmp_path, "box", CASES, jobs=1)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "failed  box/shell" in out and "failed  box/hog" in out and "box/square" not in out
    assert "case box/shell:" in out and "General::sandbox: Run is not allowed" in out
    assert "case box/hog:" in out
    assert "the evaluation needed more memory than its limit of 1024 MiB" in out
    assert not (tmp_path / "escaped").exists()
    assert (tmp_path / "golden" / "box" / "square.npz").exists()
