"""The embedded kernel's sandbox: a case's ``wolfram=`` string may compute, nothing else.

A WL expression is code: Mathics3 runs shell commands (``Run``), deletes, reads and writes files
(``DeleteFile``, ``Export``, ``Import``, ``Get``, ``Put``, ``OpenWrite``...), loads Python modules
(``LoadModule``) and calls C (``Compile``). A case file arrives in a pull request, so once the
kernel has started the sandbox takes two layers:

1. **WL**: every builtin of Mathics3's file, directory, import/export, process, environment and
   compilation modules (and a few named ones) is replaced by a definition that issues
   ``General::sandbox`` naming the function and returns ``$Failed``; their Python code is gone
   from the session, so ``Unprotect``/``ClearAll`` cannot bring it back.
2. **Python** (deny by default): an audit hook, which cannot be removed once added, refuses every
   process start, every file opened for writing, every file read outside the Python installation
   (where Mathics3, SymPy and mpmath load their code and data), every file or directory change,
   network connection and ``ctypes`` library load, whatever builtin asks for it.

The memory limit is set by the process that starts the kernel (``RLIMIT_AS``, see
``gradgold.generation.engine.kernel_preexec``); this module only names it in the message when it is hit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["DENIED_MODULES", "DENIED_NAMES", "SandboxError", "install", "sandbox_message"]

#: Mathics3 modules whose builtins touch files, directories, processes or native code.
DENIED_MODULES = (
    "mathics.builtin.files_io.",
    "mathics.builtin.file_operations.",
    "mathics.builtin.directories.",
    "mathics.builtin.fileformats.",
    "mathics.builtin.image.misc",
    "mathics.builtin.compilation",
)

#: Builtins denied by name, wherever Mathics3 defines them (some may not exist in this version).
DENIED_NAMES = frozenset(
    {
        "Run",
        "RunProcess",
        "StartProcess",
        "KillProcess",
        "Install",
        "LoadModule",
        "Environment",
        "GetEnvironment",
        "SetEnvironment",
        "Breakpoint",
        "PythonCProfileEvaluation",
        "URLFetch",
        "URLSave",
        "URLRead",
        "SystemOpen",
        "Compile",
        "CompiledFunction",
        "Needs",
        "Get",
        "Put",
        "PutAppend",
        "Import",
        "Export",
        "DeleteFile",
        "CreateFile",
        "SetDirectory",
    }
)

# Audit events refused outright (prefixes match "os.exec" -> os.execv, os.execve...).
_DENIED_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.startfile",
    "pty.spawn",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chdir",
    "os.chmod",
    "os.chown",
    "os.chflags",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.utime",
    "os.putenv",
    "os.unsetenv",
    "os.mkfifo",
    "os.mknod",
    "shutil.",
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "ctypes.dlopen",
    "webbrowser.open",
)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class SandboxError(PermissionError):
    """Something the sandbox refuses; its text says what and why."""


def sandbox_message(what: str) -> str:
    """The one text every refusal carries."""
    return (
        f"{what} is not allowed in the gradgold embedded engine: a case's WL expression is code, and "
        "the engine only computes (no programs, no files, no network). Compute the case's value "
        "from its parameters alone"
    )


def install(session: Any, allowed_roots: Iterable[str] = ()) -> None:
    """Sandbox the running kernel: deny the WL builtins, then add the audit hook. Call once, after
    Mathics3 is loaded and the kernel's sockets are connected."""
    _deny_builtins(session)
    roots = {os.path.realpath(r) for r in (*_python_roots(), *allowed_roots) if r}
    sys.dont_write_bytecode = True
    sys.addaudithook(_hook(tuple(sorted(roots))))


def _python_roots() -> list[str]:
    """Where Python, Mathics3 and their libraries read their code and data from."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    roots += [p for p in sys.path if p and os.path.isdir(p)]
    return roots


def _deny_builtins(session: Any) -> None:
    """Replace each denied builtin's Python definition with one that refuses."""
    from mathics.core.load_builtin import _builtins

    definitions = session.definitions
    denied = sorted(
        name
        for name, builtin in _builtins.items()
        if type(builtin).__module__.startswith(DENIED_MODULES) or name.rsplit("`", 1)[-1] in DENIED_NAMES
    )
    denied += [f"System`{n}" for n in sorted(DENIED_NAMES) if f"System`{n}" not in _builtins]
    text = sandbox_message("`1`").replace('"', "'")
    session.evaluate(f'General::sandbox = "{text}"')
    for name in denied:
        definitions.builtin.pop(name, None)
        definitions.user.pop(name, None)
    if hasattr(definitions, "clear_cache"):
        definitions.clear_cache()
    rules = [
        f'{name}[___] := (Message[General::sandbox, "{name.rsplit("`", 1)[-1]}"]; $Failed)'
        for name in denied
        if name.rsplit("`", 1)[-1].lstrip("$").isalnum()
    ]
    session.evaluate("; ".join(rules) + "; Protect[" + ", ".join(denied) + "];")


def _hook(roots: tuple[str, ...]) -> Any:
    def refuse(what: str) -> None:
        raise SandboxError(sandbox_message(what))

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(_DENIED_EVENTS):
            refuse(f"{event}{_shown(args)}")
        elif event in ("os.listdir", "os.scandir", "glob.glob") and args and not inside(args[0]):
            refuse(f"listing the directory {args[0]!r}")
        elif event == "open":
            path, mode, flags = [*args, None, None, None][:3]
            if isinstance(path, int):  # an already open descriptor: nothing new is reached
                return
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing:
                refuse(f"writing the file {path!r}")
            if not inside(path):
                refuse(f"reading the file {path!r}")

    def inside(path: Any) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False
        real = os.path.realpath(os.fsdecode(path))
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    return hook


def _shown(args: tuple[Any, ...]) -> str:
    return f" {args[0]!r:.100}" if args else ""
