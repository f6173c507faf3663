"""A parser for the Wolfram Language InputForm that cases use, into a held tree (``tree``).

gradgold re-derives the tree from the case file's own ``wolfram=`` text rather than trusting one
stored in a golden or sent back by an engine: verification then needs neither. The subset: numbers
(a decimal literal is the exact decimal it spells), symbols, strings, lists, calls ``f[...]``,
``Part`` ``[[...]]`` and ``;;``, infix ``+ - * / ^ .``, implicit multiplication, comparisons,
``&& || !``, ``-> :>``, pure functions ``# &`` with ``/@ @@ @``, ``=`` and ``;``. Anything else is
refused by name, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from .tree import Call, Expr, Str, Sym, call

__all__ = ["WLSyntaxError", "parse"]


class WLSyntaxError(ValueError):
    """The text is outside the subset this parser reads (or not WL at all)."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+\.\d*|\.\d+|\d+)(?P<exp>\*\^-?\d+)?
  | (?P<sym>[A-Za-z$][A-Za-z0-9$]*)
  | (?P<slot>\#\d*)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<op>\[\[|;;|->|:>|/@|@@|==|!=|<=|>=|&&|\|\||[\[\]{}(),;=&!<>+\-*/^.@])
  )""",
    re.VERBOSE,
)

# Binding powers (WL precedences, scaled): higher binds tighter.
_INFIX: dict[str, tuple[int, bool]] = {  # op -> (power, right-associative)
    ";": (10, False),
    "=": (40, True),
    "->": (120, True),
    ":>": (120, True),
    "||": (214, False),
    "&&": (215, False),
    "==": (290, False),
    "!=": (290, False),
    "<": (290, False),
    ">": (290, False),
    "<=": (290, False),
    ">=": (290, False),
    ";;": (305, False),
    "+": (310, False),
    "-": (310, False),
    "*": (400, False),
    "/": (470, False),
    ".": (490, False),
    "^": (590, True),
    "/@": (620, True),
    "@@": (620, True),
    "@": (640, True),
}
_TIMES = 400
_UNARY_MINUS = 480
_NOT = 230
_FUNCTION = 90
_POSTFIX = 1000
_HEADS = {
    "->": "Rule",
    ":>": "RuleDelayed",
    "||": "Or",
    "&&": "And",
    "==": "Equal",
    "!=": "Unequal",
    "<": "Less",
    ">": "Greater",
    "<=": "LessEqual",
    ">=": "GreaterEqual",
    ".": "Dot",
    "/@": "Map",
    "@@": "Apply",
    "=": "Set",
    ";;": "Span",
}
_FLAT = {"Plus", "Times", "And", "Or", "Dot", "CompoundExpression"}


def parse(text: str) -> Expr:
    """The held tree of ``text``; :class:`WLSyntaxError` (naming the position) outside the subset."""
    parser = _Parser(_tokens(text), text)
    expr = parser.expression(0)
    if parser.peek() is not None:
        raise parser.error(f"unexpected {parser.peek()!r}")
    return expr


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise WLSyntaxError(
                f"cannot read {text[pos:].lstrip()[:20]!r} at character {pos}: outside the Wolfram "
                "Language subset gradgold's rigorous evaluator parses"
            )
        kind = m.lastgroup if m.lastgroup != "exp" else "num"
        start = m.start(kind or 0)
        if m.group("num") is not None:
            kind = "num"
        out.append((str(kind), m.group(0).strip(), start))
        pos = m.end()
    return out


def _number(text: str) -> Fraction:
    """An exact number: ``1.055`` is 1055/1000 (an exact decimal, never a float), ``2*^-3`` 2/1000."""
    mantissa, _, exponent = text.partition("*^")
    value = Fraction(mantissa)  # Fraction("1.055") == Fraction(1055, 1000): exact
    return value * Fraction(10) ** int(exponent) if exponent else value


def _join(head: str, left: Expr, right: Expr) -> Call:
    """``head[left, right]``, flattened into ``left`` when it already has that head (Plus, Times...)."""
    if head in _FLAT and isinstance(left, Call) and left.head == Sym(head):
        return Call(left.head, (*left.args, right))
    return call(head, left, right)


def _negate(e: Expr) -> Expr:
    """Unary minus as WL's parser gives it: ``-3`` is the integer, ``-x`` is ``Times[-1, x]``."""
    if isinstance(e, Fraction):
        return -e
    return call("Times", Fraction(-1), e)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], text: str) -> None:
        self.tokens, self.text, self.i = tokens, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def kind(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def error(self, what: str) -> WLSyntaxError:
        at = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        return WLSyntaxError(f"{what} at character {at} of {self.text[:80]!r}")

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise self.error(f"expected {expected or 'more input'}")
        self.i += 1
        return tok

    def starts_operand(self) -> bool:
        """Whether the next token can begin an operand: then juxtaposition is multiplication."""
        return self.kind() in ("num", "sym", "slot", "str") or self.peek() in ("(", "{")

    def expression(self, min_bp: int) -> Expr:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok is None:
                return left
            if tok in ("[", "[[") and min_bp < _POSTFIX:
                left = self.postfix_bracket(left)
            elif tok == "&" and min_bp < _FUNCTION:
                self.take()
                left = call("Function", left)
            elif tok in _INFIX and self.kind() == "op" and _INFIX[tok][0] > min_bp:
                left = self.infix(left, tok)
                if left is None:
                    return left  # pragma: no cover - infix never returns None
            elif self.starts_operand() and min_bp < _TIMES:
                left = _join("Times", left, self.expression(_TIMES))
            else:
                return left

    def infix(self, left: Expr, tok: str) -> Expr:
        power, right_assoc = _INFIX[tok]
        self.take()
        if tok == ";":
            if self.peek() in (None, ")", "]", "}", ","):
                return _join("CompoundExpression", left, Sym("Null"))
            right = self.expression(power)
            if isinstance(left, Call) and left.head == Sym("CompoundExpression"):
                return Call(left.head, (*left.args, right))
            return call("CompoundExpression", left, right)
        if tok == ";;" and self.peek() in (None, ",", "]"):  # a span with no end: 2;;
            return call("Span", left, Sym("All"))
        right = self.expression(power - 1 if right_assoc else power)
        builders: dict[str, Callable[[], Expr]] = {
            "+": lambda: _join("Plus", left, right),
            "-": lambda: _join("Plus", left, _negate(right)),
            "*": lambda: _join("Times", left, right),
            "/": lambda: _join("Times", left, call("Power", right, Fraction(-1))),
            "^": lambda: call("Power", left, right),
            "@": lambda: Call(left, (right,)),
        }
        if tok in builders:
            return builders[tok]()
        return _join(_HEADS[tok], left, right)

    def postfix_bracket(self, left: Expr) -> Expr:
        if self.take() == "[[":
            args = self.sequence("]")
            self.take("]")
            self.take("]")
            return Call(Sym("Part"), (left, *args))
        args = self.sequence("]")
        self.take("]")
        return Call(left, tuple(args))

    def sequence(self, close: str) -> list[Expr]:
        args: list[Expr] = []
        if self.peek() == close:
            return args
        while True:
            args.append(self.expression(0))
            if self.peek() != ",":
                return args
            self.take(",")

    def prefix(self) -> Expr:
        kind, tok = self.kind(), self.peek()
        if tok is None:
            raise self.error("unexpected end of the expression")
        self.i += 1
        if kind == "num":
            return _number(tok)
        if kind == "sym":
            return Sym(tok)
        if kind == "slot":
            return Sym("#" + (tok[1:] or "1"))
        if kind == "str":
            return Str(re.sub(r"\\(.)", r"\1", tok[1:-1]))
        if tok == "(":
            inner = self.expression(0)
            self.take(")")
            return inner
        if tok == "{":
            items = self.sequence("}")
            self.take("}")
            return call("List", *items)
        if tok == "-":
            return _negate(self.expression(_UNARY_MINUS))
        if tok == "+":
            return self.expression(_UNARY_MINUS)
        if tok == "!":
            return call("Not", self.expression(_NOT))
        if tok == ";;":  # a span with no start: ;;3
            self.i -= 1
            return self.span_from(Fraction(1))
        self.i -= 1
        raise self.error(f"unexpected {tok!r}")

    def span_from(self, start: Expr) -> Expr:
        self.take(";;")
        if self.peek() in (None, ",", "]"):
            return call("Span", start, Sym("All"))
        return call("Span", start, self.expression(_INFIX[";;"][0]))
