"""gradgold: golden-file regression tests for PyTorch autograd against exact mathematics.

The public surface is small: :func:`case` declares a case in a file under ``golden/``,
:func:`unary` the cases of a function of one input, :func:`uniform` draws reproducible points and
:func:`f32` rounds them to the float32 grid. Importing gradgold imports numpy only: not torch,
not wolframclient, not Mathics.
"""

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
    "EngineError",
    "EvaluationError",
    "GoldenError",
    "GoldenFormatError",
    "GoldenMissingError",
    "GoldenStaleError",
    "GradgoldError",
    "case",
    "f32",
    "unary",
    "uniform",
]
__version__ = "0.1.0"
