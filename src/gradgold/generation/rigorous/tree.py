"""The held expression tree a case's ``wolfram=`` text denotes: symbols, exact numbers, strings and
calls ``head[args]``, printed as WL FullForm so it can be compared with an engine's own.

Numbers are exact (``Fraction``): a decimal literal ``1.055`` is the rational 1055/1000, as the
Wolfram Language text given to the engines is rewritten to mean (issue #17).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Call", "Expr", "Str", "Sym", "call", "full_form", "heads"]


@dataclass(frozen=True)
class Sym:
    """A symbol (``x``, ``Pi``, ``Sin``) or a slot (``#``, ``#2``: named ``#1``, ``#2``)."""

    name: str


@dataclass(frozen=True)
class Str:
    """A string literal (``"Frobenius"``)."""

    text: str


@dataclass(frozen=True)
class Call:
    """``head[args...]``; the head is usually a symbol, but ``Derivative[1][f]`` has a call as head."""

    head: Expr
    args: tuple[Expr, ...]


Expr = Fraction | Sym | Str | Call


def call(head: str, *args: Expr) -> Call:
    """``head[args]`` for a symbol head."""
    return Call(Sym(head), tuple(args))


def full_form(e: Expr) -> str:
    """WL FullForm text of a tree (``Times[-1, x]``, ``Rational[1, 3]``)."""
    if isinstance(e, Fraction):
        if e.denominator == 1:
            return str(e.numerator)
        return f"Rational[{e.numerator}, {e.denominator}]"
    if isinstance(e, Sym):
        return e.name if not e.name.startswith("#") else f"Slot[{e.name[1:] or 1}]"
    if isinstance(e, Str):
        return '"' + e.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{full_form(e.head)}[{', '.join(full_form(a) for a in e.args)}]"


def heads(e: Expr) -> set[str]:
    """Every symbol used as a head in the tree (what the evaluator must know)."""
    out: set[str] = set()
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, Call):
            if isinstance(node.head, Sym):
                out.add(node.head.name)
            else:
                stack.append(node.head)
            stack.extend(node.args)
    return out
