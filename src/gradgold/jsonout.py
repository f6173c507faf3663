"""The one JSON encoder for everything gradgold prints: strict JSON that any parser accepts.

Python's ``json`` writes ``NaN``, ``Infinity`` and ``-Infinity`` for non-finite floats; strict
parsers reject them, and some tools (jq 1.6) silently read ``Infinity`` as 1.8e308. A relative
error is infinite where a reference is zero and torch is not, so such values are ordinary here.
The encoding: a non-finite number is the string ``"nan"``, ``"inf"`` or ``"-inf"`` (what Python's
``float()`` reads back); every other number stays a number. Numpy scalars and arrays become numbers
and lists, tuples lists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["NON_FINITE", "dumps"]

#: How each non-finite float is written.
NON_FINITE = {"nan": "nan", "inf": "inf", "-inf": "-inf"}


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """``obj`` as strict JSON (``allow_nan=False`` holds: non-finite numbers are strings)."""
    return json.dumps(_strict(obj), indent=indent, allow_nan=False)


def _strict(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else NON_FINITE[str(x)]
    if isinstance(obj, np.generic):
        return _strict(obj.item())
    if isinstance(obj, np.ndarray):
        return _strict(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj  # json.dumps reports what it cannot encode
