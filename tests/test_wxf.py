"""The embedded kernel's WXF codec (wolframclient's parser and serializer, Mathics3's types).

``data/wxf_corpus.json`` holds what the codec gradgold wrote by hand before it moved onto
wolframclient produced: the bytes of every result kind the kernel sends (and its reply envelopes),
and how it decoded every request kind wolframclient sends. The codec must stay byte-identical
to it: wolframclient, and the goldens' digit strings, read those bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy
import pytest

CORPUS = json.loads((Path(__file__).parent / "data" / "wxf_corpus.json").read_text())


@pytest.fixture(scope="module")
def evaluator() -> Any:
    """One in-process Mathics3 session (loading it costs about 2 s of CPU)."""
    from gradgold.generation.embedded.engine import MathicsEvaluator

    return MathicsEvaluator()


def describe(expr: Any) -> str:
    """A canonical text of a Mathics3 expression that tells apart what str() does not: the kind of
    every atom, a real's exact binary value and precision, a symbol's context."""
    from mathics.core.atoms import ByteArray, Complex, Integer, MachineReal, PrecisionReal, String
    from mathics.core.symbols import Symbol

    if isinstance(expr, Symbol):
        return str(expr.get_name())
    if isinstance(expr, Integer):
        return f"Integer({expr.value})"
    if isinstance(expr, MachineReal):
        return f"MachineReal({float(expr.value).hex()})"
    if isinstance(expr, PrecisionReal):
        return f"PrecisionReal({expr.value._mpf_!r}, {expr.get_precision()})"
    if isinstance(expr, Complex):
        return f"Complex({describe(expr.real)}, {describe(expr.imag)})"
    if isinstance(expr, String):
        return f"String({expr.value!r})"
    if isinstance(expr, ByteArray):
        return f"ByteArray({bytes(expr.value).hex()})"
    if not hasattr(expr, "elements"):
        return f"{type(expr).__name__}({expr})"
    return f"{type(expr).__name__}:{describe(expr.head)}[{', '.join(describe(e) for e in expr.elements)}]"


def _atoms() -> dict[str, Any]:
    """The corpus's atoms that no WL input produces, built the way the corpus names them."""
    from mathics.core.atoms import MachineReal, NumericArray

    return {
        "machine_real_int 10**400": MachineReal(10**400),
        "machine_real_int -(10**400)": MachineReal(-(10**400)),
        "numeric_array int8 [1,2,3]": NumericArray(numpy.array([1, 2, 3], dtype="int8")),
        "numeric_array float32 [[1,2],[3,4.5]]": NumericArray(
            numpy.array([[1, 2], [3, 4.5]], dtype="float32")
        ),
        "numeric_array complex128 [1+2j]": NumericArray(numpy.array([1 + 2j], dtype="complex128")),
        "numeric_array uint16 [[7]]": NumericArray(numpy.array([[7]], dtype="uint16")),
        "numeric_array float64 []": NumericArray(numpy.zeros((0,), dtype="float64")),
    }


def test_results_encode_to_the_corpus_bytes(evaluator: Any) -> None:
    from gradgold.generation.embedded.wxf import encode_expression

    wrong = [
        entry["wl"]
        for entry in CORPUS["results"]
        if encode_expression(evaluator.session.evaluate(entry["wl"])).hex() != entry["wxf"]
    ]
    assert not wrong
    atoms = _atoms()
    assert sorted(atoms) == sorted(entry["atom"] for entry in CORPUS["atoms"])
    wrong = [e["atom"] for e in CORPUS["atoms"] if encode_expression(atoms[e["atom"]]).hex() != e["wxf"]]
    assert not wrong


def test_reply_envelopes_encode_to_the_corpus_bytes(evaluator: Any) -> None:
    from gradgold.generation.embedded.engine import Evaluated, Message

    for entry in CORPUS["envelopes"]:
        evaluated = Evaluated(
            bytes.fromhex(entry["result"]),
            [Message(*m) for m in entry["messages"]],
            entry["output"],
            entry["timing"],
            entry["absolute_timing"],
            entry["failure_type"],
        )
        assert evaluated.to_wxf().hex() == entry["wxf"], entry["name"]


def test_requests_decode_as_in_the_corpus(evaluator: Any) -> None:
    from gradgold.generation.embedded.wxf import decode_request

    for entry in CORPUS["requests"]:
        expr = decode_request(bytes.fromhex(entry["wxf"]), evaluator.symbol, evaluator.number)
        assert describe(expr) == entry["expr"], entry["name"]


def test_malformed_requests_are_refused(evaluator: Any) -> None:
    from gradgold.generation.embedded.wxf import decode_request

    for entry in CORPUS["bad_requests"]:
        assert entry["old_rejects"]
        # wolframclient's parser raises several kinds (WolframParserException, EOFError, ...)
        with pytest.raises(Exception):  # noqa: B017, PT011
            decode_request(bytes.fromhex(entry["wxf"]), evaluator.symbol, evaluator.number)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"8:C\x01C\x02", "trailing bytes after the expression"),
        (b"8:R\x081+Quit[]", "invalid big real '1\\+Quit\\[\\]'"),
        (b"8:A\x01C\x01", "association entry of WXF type b'C', not a rule"),
    ],
)
def test_decode_errors_say_what_is_wrong(evaluator: Any, frame: bytes, message: str) -> None:
    from gradgold.generation.embedded.wxf import WXFDecodeError, decode_request

    with pytest.raises(WXFDecodeError, match=message):
        decode_request(frame, evaluator.symbol, evaluator.number)
