"""gradgold: golden-file regression tests for PyTorch autograd against exact mathematics.

The public surface is small: :func:`case` declares a case in a file under ``golden/``, and
:func:`uniform` draws reproducible points. Importing gradgold imports numpy only: not torch,
not wolframclient, not Mathics.
"""

from .cases import Case, case, uniform
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
    "uniform",
]
__version__ = "0.1.0"
