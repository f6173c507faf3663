"""Transformations of a case's Wolfram Language source text, before any engine sees it.

Pure text in, text out, so that every engine and evaluator gets the same meaning from the same
case file, and so that the checker can show the result without an engine:

- :func:`exact_decimals`: a decimal literal means the exact decimal a person wrote. ``1.055`` is
  1055/1000 = 211/200, not the nearest machine number (whose 53-bit error caps every reference
  computed from it at 16 digits). Precision marks (``1.055`30``, ``1.055``20``), exponents
  (``1.5*^-3``), ``.5``, ``2.`` and base notation (``16^^1F.8``) are read the same way.
- :func:`wl_names`: a Python parameter name that is not a usable Wolfram Language symbol
  (``axis_angle``, ``x_1``, ``C``) is written in camelCase in ``wolfram=``, with one rule.
- :func:`machine_sources`: what in a source still makes machine numbers (``N[x]`` without a
  precision), for the message when a result loses precision.

The tokenizer skips strings (``"1.5"``) and comments (``(* 1.5 *)``), and reads digits inside
symbols (``x1``, ``gg$W$1``), slots (``#1``) and contexts (```Global`x```) as what they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "RESERVED",
    "Token",
    "exact_decimals",
    "machine_sources",
    "tokens",
    "wl_name",
    "wl_names",
]

#: Names the Wolfram Language already means something by, that a Python parameter could plausibly
#: be called: the single capitals that are System` symbols, and System` functions and constants.
#: A parameter with one of these names is written with its first letter in lower case.
_SYSTEM_NAMES = (
    "Abs All Arg Automatic Beta Ceiling Clip Conjugate Cos Cosh Cot Csc Degree Det Dot Erf Erfc Exp "
    "False Floor Function Gamma Hold If Im Indeterminate Infinity Inverse Length Limit List Log Max "
    "Mean Min Mod Norm Null Pi Piecewise Plus Power Product Ramp Range Re Round Sec Sign Sin Sinh "
    "Sqrt Sum Table Tan Tanh Times Total Tr Transpose True Variance Which Zeta"
)
RESERVED = frozenset({*"CDEIKNO", *_SYSTEM_NAMES.split()})

_WL_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_PY_ASCII_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def wl_name(param: str) -> str:
    """The symbol that stands for Python parameter ``param`` in ``wolfram=``.

    The rule: a name that is a usable symbol already is itself (``x``, ``W``, ``x1``); otherwise
    underscores are dropped and the letter after each one is capitalized (camelCase:
    ``axis_angle`` -> ``axisAngle``, ``x_1`` -> ``x1``, ``_scale`` -> ``scale``); a name in
    :data:`RESERVED` (``C``, ``E``, ``N``, ``Gamma``...) gets its first letter in lower case
    (``C`` -> ``c``, ``Gamma`` -> ``gamma``; the Wolfram Language's own names all start with a
    capital). Raises ``ValueError`` (with the reason) for a name no rule can map: non-ASCII, or
    nothing but underscores.
    """
    if not _PY_ASCII_NAME.match(param):
        raise ValueError("only ASCII letters, digits and '_' can be mapped to a Wolfram Language symbol")
    parts = [p for p in param.split("_") if p]
    if not parts:
        raise ValueError("a name of underscores only has no letters to map")
    name = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    if not _WL_SYMBOL.match(name):
        raise ValueError(f"{name!r} would start with a digit")
    if name in RESERVED:
        name = name[0].lower() + name[1:]
    return name


def wl_names(params: Sequence[str]) -> dict[str, str]:
    """:func:`wl_name` of each parameter. Raises ``ValueError`` naming both parameters when two map
    to the same symbol (``axis_angle`` and ``axisAngle``), or one's symbol is another's own name."""
    out: dict[str, str] = {}
    for p in params:
        try:
            out[p] = wl_name(p)
        except ValueError as exc:
            raise ValueError(f"parameter {p!r}: {exc}") from None
    seen: dict[str, str] = {}
    for p, w in out.items():
        if w in seen:
            raise ValueError(
                f"parameters {seen[w]!r} and {p!r} would both be written {w!r} in wolfram= "
                "(camelCase, lower-case first letter for reserved names)"
            )
        seen[w] = p
    return out


@dataclass(frozen=True)
class Token:
    """One lexical piece of WL source: ``kind`` is "number", "symbol", "string", "comment",
    "space" or "other" (an operator or bracket character, or a slot such as ``#1``)."""

    kind: str
    text: str
    start: int


_NUMBER = re.compile(
    r"""
    (?:(?P<base>\d+)\^\^(?P<bdigits>[0-9A-Za-z]*(?:\.[0-9A-Za-z]*)?)     # 16^^1F.8
      |(?P<mantissa>\d+(?:\.(?!\.)\d*)?|\.\d+))                         # 12, 1.5, 2., .5
    (?P<mark>``?(?:[+-]?(?:\d+\.?\d*|\.\d+))?)?                          # `30, ``20, `
    (?:\*\^(?P<exp>[+-]?\d+))?                                           # *^-3
    """,
    re.VERBOSE,
)
_SYMBOL = re.compile(r"(?:[A-Za-z$]|\\\[[A-Za-z]+\])(?:[A-Za-z0-9$`]|\\\[[A-Za-z]+\])*")
_SPACE = re.compile(r"\s+")
_SLOT = re.compile(r"(?:##?|%+)\d*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def tokens(text: str) -> Iterator[Token]:
    """The tokens of ``text`` in order; concatenating their texts gives ``text`` back."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("(*", i):
            end = _comment_end(text, i)
            yield Token("comment", text[i:end], i)
            i = end
            continue
        for kind, pattern in (("string", _STRING), ("space", _SPACE), ("symbol", _SYMBOL), ("other", _SLOT)):
            m = pattern.match(text, i)
            if m and m.end() > i:
                yield Token(kind, m.group(), i)
                i = m.end()
                break
        else:
            m = _NUMBER.match(text, i)
            # ".5" after an operand is the Dot operator applied to 5, not a number
            operand_before = i > 0 and (text[i - 1].isalnum() or text[i - 1] in "$])}")
            if m and m.end() > i and not (c == "." and operand_before):
                yield Token("number", m.group(), i)
                i = m.end()
            else:
                yield Token("other", c, i)
                i += 1


def _comment_end(text: str, start: int) -> int:
    """Index just past the comment opening at ``start`` (WL comments nest)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*)", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


def number_value(literal: str) -> Fraction | None:
    """The exact value of a WL number literal, or None for a plain integer (already exact, left as
    written). A precision mark does not change the value: ``1.055`30`` is 211/200."""
    m = _NUMBER.fullmatch(literal)
    if m is None:
        return None
    if m["base"] is not None:
        base = int(m["base"])
        whole, _, frac = m["bdigits"].partition(".")
        if not (2 <= base <= 36) or not (whole or frac):
            return None
        try:
            value = Fraction(int(whole or "0", base)) + (
                Fraction(int(frac, base), base ** len(frac)) if frac else 0
            )
        except ValueError:
            return None
        scale = base
        inexact = "." in m["bdigits"] or m["mark"] is not None or m["exp"] is not None
    else:
        whole, _, frac = m["mantissa"].partition(".")
        value = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        scale = 10
        inexact = "." in m["mantissa"] or m["mark"] is not None or m["exp"] is not None
    if not inexact:
        return None
    if m["exp"] is not None:
        value *= Fraction(scale) ** int(m["exp"])
    return value


def exact_decimals(text: str) -> str:
    """``text`` with every inexact number literal replaced by its exact value: an integer, or a
    parenthesized rational (``2^1.5`` -> ``2^(3/2)``). Text without such literals comes back
    unchanged, byte for byte."""
    out = []
    for tok in tokens(text):
        value = number_value(tok.text) if tok.kind == "number" else None
        if value is None:
            out.append(tok.text)
        elif value.denominator == 1:
            out.append(str(value.numerator))
        else:
            out.append(f"({value.numerator}/{value.denominator})")
    return "".join(out)


def machine_sources(text: str) -> list[str]:
    """The places in ``text`` that make machine-precision numbers even after
    :func:`exact_decimals`: ``N[...]`` with one argument or with ``MachinePrecision``, and the
    symbol ``MachinePrecision`` itself; each as the source text that does it."""
    toks = [t for t in tokens(text) if t.kind not in ("space", "comment")]
    found = []
    for k, tok in enumerate(toks):
        if tok.kind == "symbol" and tok.text == "MachinePrecision":
            found.append("MachinePrecision")
        if tok.kind != "symbol" or tok.text != "N" or k + 1 >= len(toks) or toks[k + 1].text != "[":
            continue
        depth, commas, j = 0, 0, k + 1
        while j < len(toks):
            t = toks[j].text
            depth += t in "[({"
            depth -= t in "])}"
            commas += t == "," and depth == 1
            if depth == 0:
                break
            j += 1
        if commas == 0:
            found.append(text[tok.start : toks[min(j, len(toks) - 1)].start + 1])
    return list(dict.fromkeys(found))
