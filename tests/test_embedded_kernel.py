"""The embedded kernel, driven the way gradgold drives it: through wolframclient's session.

One kernel serves the whole module (start-up costs about 2 s); tests that end a kernel start
their own.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any

import mpmath
import numpy
import pytest
from wolframclient.evaluation import WolframLanguageSession
from wolframclient.exception import WolframKernelException
from wolframclient.language import wl
from wolframclient.language.expression import WLFunction, WLSymbol

KERNEL = Path(sys.executable).parent / "gradgold-embedded-kernel"


def _start(**kwargs: Any) -> WolframLanguageSession:
    # Mathics3 loads in about 2 s unloaded but in over 50 s on a loaded machine; wolframclient's
    # default start-up timeout is 20 s; wait as long as the sandbox test does.
    session = WolframLanguageSession(kernel=str(KERNEL), STARTUP_TIMEOUT=300, **kwargs)
    session.start()
    return session


def _end(session: WolframLanguageSession, *, gracefully: bool = False) -> int | None:
    """Stop a session and reap its kernel (an unreaped Popen warns when collected).

    Ending a session twice is harmless.
    """
    proc = session.kernel_controller.kernel_proc
    if gracefully:
        session.stop()
    else:
        session.terminate()
    return None if proc is None else proc.wait(timeout=10)


@contextmanager
def _own_session(**kwargs: Any) -> Iterator[WolframLanguageSession]:
    """A session of the test's own, always ended: a live one keeps pytest from exiting."""
    s = _start(**kwargs)
    try:
        yield s
    finally:
        _end(s)


@pytest.fixture(scope="module")
def session() -> Iterator[WolframLanguageSession]:
    s = _start()
    yield s
    _end(s)


def _agrees(value: Decimal, exact: Callable[[], Any], digits: int) -> bool:
    """``value`` equals ``exact()`` (computed by mpmath, 20 digits beyond) to ``digits`` digits."""
    with mpmath.workdps(digits + 20):
        expected = exact()
        error = abs(mpmath.mpf(str(value)) - expected)
        return bool(error <= abs(expected) * mpmath.mpf(10) ** (1 - digits) / 2)


def _significant_digits(value: Decimal) -> int:
    return len(value.as_tuple().digits)


def test_version_names_mathics3_and_this_engine(session: WolframLanguageSession) -> None:
    version = session.evaluate("$Version")
    assert version.startswith(f"Mathics3 {metadata.version('Mathics3')} ")
    assert "gradgold embedded engine" in version


def test_integers_of_any_size(session: WolframLanguageSession) -> None:
    assert session.evaluate("1 + 1") == 2
    assert session.evaluate("-2^40") == -(2**40)
    assert session.evaluate("2^100") == 2**100
    assert session.evaluate("-3^99") == -(3**99)
    assert session.evaluate(wl.Plus(2**200, 1)) == 2**200 + 1


def test_rationals_stay_exact(session: WolframLanguageSession) -> None:
    third = session.evaluate("1/3")
    assert isinstance(third, WLFunction)
    assert third.head == WLSymbol("Rational")
    assert third.args == (1, 3)
    half = session.evaluate(wl.Plus(Fraction(1, 3), Fraction(1, 6)))
    assert half.args == (1, 2)


def test_n_pi_50_is_a_decimal_with_50_correct_digits(session: WolframLanguageSession) -> None:
    value = session.evaluate("N[Pi, 50]")
    assert isinstance(value, Decimal)
    assert _significant_digits(value) >= 50
    assert _agrees(value, lambda: +mpmath.pi, 50)


def test_precision_reals_keep_their_digits(session: WolframLanguageSession) -> None:
    value = session.evaluate("N[Sin[2], 30]")
    assert isinstance(value, Decimal)
    assert _significant_digits(value) >= 30
    assert _agrees(value, lambda: mpmath.sin(2), 30)
    tiny = session.evaluate("N[Pi/10^40, 30]")
    assert isinstance(tiny, Decimal)
    assert _agrees(tiny, lambda: mpmath.pi / mpmath.mpf(10) ** 40, 30)


def test_derivative_then_numeric_value(session: WolframLanguageSession) -> None:
    exact = session.evaluate("D[Sin[x]^2, x] /. x -> 1/3")
    assert isinstance(exact, WLFunction)  # 2 Cos[1/3] Sin[1/3], still exact
    value = session.evaluate("N[D[Sin[x]^2, x] /. x -> 1/3, 40]")
    assert isinstance(value, Decimal)
    # d/dx sin(x)^2 = sin(2x)
    assert _agrees(value, lambda: mpmath.sin(mpmath.mpf(2) / 3), 40)


def test_machine_reals_and_wl_expressions_in(session: WolframLanguageSession) -> None:
    assert session.evaluate(wl.Plus(1.5, 2)) == 3.5
    assert session.evaluate(wl.Times(Decimal("1.25"), 2)) == Decimal("2.5")
    assert _agrees(session.evaluate(wl.N(wl.Pi, 20)), lambda: +mpmath.pi, 20)
    assert session.evaluate(wl.List(1, "s", 2.5, {"a": 1})) == (1, "s", 2.5, {"a": 1})


def test_numpy_arrays_arrive_as_lists(session: WolframLanguageSession) -> None:
    # wolframclient sends numpy arrays as NumericArray; Mathics3 computes with lists.
    assert session.evaluate(wl.Total(numpy.array([1.0, 2.0, 3.5]))) == 6.5
    assert session.evaluate(wl.Dot(numpy.eye(2, dtype=numpy.int64), numpy.array([3, 4]))) == (3, 4)


def test_lists_and_matrices(session: WolframLanguageSession) -> None:
    assert session.evaluate("{{1, 2}, {3, 4}} . {{0, 1}, {1, 0}}") == ((2, 1), (4, 3))
    inverse = session.evaluate("Inverse[{{2, 0}, {0, 4}}]")
    assert inverse[0][0].head == WLSymbol("Rational")
    assert session.evaluate("Range[3] / 2.") == (0.5, 1.0, 1.5)


def test_strings(session: WolframLanguageSession) -> None:
    assert session.evaluate('StringJoin["ab", "cd"]') == "abcd"
    assert session.evaluate(wl.StringJoin("π", "≤")) == "π≤"


def test_symbolic_results(session: WolframLanguageSession) -> None:
    assert session.evaluate("Sin[x]") == WLFunction(WLSymbol("Sin"), WLSymbol("Global`x"))
    assert session.evaluate("Infinity") == WLFunction(WLSymbol("DirectedInfinity"), 1)
    assert session.evaluate("ComplexInfinity") == WLFunction(WLSymbol("DirectedInfinity"))
    assert math.isnan(session.evaluate("Indeterminate"))


def test_association_and_complex(session: WolframLanguageSession) -> None:
    assert session.evaluate('<|"a" -> 1, "b" -> 2.5|>') == {"a": 1, "b": 2.5}
    z = session.evaluate("N[1/3 + 2 I, 30]")
    assert z.head == WLSymbol("Complex")
    assert all(isinstance(part, Decimal) for part in z.args)


def test_messages_make_a_failed_evaluation_that_keeps_its_value(
    session: WolframLanguageSession,
) -> None:
    infinite = session.evaluate_wrap("1/0")
    assert not infinite.success
    assert infinite.messages
    assert any("Power::infy" in text for text in infinite.messages)
    assert infinite.messages_name[0] == WLFunction(WLSymbol("MessageName"), WLSymbol("Power"), "infy")
    assert infinite.result == WLFunction(WLSymbol("DirectedInfinity"))
    indeterminate = session.evaluate_wrap("0/0")
    assert not indeterminate.success
    assert indeterminate.messages
    assert math.isnan(indeterminate.result)


def test_evaluation_data_keys(session: WolframLanguageSession) -> None:
    data = session.evaluate_wrap('Print["hello"]; 3')
    data.build()
    response = data.parsed_response
    assert data.result == 3
    assert data.success
    assert response["OutputLog"] == ("hello",)
    assert response["FailureType"] is None
    assert response["Messages"] == ()
    assert isinstance(response["Timing"], float)
    assert isinstance(response["AbsoluteTiming"], float)


def test_compressed_request(session: WolframLanguageSession) -> None:
    assert session.evaluate(wl.Plus(*range(100)), compress=True) == sum(range(100))


def test_python_exception_in_mathics_fails_and_kernel_keeps_serving(
    session: WolframLanguageSession,
) -> None:
    # Mathics3 10.0.1 raises TypeError inside its Hypergeometric2F1 derivative rule.
    crashed = session.evaluate_wrap("D[Hypergeometric2F1[a, b, c, x], x]")
    assert not crashed.success
    assert crashed.result == WLSymbol("$Failed")
    assert any(
        "gradgold embedded engine: internal error in Mathics3 while evaluating: TypeError" in text
        for text in crashed.messages
    )
    assert session.evaluate("6 * 7") == 42


def test_malformed_frame_fails_and_kernel_keeps_serving(session: WolframLanguageSession) -> None:
    future: Future[Any] = Future()
    session.kernel_controller.evaluate_future(b"8:\xffnot wxf", future, None)
    reply = future.result(timeout=30)
    assert not reply.success
    assert any("cannot decode the request" in text for text in reply.messages)
    assert session.evaluate("2 + 3") == 5


def test_quit_inside_to_expression_ends_the_kernel_cleanly() -> None:
    with _own_session() as s:
        proc = s.kernel_controller.kernel_proc
        with pytest.raises(WolframKernelException, match="not running"):
            s.evaluate('ToExpression["Quit[]"]')
        assert proc.wait(timeout=10) == 0


def test_graceful_stop_with_kernel_logging(caplog: pytest.LogCaptureFixture) -> None:
    with _own_session(kernel_loglevel=logging.DEBUG) as s:
        assert s.evaluate('Print["via the log socket"]; 2 + 2') == 4
        deadline = time.monotonic() + 5
        while "via the log socket" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "via the log socket" in caplog.text
        assert _end(s, gracefully=True) == 0


def test_terminate_leaves_no_kernel_process() -> None:
    with _own_session() as s:
        pid = s.kernel_controller.kernel_proc.pid
        _end(s)
    assert not Path(f"/proc/{pid}").exists()


def test_kernel_without_arguments_prints_usage_and_exits() -> None:
    done = subprocess.run([KERNEL], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: gradgold-embedded-kernel")
    version = subprocess.run([KERNEL, "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert version.returncode == 0
    assert f"Mathics3 {metadata.version('Mathics3')}" in version.stdout
