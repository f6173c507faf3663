"""A kernel never outlives the gradgold process that started it (issue #15, finding 3).

The audit killed gradgold with SIGKILL during start-up: before the kernel had imported zmq and
learnt its parent, and it stayed alive under PID 1 (2 of 3 tries). Here gradgold is killed at
random moments of start-up, 20 times, and no kernel may be left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

CASES = """\
import gradgold as gg


@gg.case(wolfram="x^2", points=[{"x": 0.5}], strategy="symbolic")  # the engine, not the rigorous path
def square(x):
    return x**2
"""

_KILLS = 20


def _tagged(tag: str) -> set[int]:
    """Live processes whose environment holds ``tag`` (Linux /proc)."""
    found = set()
    needle = f"GRADGOLD_TEST_TAG={tag}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.add(int(proc.name))
    return found


def _kernels(tag: str) -> set[int]:
    out = set()
    for pid in _tagged(tag):
        try:
            if b"gradgold-embedded-kernel" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.add(pid)
        except OSError:
            continue
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_gradgold_during_start_up_leaves_no_kernel(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.gradgold]\n")
    (tmp_path / "golden").mkdir()
    (tmp_path / "golden" / "demo.py").write_text(CASES)
    rng = random.Random(15)
    tag = uuid.uuid4().hex
    env = {**os.environ, "GRADGOLD_TEST_TAG": tag}
    command = [sys.executable, "-m", "gradgold", "generate", "--embedded", "-j", "1", "-q"]
    left: list[tuple[int, str]] = []
    kernels_seen = 0
    for attempt in range(_KILLS):
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Half the kills land anywhere in the first second; the others once the kernel process
        # exists, while it starts Python, imports zmq and loads Mathics3 (a few seconds).
        if attempt % 2 == 0:
            time.sleep(rng.uniform(0.0, 1.0))
        else:
            deadline = time.monotonic() + 20
            while not _kernels(tag) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.5))
        kernels_seen += bool(_kernels(tag))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while _kernels(tag) and time.monotonic() < deadline:
            time.sleep(0.05)
        left += [(attempt, f"pid {pid}") for pid in _kernels(tag)]
        for pid in _kernels(tag):  # do not let one failure leak into the next attempt
            os.kill(pid, signal.SIGKILL)
    assert not left, f"kernels left alive after gradgold was killed: {left}"
    assert kernels_seen >= _KILLS // 2, "too few kills landed while a kernel was starting"
