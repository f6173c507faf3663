"""WXF <-> Mathics3 conversion for the embedded kernel.

The kernel talks to ``wolframclient`` in WXF, the Wolfram Language binary format. This module reads
a request frame straight into Mathics3 expressions and writes Mathics3 results back, so no Python
middle layer (such as ``wolframclient``'s own objects) can round numbers on the way: a Mathics3
``PrecisionReal`` leaves as a WXF ``BigReal`` carrying every digit Mathics3 knows and its precision
mark, never as a machine float.

Only the kernel process imports this module: it imports Mathics3, hence the GPL notice in
``LICENSE`` next to it.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Sequence
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
from mathics.core.systemsymbols import (
    SymbolAssociation,
    SymbolComplex,
    SymbolMissing,
    SymbolRule,
    SymbolRuleDelayed,
)
from mpmath.libmp import to_str

__all__ = ["WXFDecodeError", "WXFWriter", "decode_request", "encode_expression"]

# WXF token bytes (the format's own names in the comments).
_FUNCTION = 0x66  # f
_SYMBOL = 0x73  # s
_STRING = 0x53  # S
_BINARY_STRING = 0x42  # B
_INT8 = 0x43  # C
_INT16 = 0x6A  # j
_INT32 = 0x69  # i
_INT64 = 0x4C  # L
_REAL64 = 0x72  # r
_BIG_INTEGER = 0x49  # I
_BIG_REAL = 0x52  # R
_PACKED_ARRAY = 0xC1
_NUMERIC_ARRAY = 0xC2
_ASSOCIATION = 0x41  # A
_RULE = 0x2D  # -
_RULE_DELAYED = 0x3A  # :

_INTEGER_FORMATS: dict[int, struct.Struct] = {
    _INT8: struct.Struct("<b"),
    _INT16: struct.Struct("<h"),
    _INT32: struct.Struct("<i"),
    _INT64: struct.Struct("<q"),
}
_REAL64_FORMAT = struct.Struct("<d")

# WXF array element types and the little-endian numpy dtypes they hold.
_ARRAY_DTYPES: dict[int, str] = {
    0x00: "<i1",
    0x01: "<i2",
    0x02: "<i4",
    0x03: "<i8",
    0x10: "<u1",
    0x11: "<u2",
    0x12: "<u4",
    0x13: "<u8",
    0x22: "<f4",
    0x23: "<f8",
    0x33: "<c8",
    0x34: "<c16",
}
_ARRAY_TYPES: dict[str, int] = {numpy.dtype(name).str: code for code, name in _ARRAY_DTYPES.items()}

# Digits of a machine float (about 15.95), used as the precision mark of a machine real that
# Mathics3 holds as an mpf too large for a float.
_MACHINE_DIGITS = 53 * 0.30102999566398120

# A WXF big real as wolframclient writes it: digits, an optional precision (`) or accuracy (``)
# mark, an optional *^ exponent. Checked before Mathics3 parses it, so no other code gets in.
_BIG_REAL_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)(``?-?[\d.]*)?(\*\^-?\d+)?")


class WXFDecodeError(ValueError):
    """A request frame that is not valid WXF, or uses a part this kernel does not read."""


SymbolResolver = Callable[[str], Any]
NumberParser = Callable[[str], Any]


def decode_request(frame: bytes, resolve_symbol: SymbolResolver, parse_number: NumberParser) -> Any:
    """Decode one request frame (``8:`` or zlib-compressed ``8C:``) into a Mathics3 expression.

    ``resolve_symbol`` maps a WXF symbol name to a Mathics3 ``Symbol`` (plain names are looked up
    in ``$Context``/``$ContextPath`` as WL's ``BinaryDeserialize`` does); ``parse_number`` turns
    a checked big-real text (``1.5``28``) into a Mathics3 number.
    """
    if frame[:2] == b"8:":
        body = frame[2:]
    elif frame[:3] == b"8C:":
        try:
            body = zlib.decompress(frame[3:])
        except zlib.error as exc:
            raise WXFDecodeError(f"bad zlib stream in a compressed WXF frame: {exc}") from exc
    else:
        raise WXFDecodeError(f"not a WXF frame: it starts with {bytes(frame[:3])!r}")
    reader = _Reader(body, resolve_symbol, parse_number)
    expr = reader.expression()
    if reader.pos != len(body):
        raise WXFDecodeError(f"{len(body) - reader.pos} trailing bytes after the expression")
    return expr


class _Reader:
    """A cursor over a WXF body that builds Mathics3 expressions, one token at a time."""

    def __init__(self, body: bytes, resolve: SymbolResolver, parse_number: NumberParser) -> None:
        self.body = body
        self.pos = 0
        self.resolve = resolve
        self.parse_number = parse_number

    def take(self, n: int) -> bytes:
        """Consume ``n`` bytes, failing loudly on a truncated frame."""
        end = self.pos + n
        if end > len(self.body):
            raise WXFDecodeError("truncated WXF frame")
        chunk = self.body[self.pos : end]
        self.pos = end
        return chunk

    def varint(self) -> int:
        """Read WXF's little-endian base-128 length."""
        value = 0
        shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise WXFDecodeError("varint longer than 9 bytes")

    def text(self) -> str:
        """Read a length-prefixed UTF-8 string (symbols, strings, big numbers)."""
        return self.take(self.varint()).decode("utf-8")

    def expression(self) -> Any:
        """Read the next complete expression."""
        token = self.take(1)[0]
        if token in _INTEGER_FORMATS:
            fmt = _INTEGER_FORMATS[token]
            return Integer(fmt.unpack(self.take(fmt.size))[0])
        if token == _FUNCTION:
            return self.function()
        if token == _SYMBOL:
            return self.resolve(self.text())
        if token == _STRING:
            return String(self.text())
        if token == _REAL64:
            return _machine_real(_REAL64_FORMAT.unpack(self.take(8))[0], self.resolve)
        if token == _BIG_INTEGER:
            return Integer(int(self.text()))
        if token == _BIG_REAL:
            return self.big_real(self.text())
        if token == _BINARY_STRING:
            return ByteArray(bytes(self.take(self.varint())))
        if token == _ASSOCIATION:
            return self.association()
        if token in (_PACKED_ARRAY, _NUMERIC_ARRAY):
            return self.array()
        raise WXFDecodeError(f"unexpected WXF token 0x{token:02x} at byte {self.pos - 1}")

    def function(self) -> Any:
        """Read ``f``: a length, a head, then that many arguments."""
        length = self.varint()
        head = self.expression()
        args = [self.expression() for _ in range(length)]
        if isinstance(head, Symbol) and head.get_name() == "System`List":
            return ListExpression(*args)
        return Expression(head, *args)

    def association(self) -> Any:
        """Read ``A``: rules become the elements of an ``Association[...]``."""
        rules = []
        for _ in range(self.varint()):
            token = self.take(1)[0]
            if token not in (_RULE, _RULE_DELAYED):
                raise WXFDecodeError(f"association entry starts with 0x{token:02x}, not a rule")
            key = self.expression()
            value = self.expression()
            head = SymbolRule if token == _RULE else SymbolRuleDelayed
            rules.append(Expression(head, key, value))
        return Expression(SymbolAssociation, *rules)

    def big_real(self, text: str) -> Any:
        """Read ``R``: check the text is only a number, then let Mathics3 parse it exactly."""
        if not _BIG_REAL_TEXT.fullmatch(text):
            raise WXFDecodeError(f"invalid big real {text!r}")
        return self.parse_number(text)

    def array(self) -> Any:
        """Read a packed or numeric array (how wolframclient sends numpy arrays) as nested lists.

        Mathics3 computes with lists of numbers, not with its ``NumericArray`` atom, so a numeric
        array arrives as the lists WL's ``Normal`` would give: ``Dot``, ``Total``, ``D`` work on it.
        """
        code = self.take(1)[0]
        if code not in _ARRAY_DTYPES:
            raise WXFDecodeError(f"unknown array element type 0x{code:02x}")
        dims = [self.varint() for _ in range(self.varint())]
        dtype = numpy.dtype(_ARRAY_DTYPES[code])
        count = int(numpy.prod(dims)) if dims else 0
        data = numpy.frombuffer(self.take(count * dtype.itemsize), dtype=dtype).reshape(dims)
        return _nested_list(data.tolist(), self.resolve)


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


def encode_expression(expr: Any) -> bytes:
    """Serialize one Mathics3 expression as a complete WXF frame (``8:`` header included)."""
    writer = WXFWriter()
    writer.expression(expr)
    return writer.frame()


class WXFWriter:
    """Append-only WXF encoder: low-level tokens for the reply envelope, plus Mathics3 values."""

    def __init__(self) -> None:
        self.buf = bytearray(b"8:")

    def frame(self) -> bytes:
        """The bytes written so far, as one WXF frame."""
        return bytes(self.buf)

    def varint(self, value: int) -> None:
        """Write WXF's little-endian base-128 length."""
        while value > 0x7F:
            self.buf.append((value & 0x7F) | 0x80)
            value >>= 7
        self.buf.append(value)

    def _sized(self, token: int, data: bytes) -> None:
        self.buf.append(token)
        self.varint(len(data))
        self.buf += data

    def symbol(self, name: str) -> None:
        """Write a symbol; ``System``` names go out plain, as a Wolfram kernel writes them."""
        if name.startswith("System`"):
            name = name[7:]
        self._sized(_SYMBOL, name.encode("utf-8"))

    def string(self, value: str) -> None:
        """Write a string (``surrogatepass`` keeps lone surrogates, which WL allows)."""
        self._sized(_STRING, value.encode("utf-8", "surrogatepass"))

    def binary(self, data: bytes) -> None:
        """Write binary data: a ``ByteArray`` to WL, ``bytes`` to wolframclient."""
        self._sized(_BINARY_STRING, bytes(data))

    def integer(self, value: int) -> None:
        """Write the smallest machine integer that holds ``value``, else a big integer."""
        for token, fmt in _INTEGER_FORMATS.items():
            bound = 1 << (8 * fmt.size - 1)
            if -bound <= value < bound:
                self.buf.append(token)
                self.buf += fmt.pack(value)
                return
        self._sized(_BIG_INTEGER, str(value).encode("ascii"))

    def real(self, value: float) -> None:
        """Write a machine real (IEEE double)."""
        self.buf.append(_REAL64)
        self.buf += _REAL64_FORMAT.pack(value)

    def big_real(self, text: str) -> None:
        """Write an arbitrary-precision real given as WL input text (``3.14`50.``)."""
        self._sized(_BIG_REAL, text.encode("ascii"))

    def function(self, head: str, length: int) -> None:
        """Start ``head[...]`` with ``length`` arguments; the caller writes them next."""
        self.buf.append(_FUNCTION)
        self.varint(length)
        self.symbol(head)

    def association(self, length: int) -> None:
        """Start an association of ``length`` rules; write each with ``rule()`` then key, value."""
        self.buf.append(_ASSOCIATION)
        self.varint(length)

    def rule(self, *, delayed: bool = False) -> None:
        """Start one association entry."""
        self.buf.append(_RULE_DELAYED if delayed else _RULE)

    def string_list(self, values: Sequence[str]) -> None:
        """Write ``{"a", "b", ...}``."""
        self.function("List", len(values))
        for value in values:
            self.string(value)

    def expression(self, expr: Any) -> None:
        """Write any Mathics3 expression: atoms by kind, compound expressions as functions."""
        if isinstance(expr, Atom):
            self.atom(expr)
            return
        elements = expr.elements
        if _is_association(expr):
            self.association(len(elements))
            for item in elements:
                self.rule(delayed=item.get_head_name() == "System`RuleDelayed")
                self.expression(item.elements[0])
                self.expression(item.elements[1])
            return
        self.buf.append(_FUNCTION)
        self.varint(len(elements))
        self.expression(expr.head)
        for item in elements:
            self.expression(item)

    def atom(self, atom: Any) -> None:
        """Write one Mathics3 atom, keeping exact numbers exact and every digit of big reals."""
        if isinstance(atom, Symbol):
            self.symbol(atom.get_name())
        elif isinstance(atom, Integer):
            self.integer(atom.value)
        elif isinstance(atom, PrecisionReal):
            self.big_real(precision_real_text(atom.value, atom.get_precision()))
        elif isinstance(atom, MachineReal):
            self.machine_real(atom.value)
        elif isinstance(atom, Rational):
            self.function("Rational", 2)
            self.integer(atom.numerator().value)
            self.integer(atom.denominator().value)
        elif isinstance(atom, Complex):
            self.buf.append(_FUNCTION)
            self.varint(2)
            self.symbol(SymbolComplex.get_name())
            self.atom(atom.real)
            self.atom(atom.imag)
        elif isinstance(atom, String):
            self.string(atom.value)
        elif isinstance(atom, ByteArray):
            self.binary(atom.value)
        elif isinstance(atom, NumericArray):
            self.numeric_array(atom.value)
        else:
            # No WXF form (a Mathics3-only atom such as an image or a box): say what it was.
            self.function(SymbolMissing.get_name(), 2)
            self.string("NotSerializable")
            self.string(str(atom))

    def machine_real(self, value: Any) -> None:
        """A machine real; one Mathics3 holds as an mpf beyond double range goes out as text."""
        as_float = float(value)
        if as_float in (float("inf"), float("-inf")):
            text = to_str(mpmath.mpf(value)._mpf_, 16, min_fixed=0, max_fixed=0, show_zero_exponent=True)
            mantissa, exponent = text.split("e")
            self.big_real(f"{mantissa}`{_MACHINE_DIGITS!r}*^{int(exponent)}")
        else:
            self.real(as_float)

    def numeric_array(self, array: Any) -> None:
        """A ``NumericArray`` in its own WXF form (0xC2), little-endian."""
        data = numpy.ascontiguousarray(array)
        little = data.dtype.newbyteorder("<")
        code = _ARRAY_TYPES.get(little.str)
        if code is None or data.ndim == 0 or 0 in data.shape:
            self.function(SymbolMissing.get_name(), 2)
            self.string("NotSerializable")
            self.string(f"NumericArray of {data.dtype}, shape {data.shape}")
            return
        self.buf.append(_NUMERIC_ARRAY)
        self.buf.append(code)
        self.varint(data.ndim)
        for dim in data.shape:
            self.varint(dim)
        self.buf += data.astype(little).tobytes()


def _is_association(expr: Any) -> bool:
    """``Association[rule, ...]`` maps onto WXF's association; anything else is a function."""
    if expr.get_head_name() != "System`Association":
        return False
    return all(
        item.get_head_name() in ("System`Rule", "System`RuleDelayed") and len(item.elements) == 2
        for item in expr.elements
    )


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
