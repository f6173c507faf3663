"""``gradgold-embedded-kernel``: a process that wolframclient can start as if it were WolframKernel.

wolframclient starts a kernel as::

    KERNEL -noprompt -initfile .../initkernel.m
           -run 'ClientLibrary`Private`KernelPrivateStart["tcp://127.0.0.1:P1", "tcp://127.0.0.1:P2"];'

(with ``kernel_loglevel`` set, two more arguments: a log socket and a level 1-4). This process
connects a ZMQ PULL socket to P1 and a PUSH socket to P2, loads Mathics3, sends ``OK``, then
answers each WXF request with the WXF of an ``EvaluationData`` association, until it receives
``Quit`` (or its parent process goes away). The ``-initfile`` is WL code for a real kernel and is
not read. Any other command line prints one line (usage, or ``--version``) and exits.

This module imports nothing heavy at import time: Mathics3 (GPL, see ``LICENSE``) and ZMQ load
only once a real start is requested, so ``--version`` and usage answer at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = ["KernelArgs", "main", "parse_kernel_args"]

PROG = "gradgold-embedded-kernel"

USAGE = (
    f"usage: {PROG} -noprompt -initfile FILE -run "
    '\'ClientLibrary`Private`KernelPrivateStart["tcp://HOST:PORT", "tcp://HOST:PORT"];\' '
    f"(started by wolframclient's WolframLanguageSession(kernel=...)), or {PROG} --version"
)

_START = re.compile(
    r"KernelPrivateStart\[\s*\"(?P<input>[^\"]+)\"\s*,\s*\"(?P<output>[^\"]+)\""
    r"(?:\s*,\s*\"(?P<log>[^\"]+)\"\s*,\s*(?P<level>-?\d+))?\s*\]"
)

# While idle, how often to check that the process that started this kernel still exists.
_PARENT_CHECK_MS = 1000

# How long closing a socket may wait to flush a reply already queued.
_LINGER_MS = 1000


@dataclass(frozen=True)
class KernelArgs:
    """Where to connect: requests come from ``input_uri``, replies go to ``output_uri``."""

    input_uri: str
    output_uri: str
    log_uri: str | None = None
    log_level: int = 4


def parse_kernel_args(argv: Sequence[str]) -> KernelArgs | None:
    """Find the ``KernelPrivateStart[...]`` call in a ``-run`` argument; None when there is none.

    Robust to argument order and spacing; other flags (``-noprompt``, ``-initfile``) are ignored.
    """
    for i, arg in enumerate(argv):
        if arg == "-run" and i + 1 < len(argv):
            found = _START.search(argv[i + 1])
            if found is not None:
                level = found.group("level")
                return KernelArgs(
                    found.group("input"),
                    found.group("output"),
                    found.group("log"),
                    int(level) if level is not None else 4,
                )
    return None


def _mathics_version() -> str | None:
    """The installed Mathics3 version, read without importing it (that takes 2 s)."""
    try:
        return metadata.version("Mathics3")
    except metadata.PackageNotFoundError:
        return None


def _version_line() -> str:
    """One line for ``--version``: this program, gradgold, and the Mathics3 doing the math."""
    try:
        gradgold = metadata.version("gradgold")
    except metadata.PackageNotFoundError:
        gradgold = "unknown"
    mathics = _mathics_version()
    engine = f"Mathics3 {mathics}" if mathics else "Mathics3 NOT INSTALLED"
    return f"{PROG} (gradgold {gradgold}): Wolfram Language kernel for wolframclient on {engine}"


class _KernelLog:
    """The optional log socket: JSON ``{"msg", "level"}`` lines, as ``initkernel.m`` sends."""

    def __init__(self, socket: Any, level: int) -> None:
        self.socket = socket
        self.level = level

    def __call__(self, level: int, msg: str) -> None:
        """Send ``msg`` if ``level`` reaches the threshold; never block, never raise."""
        if self.socket is None or level < self.level:
            return
        try:
            import zmq

            payload = json.dumps({"msg": msg, "level": level}).encode("utf-8")
            self.socket.send(payload, flags=zmq.NOBLOCK)
        except Exception:  # a lost log line must not take the kernel down
            pass


def _quiet_process() -> None:
    """Nobody reads this process's stdout (wolframclient passes a pipe): send it to /dev/null.

    A kernel that writes 64 KB to an unread pipe blocks forever. Python warnings are dropped for
    the same reason; stderr is kept for fatal errors only. SIGINT (a Ctrl-C in the terminal that
    reaches the whole process group) is left to the parent, which stops the kernel itself.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _watch_parent(parent: int) -> None:
    """Exit at once when the process that started this kernel goes away, even mid-evaluation.

    A generator killed with SIGKILL can send no ``Quit``; a kernel busy in a long evaluation would
    otherwise live on until it finishes (up to the case's timeout), holding CPU and, for a real
    kernel, a licence. The idle loop checks too; this thread covers the busy case.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_MS / 1000)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parent() -> int:
    """The PID of the gradgold process that started this kernel: given in ``$GRADGOLD_KERNEL_PARENT``
    (read at the first instruction, so a parent killed during this process's start-up is noticed
    on every platform), else the current parent."""
    given = os.environ.get("GRADGOLD_KERNEL_PARENT", "")
    return int(given) if given.isdigit() else os.getppid()


def _serve(args: KernelArgs, parent: int) -> int:
    """Connect, load Mathics3, acknowledge with ``OK``, then answer requests until ``Quit``."""
    import zmq

    context = zmq.Context()
    sockets: list[Any] = []
    try:
        pull = context.socket(zmq.PULL)
        sockets.append(pull)
        pull.connect(args.input_uri)
        push = context.socket(zmq.PUSH)
        sockets.append(push)
        push.connect(args.output_uri)
        log = _KernelLog(None, args.log_level)
        if args.log_uri is not None:
            log.socket = context.socket(zmq.PUB)
            sockets.append(log.socket)
            log.socket.connect(args.log_uri)

        from gradgold.generation.embedded.engine import MathicsEvaluator, QuitRequested

        engine = MathicsEvaluator(on_output=log)
        from gradgold.generation.embedded import sandbox

        sandbox.install(engine.session)  # from here on, the kernel only computes
        push.send(b"OK")
        log(2, f"Connected to logging socket: {args.log_uri}")

        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        while True:
            if not poller.poll(_PARENT_CHECK_MS):
                if os.getppid() != parent:
                    return 0  # orphaned: nobody will ever send Quit
                continue
            frame = pull.recv()
            log(1, "Evaluating a new expression.")
            try:
                reply = engine.handle(frame)
            except QuitRequested as quit_request:
                return quit_request.code
            push.send(reply)
            log(1, "Done responding.")
    finally:
        for socket in sockets:
            socket.close(linger=_LINGER_MS)
        context.term()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: serve wolframclient when started as a kernel, else print one line and exit."""
    parent = _parent()
    if os.getppid() != parent:  # gradgold died while this process was starting: nobody to serve
        return 1
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in ("--version", "-version", "-v"):
        print(_version_line())
        return 0 if _mathics_version() else 1
    if args_list and args_list[0] in ("--help", "-help", "-h"):
        print(USAGE)
        return 0
    args = parse_kernel_args(args_list)
    if args is None:
        print(USAGE, file=sys.stderr)
        return 2
    if _mathics_version() is None:
        print(
            f"{PROG}: Mathics3 is not installed; install it with `pip install gradgold[mathics]`",
            file=sys.stderr,
        )
        return 1
    _watch_parent(parent)
    _quiet_process()
    try:
        code = _serve(args, parent)
    except Exception as exc:  # fatal: say why on stderr, the one place left to say it
        print(f"{PROG}: fatal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    # Sockets are closed; skip tearing down Mathics3's modules (about 0.5 s), so that
    # wolframclient's stop(), which waits for the process, returns at once.
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
