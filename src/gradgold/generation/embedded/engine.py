"""Mathics3 behind wolframclient's request/reply: one request frame in, one ``EvaluationData`` out.

A Wolfram kernel started by wolframclient answers every request with the WXF of
``EvaluationData[expr]`` (see wolframclient's ``initkernel.m``). :class:`MathicsEvaluator` does the same
with Mathics3, and keeps going where Mathics3 does not: a Python exception escaping Mathics3 (it
happens, e.g. ``D[Hypergeometric2F1[a, b, c, x], x]``) becomes a failed evaluation with a message
naming it, and ``Quit[]``, which in Mathics3 raises ``SystemExit`` from deep inside, becomes a
:class:`QuitRequested` for the kernel loop to end the process cleanly.

Only the kernel process imports this module: it imports Mathics3 (GPL, see ``LICENSE``).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import mpmath
from mathics import __version__ as mathics_version
from mathics.core.atoms import Integer, Number, String
from mathics.core.expression import Expression
from mathics.core.interrupt import (
    AbortInterrupt,
    BreakInterrupt,
    ContinueInterrupt,
    ReturnInterrupt,
    TimeoutInterrupt,
    WLThrowInterrupt,
)
from mathics.core.load_builtin import import_and_load_builtins
from mathics.core.parser import MathicsSingleLineFeeder, parse
from mathics.core.symbols import Symbol
from mathics.core.systemsymbols import (
    SymbolAborted,
    SymbolBreak,
    SymbolContinue,
    SymbolFailed,
    SymbolHold,
    SymbolOverflow,
    SymbolThrow,
)
from wolframclient.language import wl
from wolframclient.language.expression import WLSymbol

from gradgold.generation.embedded.wxf import WXFDecodeError, decode_request, encode, encode_expression

__all__ = ["ENGINE_NAME", "Evaluated", "MathicsEvaluator", "QuitRequested", "version_string"]

ENGINE_NAME = "gradgold embedded engine"

# Mathics3 stops a derivative chain at $IterationLimit = 4096 (WL: 4096 too, but WL's evaluator
# needs far fewer steps); Infinity is refused, so use a limit no golden value reaches.
_ITERATION_LIMIT = 10**9

#: mpmath's global precision in the embedded kernel: above the highest working precision the
#: generator asks for (90, plus 30 guard digits), see ``MathicsEvaluator._configure``.
LEAK_GUARD_DIGITS = 160

_QUIT_NAMES = frozenset({"System`Quit", "System`Exit"})

# Messages this kernel itself issues; they are attached to General so WL can print them.
_INTERNAL_TAG = "internal"
_DECODE_TAG = "wxfdecode"
_MEMORY_TAG = "nomem"


class QuitRequested(Exception):
    """The request was ``Quit``/``Quit[n]`` (or evaluating it reached Mathics3's ``Quit[]``)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Message:
    """One issued message: ``symbol::tag`` and its formatted text."""

    symbol: str
    tag: str
    text: str

    @property
    def full_text(self) -> str:
        """``Power::infy: Infinite expression 1 / 0 encountered.``, as a notebook shows it."""
        return f"{self.symbol}::{self.tag}: {self.text}"


@dataclass
class Evaluated:
    """What ``EvaluationData`` reports for one evaluation, before it is written as WXF."""

    result_wxf: bytes
    messages: list[Message] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    timing: float = 0.0
    absolute_timing: float = 0.0
    failure_type: str | None = None

    @property
    def success(self) -> bool:
        """WL's rule: an evaluation succeeds when it issued no message and did not fail."""
        return self.failure_type is None and not self.messages

    @property
    def effective_failure_type(self) -> str | None:
        """``"MessageFailure"`` whenever messages were issued, as wolframclient expects."""
        if self.failure_type is None and self.messages:
            return "MessageFailure"
        return self.failure_type

    def to_wxf(self) -> bytes:
        """The reply frame: an association shaped like WL's ``EvaluationData``.

        ``Result`` is a ByteArray holding the result's own WXF frame (wolframclient decodes it
        lazily); ``FailureType`` is ``None`` on success.
        """
        names = [_message_name(message) for message in self.messages]
        failure = self.effective_failure_type
        return encode(
            {
                "Result": self.result_wxf,
                "Success": self.success,
                "FailureType": WLSymbol("None") if failure is None else failure,
                "OutputLog": self.output,
                "Messages": names,
                "MessagesText": [message.full_text for message in self.messages],
                # Simplified: WL also holds the message arguments, Mathics3 keeps only the text.
                "MessagesExpressions": [wl.Hold(wl.Message(name)) for name in names],
                "Timing": self.timing,
                "AbsoluteTiming": self.absolute_timing,
            }
        )


def _message_name(message: Message) -> Any:
    """``MessageName[symbol, "tag"]``, which wolframclient shows as ``symbol::tag``."""
    return wl.MessageName(WLSymbol(message.symbol), message.tag)


def version_string() -> str:
    """``$Version`` of the embedded engine: names Mathics3 and the libraries that do the math."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    return (
        f"Mathics3 {mathics_version} ({ENGINE_NAME}; SymPy {metadata.version('sympy')}, "
        f"mpmath {metadata.version('mpmath')}, Python {python})"
    )


class MathicsEvaluator:
    """One Mathics3 session that turns request frames into ``EvaluationData`` reply frames."""

    def __init__(self, on_output: Callable[[int, str], None] | None = None) -> None:
        """Load Mathics3 (the slow part of start-up, about 2 s) and set it up like a kernel.

        ``on_output(level, text)`` is told of every message (level 3) and ``Print`` (level 2),
        for the kernel's optional log socket.
        """
        import_and_load_builtins()  # must precede MathicsSession (its builtins table)
        from mathics.session import MathicsSession

        self.session = MathicsSession(character_encoding="UTF-8")
        self.definitions = self.session.definitions
        self.evaluation = self.session.evaluation
        self.on_output = on_output
        self._configure()

    def _configure(self) -> None:
        """Kernel-wide settings: a usable $IterationLimit, a $Version naming this engine, and
        mpmath's global precision raised to :data:`LEAK_GUARD_DIGITS`.

        Some Mathics3 paths compute with mpmath's *global* precision instead of their operands':
        ``Sqrt`` of a Complex-headed number whose imaginary part is 0 (as the product
        ``Sin[z] Sin[Conjugate[z]]`` is), or ``w Conjugate[w]`` of a 40-digit w, came back right
        to 16 digits only, labelled precision 40, identically at every working precision, so the
        generator's two-precision certification could not see it. With the global precision
        above any working precision the generator uses, those paths are exact to the digits asked.
        """
        mpmath.mp.dps = LEAK_GUARD_DIGITS
        self.session.evaluate(f"$IterationLimit = {_ITERATION_LIMIT}")
        self.session.evaluate("Unprotect[$Version]")
        set_version = Expression(Symbol("System`Set"), Symbol("System`$Version"), String(version_string()))
        set_version.evaluate(self.evaluation)
        self.session.evaluate("Protect[$Version]")
        self.evaluation.out = []

    def symbol(self, name: str) -> Any:
        """Resolve a WXF symbol name the way ``BinaryDeserialize`` does ($Context, $ContextPath)."""
        return Symbol(self.definitions.lookup_name(name))

    def number(self, text: str) -> Any:
        """Parse a checked big-real text with Mathics3's own reader, keeping its precision."""
        number = parse(self.definitions, MathicsSingleLineFeeder(text, "<WXF big real>"))
        if not isinstance(number, Number):
            raise WXFDecodeError(f"big real {text!r} does not read as a number")
        return number

    def handle(self, frame: bytes) -> bytes:
        """Answer one request frame; raises only :class:`QuitRequested`."""
        try:
            expr = decode_request(frame, self.symbol, self.number)
        except Exception as exc:  # malformed WXF, or a value Mathics3 refuses to build
            text = f"{ENGINE_NAME}: cannot decode the request: {type(exc).__name__}: {exc}"
            return _failed(Message("General", _DECODE_TAG, text)).to_wxf()
        _check_quit(expr)
        evaluated = self.evaluate(expr)
        try:
            return evaluated.to_wxf()
        except Exception as exc:  # serialization is Mathics-shaped too; never lose the kernel
            return _failed(_internal_error("while serializing the result as WXF", exc)).to_wxf()

    def evaluate(self, expr: Any) -> Evaluated:
        """Evaluate like ``EvaluationData``: result, messages, printed output and timings."""
        ev = self.evaluation
        ev.out = []
        ev.iteration_count = 0
        ev.recursion_depth = 0
        ev.stopped = False
        ev.timeout = False
        ev.timeout_queue = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        failure_type: str | None = None
        try:
            result = self._evaluate_catching_interrupts(expr)
        except QuitRequested:
            raise
        except AbortInterrupt:
            result, failure_type = SymbolAborted, "Abort"
        except MemoryError:
            outcome = _failed(Message("General", _MEMORY_TAG, _memory_text()))
            outcome.output = self._collect_output()
            return outcome
        except Exception as exc:
            outcome = _failed(_internal_error("in Mathics3 while evaluating", exc))
            outcome.messages[:0] = self._collect_messages()
            outcome.output = self._collect_output()
            return outcome
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        messages, output = self._collect_messages(), self._collect_output()
        try:
            result_wxf = encode_expression(result)
        except Exception as exc:
            outcome = _failed(_internal_error("while serializing the result as WXF", exc))
            outcome.messages[:0] = messages
            return outcome
        return Evaluated(result_wxf, messages, output, cpu, wall, failure_type)

    def _evaluate_catching_interrupts(self, expr: Any) -> Any:
        """Run Mathics3 and map its control-flow exceptions to WL's top-level outcomes.

        Mirrors ``mathics.core.evaluation.Evaluation.evaluate`` without its formatting and
        history work (this kernel returns expressions, not text).
        """
        ev = self.evaluation
        try:
            return expr.evaluate(ev)
        except SystemExit as exc:  # Mathics3's Quit[]/Exit[]
            raise QuitRequested(exc.code if isinstance(exc.code, int) else 0) from None
        except TimeoutInterrupt:
            ev.message("General", "timeout")
            return SymbolAborted
        except WLThrowInterrupt as ti:
            thrown = Expression(SymbolThrow, ti.value, *([ti.tag] if ti.tag else []))
            ev.message("Throw", "nocatch", thrown)
            return Expression(SymbolHold, thrown)
        except BreakInterrupt:
            ev.message("Break", "nofdw")
            return Expression(SymbolHold, Expression(SymbolBreak))
        except ContinueInterrupt:
            ev.message("Continue", "nofdw")
            return Expression(SymbolHold, Expression(SymbolContinue))
        except ReturnInterrupt as ret:
            return ret.expr
        except ValueError as exc:
            if str(exc) in ("mpz.pow outrageous exponent", "mpq.pow outrageous exp num"):
                ev.message("General", "ovfl")
                return Expression(SymbolOverflow)
            raise

    def _collect_messages(self) -> list[Message]:
        """Messages Mathics3 issued during this evaluation, in order."""
        messages = [
            Message(str(out.symbol), str(out.tag), str(out.text))
            for out in self.evaluation.out
            if getattr(out, "is_message", False)
        ]
        if self.on_output is not None:
            for message in messages:
                self.on_output(3, message.full_text)
        return messages

    def _collect_output(self) -> list[str]:
        """Text printed with ``Print`` during this evaluation, in order."""
        output = [str(out.text) for out in self.evaluation.out if getattr(out, "is_print", False)]
        if self.on_output is not None:
            for text in output:
                self.on_output(2, text)
        return output


def _check_quit(expr: Any) -> None:
    """``Quit``, ``Quit[]``, ``Quit[n]`` (and ``Exit``) end the kernel instead of evaluating.

    wolframclient stops a kernel with the bare symbol ``Quit``; Mathics3's own ``Quit`` would
    raise ``SystemExit`` in the middle of the loop.
    """
    if isinstance(expr, Symbol):
        if expr.get_name() in _QUIT_NAMES:
            raise QuitRequested(0)
        return
    head = getattr(expr, "head", None)
    if isinstance(head, Symbol) and head.get_name() in _QUIT_NAMES:
        elements = expr.elements
        code = elements[0].value if elements and isinstance(elements[0], Integer) else 0
        raise QuitRequested(code)


def _internal_error(context: str, exc: BaseException) -> Message:
    """The message for a Python exception escaping Mathics3 (or the WXF writer).

    Names the exception and the line that raised it, so a report upstream can start from it.
    """
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" (at {last.filename.rsplit('site-packages/', 1)[-1]}:{last.lineno})"
    text = f"{ENGINE_NAME}: internal error {context}: {type(exc).__name__}: {exc}{where}"
    return Message("General", _INTERNAL_TAG, text)


def _memory_text() -> str:
    """What a case that hit the kernel's memory limit (``RLIMIT_AS``, set when it started) needs."""
    limit = os.environ.get("GRADGOLD_KERNEL_MEMORY_MB", "")
    cap = f"its limit of {limit} MiB" if limit.isdigit() and int(limit) else "the memory it could get"
    return (
        f"{ENGINE_NAME}: the evaluation needed more memory than {cap}; simplify the case, or raise "
        "the limit with `gradgold generate --kernel-memory MB` (or GRADGOLD_KERNEL_MEMORY_MB)"
    )


def _failed(message: Message) -> Evaluated:
    """A ``$Failed`` evaluation carrying one explanatory message."""
    return Evaluated(encode_expression(SymbolFailed), [message], failure_type="MessageFailure")
