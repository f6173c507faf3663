"""Wolfram Language engines: find a kernel, start it through wolframclient, evaluate programs.

There is one code path for every engine: wolframclient's ``WolframLanguageSession``. The engine
is a real Wolfram kernel when one is found, else the embedded engine, a kernel process that
gradgold ships (``gradgold-embedded-kernel``) which speaks the same protocol and evaluates with
Mathics3. wolframclient is imported here only, and only when a session starts, so the checker
never pays for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import KernelHungError, KernelNotFoundError, KernelStartError

try:  # imported here, never in the forked child: an import there could wait on a lock forever
    import resource
except ImportError:  # Windows: no memory limit
    resource = None  # type: ignore[assignment]

__all__ = ["Engine", "EngineInfo", "Outcome", "locate_kernel"]

EMBEDDED = "gradgold-embedded-kernel"

#: The embedded kernel's address-space limit (MiB) unless ``$GRADGOLD_KERNEL_MEMORY_MB`` (or
#: ``gradgold generate --kernel-memory``) says otherwise; 0 means no limit.
DEFAULT_KERNEL_MEMORY_MB = 4096
MEMORY_ENV = "GRADGOLD_KERNEL_MEMORY_MB"
#: Tells the kernel its parent's PID from its first instruction (where PR_SET_PDEATHSIG is missing).
PARENT_ENV = "GRADGOLD_KERNEL_PARENT"

_STANDARD_KERNELS = (
    "/usr/local/Wolfram/*/*/Executables/WolframKernel",
    "/opt/Wolfram/*/*/Executables/WolframKernel",
    "/usr/local/Wolfram/*/Executables/WolframKernel",
    "/Applications/Wolfram.app/Contents/MacOS/WolframKernel",
    "/Applications/*.app/Contents/MacOS/WolframKernel",
    "C:\\Program Files\\Wolfram Research\\*\\*\\WolframKernel.exe",
)


@dataclass(frozen=True)
class EngineInfo:
    """Which engine evaluated a golden; recorded in the golden's metadata."""

    name: str
    version: str
    path: str
    kernels: int = 1


@dataclass(frozen=True)
class Outcome:
    """One evaluation: the deserialized result and the texts of the messages it issued."""

    result: Any
    messages: tuple[str, ...]


def locate_kernel(explicit: str | None = None, embedded: bool = False) -> tuple[str, str]:
    """``(path, kind)`` of the kernel to use, kind being ``"wolfram"`` or ``"embedded"``.

    Order: ``explicit`` (``--kernel``), ``$WOLFRAM_KERNEL``, ``$WOLFRAM_INSTALLATION_DIRECTORY``,
    the standard install locations of Mathematica / Wolfram Engine, then the embedded engine.
    ``embedded=True`` skips straight to the embedded engine.
    """
    if not embedded:
        for source, candidate in _wolfram_candidates(explicit):
            if candidate is None:
                continue
            path = Path(candidate)
            if path.is_dir():
                path = _kernel_in(path) or path
            if not (path.is_file() and os.access(path, os.X_OK)):
                if source == "standard location":
                    continue
                raise KernelNotFoundError(
                    f"{source} names {candidate}, which is not an executable Wolfram kernel; "
                    "give the path of WolframKernel (not the `wolfram` script), e.g. "
                    "/usr/local/Wolfram/Mathematica/14.1/Executables/WolframKernel"
                )
            return str(path), "wolfram"
    return _embedded_path(), "embedded"


def _wolfram_candidates(explicit: str | None) -> list[tuple[str, str | None]]:
    found = [("--kernel", explicit), ("WOLFRAM_KERNEL", os.environ.get("WOLFRAM_KERNEL"))]
    found.append(("WOLFRAM_INSTALLATION_DIRECTORY", os.environ.get("WOLFRAM_INSTALLATION_DIRECTORY")))
    for pattern in _STANDARD_KERNELS:
        found += [("standard location", p) for p in sorted(glob.glob(pattern), reverse=True)]
    return found


def _kernel_in(directory: Path) -> Path | None:
    for rel in (
        "Executables/WolframKernel",
        "Contents/MacOS/WolframKernel",
        "WolframKernel.exe",
        "WolframKernel",
    ):
        if (directory / rel).is_file():
            return directory / rel
    return None


def _embedded_path() -> str:
    """The embedded kernel's executable, which needs the ``mathics`` extra."""
    beside = Path(sys.executable).parent / EMBEDDED
    path = str(beside) if beside.is_file() else shutil.which(EMBEDDED)
    if path is None or importlib.util.find_spec("mathics") is None:
        raise KernelNotFoundError(
            "no Wolfram kernel found and the embedded engine is not installed; either install it "
            "(`pip install 'gradgold[mathics]'`), or point gradgold at "
            "Mathematica / Wolfram Engine with --kernel PATH or WOLFRAM_KERNEL=PATH"
        )
    return path


def kernel_memory_mb() -> int:
    """The embedded kernel's memory limit in MiB (0: none), from ``$GRADGOLD_KERNEL_MEMORY_MB``."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if not text:
        return DEFAULT_KERNEL_MEMORY_MB
    if not text.isdigit():
        raise KernelStartError(
            f"{MEMORY_ENV}={text!r} is not a whole number of MiB; set it to e.g. 8192, or 0 for no limit"
        )
    return int(text)


_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux (looked up before any fork), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc.prctl


def kernel_preexec(parent: int, memory_mb: int) -> Callable[[], None]:
    """What the kernel's child process does between fork and exec, i.e. before its first
    instruction: die with the process that started it, and cap its memory.

    ``PR_SET_PDEATHSIG`` sends SIGKILL when the *thread* that forked exits: wolframclient forks
    from its controller thread, which lives as long as the session, and dies with gradgold even
    under SIGKILL. A parent that died before the ``prctl`` is caught by comparing ``getppid``.
    ``RLIMIT_AS`` caps the address space: an evaluation that needs more fails with a memory error
    instead of taking the machine's memory."""
    prctl = _prctl()
    limit = memory_mb * 1024 * 1024

    def setup() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
        if limit and resource is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return setup


_PATCH_LOCK = threading.Lock()


def _install_kernel_preexec(module: Any) -> None:
    """Make wolframclient's ``Popen`` (looked up in its controller module at each start) apply
    the starting controller's ``gradgold_preexec`` and environment. Only controllers of gradgold
    carry one: any other use of wolframclient in the process is left as it is."""
    with _PATCH_LOCK:
        original = module.Popen
        if getattr(original, "gradgold_patched", False):
            return

        def popen(*args: Any, **kwargs: Any) -> Any:
            thread = threading.current_thread()
            setup = getattr(thread, "gradgold_preexec", None)
            if setup is not None:
                kwargs.setdefault("preexec_fn", setup)
                kwargs.setdefault("env", {**os.environ, **getattr(thread, "gradgold_env", {})})
            return original(*args, **kwargs)

        popen.gradgold_patched = True  # type: ignore[attr-defined]
        module.Popen = popen


class Engine:
    """A running kernel. Use as a context manager: the kernel process never outlives the block,
    nor the gradgold process that started it (see :func:`kernel_preexec`)."""

    def __init__(self, path: str, kind: str, startup_timeout: float = 60.0) -> None:
        self.path, self.kind = path, kind
        self._startup_timeout = startup_timeout
        self._session: Any = None
        self._launched: list[subprocess.Popen[bytes]] = []
        self.info = EngineInfo(name=kind, version="", path=path)

    def __enter__(self) -> Engine:
        from wolframclient.evaluation import WolframLanguageSession
        from wolframclient.evaluation.kernel import kernelcontroller
        from wolframclient.exception import WolframKernelException

        launched = self._launched
        # A real kernel maps far more address space than it uses: only the embedded one is capped.
        memory = kernel_memory_mb() if self.kind == "embedded" else 0
        preexec = kernel_preexec(os.getpid(), memory)
        child_env = {PARENT_ENV: str(os.getpid()), MEMORY_ENV: str(memory)}
        _install_kernel_preexec(kernelcontroller)

        class Controller(kernelcontroller.WolframKernelController):  # type: ignore[misc]
            """Remembers each kernel process it starts: wolframclient kills a kernel that failed to
            start without waiting for it, and we must reap it (and kill it if it lingers). Its
            kernels die with gradgold and have a memory limit (``gradgold_preexec``)."""

            gradgold_preexec = staticmethod(preexec)
            gradgold_env = child_env

            def _kernel_start(self) -> None:
                try:
                    super()._kernel_start()
                finally:
                    if self.kernel_proc is not None:
                        launched.append(self.kernel_proc)

        # Nobody reads the kernel's pipes: give it none, or a chatty kernel blocks at 64 KB.
        self._session = WolframLanguageSession(
            kernel=self.path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            STARTUP_TIMEOUT=self._startup_timeout,
            controller_class=Controller,
        )
        try:
            self._session.start()
        except WolframKernelException as exc:
            self.close()  # a kernel that never said OK may still be running: stop it
            raise KernelStartError(
                f"the {self.kind} kernel at {self.path} did not start ({exc}); "
                f"it said: {_preflight(self.path, self._startup_timeout)}. Check its licence/activation, "
                "or run with the embedded engine (--embedded)"
            ) from exc
        try:
            version = self.evaluate("$Version", timeout=self._startup_timeout).result
        except BaseException:
            self.close()
            raise
        name = "Mathics3 (gradgold embedded engine)" if self.kind == "embedded" else "Wolfram Language"
        self.info = EngineInfo(name=name, version=str(version), path=self.path)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the kernel: ask it to quit, and kill it if it does not (it may be hung)."""
        session, self._session = self._session, None
        if session is not None:
            # A hung or dead kernel may not quit cleanly: it is killed below.
            with contextlib.suppress(Exception):
                session.terminate()
        while self._launched:  # reap each, or Python warns that it is still running
            proc = self._launched.pop()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def evaluate(self, text: str, timeout: float | None = None) -> Outcome:
        """Evaluate WL text; messages are returned, not logged.

        ``timeout`` bounds the wait on the Python side too: ``TimeConstrained`` inside a program
        cannot stop a kernel that is stuck outside the evaluator (or dead without closing its
        socket). A kernel that overruns is then unusable and raises :class:`KernelHungError`.
        """
        import concurrent.futures

        from wolframclient.language import wl

        future = self._session.evaluate_wrap_future(wl.ToExpression(text))
        try:
            wrapped = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            raise KernelHungError(
                f"the {self.info.name} kernel gave no answer within {timeout:.0f} s; it was stopped "
                "and replaced"
            ) from exc
        messages = tuple(str(m[1]) if isinstance(m, tuple) else str(m) for m in (wrapped.messages or ()))
        return Outcome(result=wrapped.result, messages=messages)


def _preflight(path: str, limit: float) -> str:
    """Run the kernel briefly with its output captured, to show why it would not start (a licence
    or activation message, or the output of a binary that is not a kernel at all)."""
    try:
        run = subprocess.run(
            [path, "-noprompt", "-run", "Print[$Version]; Exit[]"],
            capture_output=True,
            timeout=max(5.0, min(30.0, limit)),
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        said = ((exc.stdout or b"") + (exc.stderr or b"")).decode(errors="replace").strip()
        return (
            said.replace("\n", " | ")[:500] + " " if said else ""
        ) + f"<still running after {exc.timeout:.0f} s>"
    except OSError as exc:
        return f"<pre-flight failed: {exc}>"
    said = (run.stdout + run.stderr).strip().replace("\n", " | ")
    return said[:500] or f"<nothing; exit status {run.returncode}>"
