"""What the generator says when the engine fails for a reason other than the expression."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import gradgold as gg
from gradgold.errors import EvaluationError
from gradgold.generation.engine import EngineInfo, Outcome
from gradgold.generation.generate import evaluate_case


class _Engine:
    """An engine whose every evaluation issues the given messages."""

    def __init__(self, messages: tuple[str, ...]) -> None:
        self.messages = messages
        self.info = EngineInfo(name="Fake", version="1", path="fake", kernels=1)

    def evaluate(self, text: str, timeout: float) -> Outcome:
        return Outcome(result=None, messages=self.messages)


def _lse(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x, 0)


CASE = gg.case("Log[Total[Exp[x]]]", points=[{"x": [0.5] * 4}], name="lse")(_lse)


def test_a_recursion_error_is_named_an_engine_size_limit_not_a_wrong_expression() -> None:
    message = (
        "General::internal: internal error in Mathics3: RecursionError: maximum recursion depth exceeded"
    )
    engine: Any = _Engine((message,))
    with pytest.raises(EvaluationError) as err:
        evaluate_case(engine, CASE)
    assert str(err.value).endswith(
        f"case lse: the engine ran out of Python recursion depth ({message}); the expression is fine, it "
        "is too large for this engine: Mathics3 recurses once per term when it differentiates a function "
        "of a long sum (about 100 terms). Use fewer inputs, strategy='symbolic', or a real Wolfram kernel "
        "(--kernel PATH)"
    )


def test_other_messages_still_blame_the_expression() -> None:
    engine: Any = _Engine(("Power::infy: Infinite expression 1/0 encountered.",))
    with pytest.raises(EvaluationError, match="the engine issued messages for wolfram='Log"):
        evaluate_case(engine, CASE)
