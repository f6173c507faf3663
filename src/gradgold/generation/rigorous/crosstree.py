"""An engine's reading of a case's ``wolfram=`` text, compared with gradgold's own (issue #12).

The rigorous evaluator never takes its tree from an engine: it parses the case file's text itself
(``parser``), so that verification needs no engine. A misreading of WL syntax by that parser would
then be a wrong golden that only the numeric cross-check could catch. So whenever an engine is
available, it is asked for its own reading: the FullForm of the held, bound expression every engine
program starts from (``wlprogram.held_tree_program``: ``Hold[text] /. bindings``; nothing is
evaluated), read here into the same tree type and compared with gradgold's parse, bound the same way.
A disagreement refuses the case (:func:`disagreement` says where and what to do).

The comparison is made before gradgold's rewrites (``wlprogram.REWRITES``), not after: their right
sides (``:>``) are evaluated where they apply, on Mathematica at least, so the tree after them is no
longer a reading of the text. The rigorous evaluator implements the rewrites as semantics, and the
numeric cross-check pins that they mean the same.

Both trees are brought to one canonical form first, because engines legitimately read the same text
into different but equal held trees: Mathics3 reads ``a - 2 b`` as ``Plus[a, Times[-1, 2, b]]``,
Mathematica as ``Plus[a, Times[-2, b]]``, gradgold as ``Plus[a, Times[-1, Times[2, b]]]``. The
canonical form flattens the Flat heads (``Plus``, ``Times``, ``And``, ``Or``, ``Dot``), multiplies
the exact numbers of a ``Times`` into one leading coefficient, folds an exact number to an integer
power, writes ``Rational[a, b]`` as the number, ``Complex[0, 1]`` as ``I`` and ``Slot[n]`` as
``#n``. These are identities WL's evaluator applies to any held tree it releases; any other
difference (an operator's precedence, a grouping, a head, an argument) remains a disagreement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction

from ...cases import Case
from ...errors import EngineError
from ..engine import Engine
from ..wlprogram import bound_value, held_tree_program
from .parser import parse
from .reference import held_tree
from .tree import Call, Expr, Str, Sym, call, full_form

__all__ = [
    "bound_tree",
    "canonical",
    "compare_held_trees",
    "disagreement",
    "first_difference",
    "read_full_form",
]

_FLAT = frozenset({"Plus", "Times", "And", "Or", "Dot"})

_FULL_FORM_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>-?\d+(?![\d.`]))
  | (?P<real>-?\d*\.?\d+`[\d.]*(?:\*\^-?\d+)?|-?\d+\.\d*(?:\*\^-?\d+)?)
  | (?P<sym>[A-Za-z$][A-Za-z0-9$`]*)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<op>[\[\]{},])
  )""",
    re.VERBOSE,
)
_CONTEXTS = ("System`", "Global`")

_BUG = "report it as a gradgold bug"

#: Characters of a subtree shown in a message.
SHOWN = 160


class FullFormError(ValueError):
    """The engine's answer is not the FullForm of an exact held expression."""


def read_full_form(text: str) -> Expr:
    """The tree of FullForm text (``Hold[Plus[x, Times[-1, y]]]``, lists as ``{...}`` or
    ``List[...]``). Only atoms and calls: no operator is read, so gradgold's parser has no part in
    reading the engine's answer. A real number (``1.5```) is refused: the text was made exact."""
    tokens = _full_form_tokens(text)
    expr, at = _read(tokens, 0, text)
    if at != len(tokens):
        raise FullFormError(f"unexpected {tokens[at][1]!r} after the expression in {text[:SHOWN]!r}")
    return expr


def _full_form_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while text[pos:].strip():
        m = _FULL_FORM_TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise FullFormError(f"cannot read {text[pos:].lstrip()[:20]!r} in the engine's FullForm")
        if m.lastgroup == "real":
            raise FullFormError(f"the engine's held tree holds an inexact number {m.group('real')}")
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    return out


def _read(tokens: list[tuple[str, str]], at: int, text: str) -> tuple[Expr, int]:
    if at >= len(tokens):
        raise FullFormError(f"the engine's FullForm ends early: {text[:SHOWN]!r}")
    kind, tok = tokens[at]
    expr: Expr
    if kind == "num":
        expr = Fraction(int(tok))
    elif kind == "sym":
        expr = Sym(next((tok[len(c) :] for c in _CONTEXTS if tok.startswith(c)), tok))
    elif kind == "str":
        expr = Str(re.sub(r"\\(.)", r"\1", tok[1:-1]))
    elif tok == "{":
        items, at = _arguments(tokens, at + 1, "}", text)
        return call("List", *items), at
    else:
        raise FullFormError(f"unexpected {tok!r} in the engine's FullForm {text[:SHOWN]!r}")
    at += 1
    while at < len(tokens) and tokens[at][1] == "[":
        args, at = _arguments(tokens, at + 1, "]", text)
        expr = Call(expr, tuple(args))
    return expr, at


def _arguments(tokens: list[tuple[str, str]], at: int, close: str, text: str) -> tuple[list[Expr], int]:
    args: list[Expr] = []
    if at < len(tokens) and tokens[at][1] == close:
        return args, at + 1
    while True:
        arg, at = _read(tokens, at, text)
        args.append(arg)
        if at < len(tokens) and tokens[at][1] == ",":
            at += 1
            continue
        if at < len(tokens) and tokens[at][1] == close:
            return args, at + 1
        raise FullFormError(f"expected ',' or {close!r} in the engine's FullForm {text[:SHOWN]!r}")


def bound_tree(case: Case) -> Expr:
    """gradgold's parse of the case's text with each parameter symbol replaced by the array of
    entry symbols the engine program binds it to (``wlprogram.bound_value``): what the engine's
    ``Hold[text] /. bindings`` holds, read by gradgold."""
    binding: dict[Expr, Expr] = {Sym(case.wl_names[p]): parse(bound_value(case, p)) for p in case.params}
    return _substitute(held_tree(case), binding)


def _substitute(e: Expr, binding: dict[Expr, Expr]) -> Expr:
    if isinstance(e, Sym):
        return binding.get(e, e)
    if isinstance(e, Call):
        return Call(_substitute(e.head, binding), tuple(_substitute(a, binding) for a in e.args))
    return e


def canonical(e: Expr) -> Expr:
    """``e`` with the identities of the module docstring applied, bottom up."""
    if not isinstance(e, Call):
        return e
    head = canonical(e.head)
    args = tuple(canonical(a) for a in e.args)
    name = head.name if isinstance(head, Sym) else ""
    ints = [a for a in args if isinstance(a, Fraction) and a.denominator == 1]
    if name == "Rational" and len(args) == 2 and len(ints) == 2 and ints[1] != 0:
        return ints[0] / ints[1]
    if name == "Complex" and args == (Fraction(0), Fraction(1)):
        return Sym("I")
    if name == "Slot" and len(args) == 1 and len(ints) == 1:
        return Sym(f"#{ints[0]}")
    if name in _FLAT:
        args = tuple(x for a in args for x in _flattened(a, name))
    if name == "Times":
        return _times(args)
    folded = _power(*args) if name == "Power" and len(args) == 2 else None
    return folded if folded is not None else Call(head, args)


def _power(base: Expr, power: Expr) -> Fraction | None:
    """An exact number to an integer power, as the number (None otherwise, and for 0 to a negative
    power, which WL leaves as ComplexInfinity with a message)."""
    if not (isinstance(base, Fraction) and isinstance(power, Fraction) and power.denominator == 1):
        return None
    if base == 0 and power < 0:
        return None
    return Fraction(base ** int(power))


def _flattened(e: Expr, name: str) -> tuple[Expr, ...]:
    """The arguments ``e`` contributes to a call of Flat head ``name``: its own when it is one."""
    return e.args if _has_head(e, name) and isinstance(e, Call) else (e,)


def _has_head(e: Expr, name: str) -> bool:
    return isinstance(e, Call) and e.head == Sym(name)


def _times(args: tuple[Expr, ...]) -> Expr:
    """``Times`` with its exact numbers multiplied into one leading coefficient (1 dropped)."""
    coefficient = Fraction(1)
    rest: list[Expr] = []
    for a in args:
        if isinstance(a, Fraction):
            coefficient *= a
        else:
            rest.append(a)
    if not rest:
        return coefficient
    factors = rest if coefficient == 1 else [coefficient, *rest]
    return factors[0] if len(factors) == 1 else call("Times", *factors)


def first_difference(ours: Expr, theirs: Expr) -> tuple[Expr, Expr] | None:
    """The innermost pair of subtrees, at the same position, where the two trees first differ
    (depth first, left to right); None when they are equal."""
    while ours != theirs:
        if not (isinstance(ours, Call) and isinstance(theirs, Call)) or len(ours.args) != len(theirs.args):
            return ours, theirs
        pairs = [(ours.head, theirs.head), *zip(ours.args, theirs.args, strict=True)]
        a, b = next((a, b) for a, b in pairs if a != b)
        if (a, b) == (ours.head, theirs.head) and isinstance(a, Sym):
            return ours, theirs  # another head: the whole call differs
        ours, theirs = a, b
    return None


def _shown(e: Expr) -> str:
    text = full_form(e)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def compare_held_trees(engine: Engine, cases: Sequence[Case], timeout: float) -> dict[str, str]:
    """Ask ``engine`` for the held tree of each case and compare it with gradgold's reading: the
    refusal of each case read differently (by case id); an empty dict when all agree. One short
    program per case (no numbers are computed: about 20 ms a case on Mathics3), so a refusal names
    its case and one text the engine cannot read spoils no other."""
    refused: dict[str, str] = {}
    for case in cases:
        try:
            outcome = engine.evaluate(held_tree_program(case), timeout=timeout)
        except EngineError as exc:
            raise EngineError(
                f"{case.source}: case {case.id}: asking the engine for the held tree of wolfram= "
                f"failed: {exc}"
            ) from exc
        problem = disagreement(case, outcome.result, outcome.messages, engine.info.name)
        if problem:
            refused[case.id] = problem
    return refused


def disagreement(case: Case, answer: object, messages: Sequence[str], engine: str) -> str:
    """ "" when ``answer`` (the engine's result of ``held_tree_program``, with the ``messages`` it
    issued) reads the case's text as gradgold does; else the refusal, naming the file, the case,
    the first differing subtree on each side and the fix."""
    where = f"{case.source}: case {case.id}"
    if messages or not isinstance(answer, str):
        said = "; ".join(messages) or f"it answered {str(answer)[:SHOWN]!r}"
        return (
            f"{where}: the engine ({engine}) could not read wolfram= as a held expression ({said}); "
            "the golden is not written; fix the text so that it is valid Wolfram Language"
        )
    try:
        theirs = read_full_form(answer)
    except FullFormError as exc:
        return f"{where}: cannot read the held tree the engine ({engine}) sent ({exc}); {_BUG}"
    if not (isinstance(theirs, Call) and theirs.head == Sym("Hold") and len(theirs.args) == 1):
        return f"{where}: the engine ({engine}) answered {_shown(theirs)} instead of Hold[...]; {_BUG}"
    found = first_difference(canonical(bound_tree(case)), canonical(theirs.args[0]))
    if found is None:
        return ""
    return (
        f"{where}: the engine ({engine}) reads wolfram= differently from gradgold's parser, so the "
        f"rigorous evaluator would compute something else than the engine means: where gradgold "
        f"reads {_shown(found[0])}, the engine reads {_shown(found[1])} (the held, bound trees in "
        "canonical form). The golden is not written. Rewrite the expression so that both read it "
        "alike (add parentheses or an explicit *), or, if the engine's reading is the Wolfram "
        "Language's, report the parser bug (gradgold.generation.rigorous.parser)"
    )
