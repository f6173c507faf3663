"""WXF <-> Mathics3 for the embedded kernel, on wolframclient's own WXF parser and serializer.

The kernel talks to ``wolframclient`` in WXF, the Wolfram Language binary format. Requests are
read by wolframclient's ``WXFParser`` into Mathics3 expressions by :class:`MathicsConsumer` (a
``WXFConsumer`` that builds Mathics3 atoms instead of Python values), so no Python middle layer can
round numbers on the way in; results are written by wolframclient's ``WXFSerializer`` through an
encoder dispatch that knows Mathics3's atoms: a ``PrecisionReal`` leaves as a WXF ``BigReal``
carrying every digit Mathics3 knows and its precision mark, never as a machine float.

Only the kernel process imports this module: it imports Mathics3, hence the GPL notice in
``LICENSE`` next to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

import mpmath
import numpy
from mathics.core.atoms import (
    ByteArray,
    Complex,
    Integer,
    MachineReal,
    NumericArray,
    PrecisionReal,
    Rational,
    String,
)
from mathics.core.expression import Expression
from mathics.core.list import ListExpression
from mathics.core.number import dps
from mathics.core.symbols import Atom, Symbol
from mathics.core.systemsymbols import SymbolAssociation, SymbolRule, SymbolRuleDelayed
from mpmath.libmp import to_str
from wolframclient.deserializers.wxf.wxfconsumer import WXFConsumer, WXFConsumerNumpy
from wolframclient.deserializers.wxf.wxfparser import WXFParser
from wolframclient.language.expression import WLSymbol
from wolframclient.serializers.encoders.builtin import encoder as builtin_encoder
from wolframclient.serializers.wxf import WXFSerializer, serialize_rule
from wolframclient.serializers.wxfencoder.constants import WXF_CONSTANTS
from wolframclient.serializers.wxfencoder.utils import varint_bytes
from wolframclient.utils.dispatch import Dispatch

__all__ = ["WXFDecodeError", "decode_request", "encode", "encode_expression", "precision_real_text"]

SymbolResolver = Callable[[str], Any]
NumberParser = Callable[[str], Any]

# Digits of a machine float (about 15.95), the precision mark of a machine real that Mathics3
# holds as an mpf too large for a float.
_MACHINE_DIGITS = 53 * 0.30102999566398120

# A WXF big real as wolframclient writes it: digits, an optional precision (`) or accuracy (``)
# mark, an optional *^ exponent. Checked before Mathics3 parses it, so no other code gets in.
_BIG_REAL_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)(``?-?[\d.]*)?(\*\^-?\d+)?")

_RULES = (WXF_CONSTANTS.Rule, WXF_CONSTANTS.RuleDelayed)
_DTYPES = {
    code: numpy.dtype(name).newbyteorder("<") for code, name in WXFConsumerNumpy.WXF_TYPE_TO_DTYPE.items()
}


class WXFDecodeError(ValueError):
    """A request frame that is not valid WXF, or uses a part this kernel does not read."""


def decode_request(frame: bytes, resolve_symbol: SymbolResolver, parse_number: NumberParser) -> Any:
    """Decode one request frame (``8:`` or zlib-compressed ``8C:``) into a Mathics3 expression.

    ``resolve_symbol`` maps a WXF symbol name to a Mathics3 ``Symbol`` (plain names are looked up
    in ``$Context``/``$ContextPath`` as WL's ``BinaryDeserialize`` does); ``parse_number`` turns
    a checked big-real text (``1.5``28``) into a Mathics3 number. wolframclient's parser stops at
    the end of the expression, so the bytes after it are checked here: a frame is one expression.
    """
    parser = WXFParser(frame)
    expr = MathicsConsumer(resolve_symbol, parse_number).next_expression(parser.tokens())
    try:
        rest = parser.reader.read(1)
    except EOFError:
        rest = b""
    if rest:
        raise WXFDecodeError("trailing bytes after the expression")
    return expr


class MathicsConsumer(WXFConsumer):  # type: ignore[misc]
    """wolframclient's token consumer, building Mathics3 expressions instead of Python values."""

    def __init__(self, resolve_symbol: SymbolResolver, parse_number: NumberParser) -> None:
        self.resolve = resolve_symbol
        self.parse_number = parse_number

    def consume_function(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        """``f``: a head, then ``token.length`` arguments; ``List`` heads become Mathics3 lists."""
        head = self.next_expression(tokens)
        args = [self.next_expression(tokens) for _ in range(token.length)]
        if isinstance(head, Symbol) and head.get_name() == "System`List":
            return ListExpression(*args)
        return Expression(head, *args)

    def consume_association(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        """``A``: its rules become the elements of an ``Association[...]``."""
        rules = []
        for _ in range(token.length):
            entry = next(tokens)
            if entry.wxf_type not in _RULES:
                raise WXFDecodeError(f"association entry of WXF type {entry.wxf_type!r}, not a rule")
            head = SymbolRule if entry.wxf_type == WXF_CONSTANTS.Rule else SymbolRuleDelayed
            rules.append(Expression(head, self.next_expression(tokens), self.next_expression(tokens)))
        return Expression(SymbolAssociation, *rules)

    def consume_symbol(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        return self.resolve(token.data)

    def consume_string(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        return String(token.data)

    def consume_binary_string(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        return ByteArray(bytes(token.data))

    def consume_integer8(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        return Integer(int(token.data))

    consume_integer16 = consume_integer32 = consume_integer64 = consume_bigint = consume_integer8

    def consume_real64(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        return _machine_real(token.data, self.resolve)

    def consume_bigreal(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        """``R``: check the text is only a number, then let Mathics3 parse it exactly."""
        if not _BIG_REAL_TEXT.fullmatch(token.data):
            raise WXFDecodeError(f"invalid big real {token.data!r}")
        return self.parse_number(token.data)

    def consume_numeric_array(self, token: Any, tokens: Iterator[Any], **kwargs: Any) -> Any:
        """A packed or numeric array (how wolframclient sends numpy arrays) as nested lists.

        Mathics3 computes with lists of numbers, not with its ``NumericArray`` atom, so a numeric
        array arrives as the lists WL's ``Normal`` would give: ``Dot``, ``Total``, ``D`` work on it.
        """
        dtype = _DTYPES.get(token.array_type)
        if dtype is None:
            raise WXFDecodeError(f"unsupported array element type {token.array_type!r}")
        data = numpy.frombuffer(token.data, dtype=dtype).reshape(token.dimensions)
        return _nested_list(data.tolist(), self.resolve)

    consume_packed_array = consume_numeric_array


def _nested_list(value: Any, resolve: SymbolResolver) -> Any:
    """Turn a nested Python list of numbers (a packed array) into Mathics3 lists."""
    if isinstance(value, list):
        return ListExpression(*(_nested_list(item, resolve) for item in value))
    if isinstance(value, complex):
        return Complex(_machine_real(value.real, resolve), _machine_real(value.imag, resolve))
    if isinstance(value, float):
        return _machine_real(value, resolve)
    return Integer(value)


def _machine_real(value: float, resolve: SymbolResolver) -> Any:
    """A machine real; infinities and NaN (which Mathics3 reals refuse) become WL's symbols."""
    if value != value:
        return resolve("Indeterminate")
    if value in (float("inf"), float("-inf")):
        return Expression(resolve("DirectedInfinity"), Integer(1 if value > 0 else -1))
    return MachineReal(value)


# Encoding: wolframclient's serializer, with Mathics3's types added to its dispatch table
# (registered below the encoders).
Tokens = Iterable[bytes]
_ENCODERS = Dispatch()
_ENCODERS.update(builtin_encoder)


def encode(value: Any) -> bytes:
    """Serialize a Mathics3 expression, or a Python value wolframclient knows, as one WXF frame."""
    data: bytes = _SERIALIZER.export(value)
    return data


def encode_expression(expr: Any) -> bytes:
    """Serialize one Mathics3 expression as a complete WXF frame (``8:`` header included)."""
    return encode(expr)


def _symbol_token(name: str) -> Tokens:
    """A symbol; ``System``` names go out plain, as a Wolfram kernel writes them."""
    return _SERIALIZER.serialize_symbol(name.removeprefix("System`").encode("utf-8"))  # type: ignore[no-any-return]


def _big_real_token(text: str) -> Tokens:
    """An arbitrary-precision real given as WL input text (``3.14`50.``)."""
    return (WXF_CONSTANTS.BigReal, varint_bytes(len(text)), text.encode("ascii"))


def _function(s: Any, head: str, args: Iterable[Tokens], length: int) -> Tokens:
    return s.serialize_function(_symbol_token(head), args, length=length)  # type: ignore[no-any-return]


def _not_serializable(s: Any, what: str) -> Tokens:
    """``Missing["NotSerializable", what]``: a value WXF has no form for, named."""
    args = (s.serialize_string(b"NotSerializable"), s.serialize_string(what.encode("utf-8")))
    return _function(s, "Missing", args, 2)


def _encode_symbol(s: Any, atom: Any) -> Tokens:
    return _symbol_token(atom.get_name())


def _encode_wl_symbol(s: Any, symbol: Any) -> Tokens:
    """wolframclient's symbols (the reply envelope's): UTF-8 length, ``System``` stripped."""
    return _symbol_token(symbol.name)


def _encode_integer(s: Any, atom: Any) -> Tokens:
    return s.serialize_int(atom.value)  # type: ignore[no-any-return]


def _encode_precision_real(s: Any, atom: Any) -> Tokens:
    return _big_real_token(precision_real_text(atom.value, atom.get_precision()))


def _encode_machine_real(s: Any, atom: Any) -> Tokens:
    """A machine real; one Mathics3 holds as an mpf beyond double range goes out as text."""
    value = float(atom.value)
    if value not in (float("inf"), float("-inf")):
        return s.serialize_float(value)  # type: ignore[no-any-return]
    text = to_str(mpmath.mpf(atom.value)._mpf_, 16, min_fixed=0, max_fixed=0, show_zero_exponent=True)
    mantissa, exponent = text.split("e")
    return _big_real_token(f"{mantissa}`{_MACHINE_DIGITS!r}*^{int(exponent)}")


def _encode_rational(s: Any, atom: Any) -> Tokens:
    args = (s.serialize_int(atom.numerator().value), s.serialize_int(atom.denominator().value))
    return _function(s, "Rational", args, 2)


def _encode_complex(s: Any, atom: Any) -> Tokens:
    return _function(s, "Complex", (s.encode(atom.real), s.encode(atom.imag)), 2)


def _encode_string(s: Any, atom: Any) -> Tokens:
    """A string (``surrogatepass`` keeps lone surrogates, which WL allows)."""
    return s.serialize_string(atom.value.encode("utf-8", "surrogatepass"))  # type: ignore[no-any-return]


def _encode_byte_array(s: Any, atom: Any) -> Tokens:
    return s.serialize_bytes(bytes(atom.value))  # type: ignore[no-any-return]


def _encode_numeric_array(s: Any, atom: Any) -> Tokens:
    """A ``NumericArray`` in its own WXF form, little-endian; WXF has no empty or 0-d array."""
    data = numpy.ascontiguousarray(atom.value)
    if data.ndim == 0 or 0 in data.shape:
        return _not_serializable(s, f"NumericArray of {data.dtype}, shape {data.shape}")
    little = data.astype(data.dtype.newbyteorder("<")).tobytes()
    return s.serialize_numeric_array(little, data.shape, atom._type_name)  # type: ignore[no-any-return]


def _encode_other_atom(s: Any, atom: Any) -> Tokens:
    """No WXF form (a Mathics3-only atom such as an image or a box): say what it was."""
    return _not_serializable(s, str(atom))


def _encode_expression(s: Any, expr: Any) -> Tokens:
    """A compound expression; ``Association[rule, ...]`` as WXF's own association."""
    elements = expr.elements
    if _is_association(expr):
        rules = (
            serialize_rule(s.encode(k), s.encode(v), sep=(_RULE_TOKEN[item.get_head_name()],))
            for item in elements
            for k, v in (item.elements,)
        )
        return chain((WXF_CONSTANTS.Association, varint_bytes(len(elements))), chain.from_iterable(rules))
    return s.serialize_function(s.encode(expr.head), map(s.encode, elements), length=len(elements))  # type: ignore[no-any-return]


_RULE_TOKEN = {"System`Rule": WXF_CONSTANTS.Rule, "System`RuleDelayed": WXF_CONSTANTS.RuleDelayed}


def _is_association(expr: Any) -> bool:
    """``Association[rule, ...]`` maps onto WXF's association; anything else is a function."""
    if expr.get_head_name() != "System`Association":
        return False
    return all(item.get_head_name() in _RULE_TOKEN and len(item.elements) == 2 for item in expr.elements)


_ENCODERS.update(
    {
        Symbol: _encode_symbol,
        WLSymbol: _encode_wl_symbol,
        Integer: _encode_integer,
        PrecisionReal: _encode_precision_real,
        MachineReal: _encode_machine_real,
        Rational: _encode_rational,
        Complex: _encode_complex,
        String: _encode_string,
        ByteArray: _encode_byte_array,
        NumericArray: _encode_numeric_array,
        Atom: _encode_other_atom,
        Expression: _encode_expression,
    },
    replace_existing=True,  # WLSymbol: UTF-8 length and System` stripped, as for Mathics3 symbols
)

# target_kernel_version: only read for time zones, which the kernel never sends; set, so that
# wolframclient does not look for a Wolfram installation.
_SERIALIZER = WXFSerializer(encoder=_ENCODERS, target_kernel_version=13.0)


def precision_real_text(value: Any, binary_precision: int) -> str:
    """WL input text of a Mathics3 ``PrecisionReal``: all its digits plus its precision mark.

    Mathics3's own ``InputForm`` prints ``dps(precision) + 1`` significant digits (one guard
    digit) and marks the precision ``dps(precision)``; this text has the same digits, e.g.
    ``3.14159265358979323846264338327950288419716939937511`50.`` for ``N[Pi, 50]``, always with
    a mantissa, the mark, then ``*^exponent`` (the form wolframclient's parser reads, into a
    ``Decimal`` of every mantissa digit). A zero has no digits, only an accuracy: ``0``50.``.
    """
    digits = dps(binary_precision)
    if value.is_zero:
        return f"0``{digits}."
    # min_fixed = max_fixed = 0 and show_zero_exponent: always "d.ddd...e±x".
    text = to_str(
        value._mpf_,
        digits + 1,
        strip_zeros=False,
        min_fixed=0,
        max_fixed=0,
        show_zero_exponent=True,
    )
    mantissa, exponent = text.split("e")
    power = int(exponent)
    suffix = f"*^{power}" if power else ""
    return f"{mantissa}`{digits}.{suffix}"
