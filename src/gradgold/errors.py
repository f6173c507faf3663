"""One exception hierarchy for everything gradgold reports to a user.

Every message says what failed, where (file, case, point, quantity, index) and how to fix it, so
the CLI and the pytest plugin can show ``str(error)`` as it is.
"""

from __future__ import annotations

__all__ = [
    "CaseError",
    "CheckError",
    "EngineError",
    "EvaluationError",
    "GenerationLockedError",
    "GoldenError",
    "GoldenFormatError",
    "GoldenMissingError",
    "GoldenStaleError",
    "GradgoldError",
    "KernelHungError",
    "KernelNotFoundError",
    "KernelStartError",
    "OutsideGoldenDirError",
]


class GradgoldError(Exception):
    """Base of every error gradgold raises on purpose."""


class CaseError(GradgoldError):
    """A case file or a case definition is invalid (bad name, points, parameters...)."""


class GoldenError(GradgoldError):
    """A golden file cannot be used as it is."""


class GoldenMissingError(GoldenError):
    """The golden of a case has not been generated yet."""


class GoldenStaleError(GoldenError):
    """The golden was generated for a different version of its case."""


class OutsideGoldenDirError(GoldenError):
    """A path under the golden directory resolves outside it (a symbolic link): never followed."""


class GoldenFormatError(GoldenError):
    """The golden file is unreadable, malformed, or of an unknown format version."""


class EngineError(GradgoldError):
    """The Wolfram Language engine could not be found, started or used."""


class KernelNotFoundError(EngineError):
    """No kernel at the given path, and no embedded engine installed."""


class KernelStartError(EngineError):
    """A kernel was found but did not start."""


class KernelHungError(EngineError):
    """A kernel overran its time limit and had to be stopped."""


class EvaluationError(EngineError):
    """A case's WL program did not give a certified real result."""


class GenerationLockedError(GradgoldError):
    """The golden directory cannot be locked for generation: another generator holds it, or it is
    not writable."""


class CheckError(GradgoldError):
    """A check could not be carried out (not a mismatch: e.g. no reference for the dtype)."""
