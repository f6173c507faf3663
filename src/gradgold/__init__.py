"""gradgold: golden-file regression tests for PyTorch autograd against exact mathematics.

The public surface is small: :func:`case` declares a case in a file under ``golden/``,
:func:`unary` the cases of a function of one input, :func:`uniform` draws reproducible points and
:func:`f32` rounds them to the float32 grid. :func:`check_gradients` checks an implementation against
a golden and returns a :class:`CheckReport`, and :func:`generate_goldens` writes goldens. Importing
gradgold imports numpy only: not torch (until a check runs), not wolframclient, not Mathics.
"""

from .api import CheckReport, check_gradients, generate_goldens
from .cases import Case, case, f32, unary, uniform
from .errors import (
    CaseError,
    CheckError,
    EngineError,
    EvaluationError,
    GoldenError,
    GoldenFormatError,
    GoldenMissingError,
    GoldenStaleError,
    GradgoldError,
)

__all__ = [
    "Case",
    "CaseError",
    "CheckError",
    "CheckReport",
    "EngineError",
    "EvaluationError",
    "GoldenError",
    "GoldenFormatError",
    "GoldenMissingError",
    "GoldenStaleError",
    "GradgoldError",
    "case",
    "check_gradients",
    "f32",
    "generate_goldens",
    "unary",
    "uniform",
]
__version__ = "0.1.0"
