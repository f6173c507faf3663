"""Execution modes: the ways torch can compute a derivative, each checked and reported separately.

Real autograd bugs live in one mode and not another (``linalg.det`` at a singular matrix: plain
``.backward()`` returns zeros, ``create_graph=True`` and ``torch.func`` the adjugate; ``sinc''(0)``:
NaN by double backward, 0 by ``torch.func.hessian``; the truth is -pi^2/3). So each case is checked
in every mode that applies:

``reverse``          ``torch.autograd.grad``, one backward per output element; higher orders by
                     nested ``grad(..., create_graph=True)`` (the first order itself without it)
``double_backward``  the same with ``create_graph=True`` already at first order (the graph a
                     second derivative differentiates). It applies only where the golden holds a
                     second derivative (``order=2``, the default up to 8 scalar inputs); elsewhere
                     it is a skip, "not applicable", never a pass that checked nothing of its own
``func``             ``torch.func``: ``jacrev`` for first order, ``hessian`` (``jacfwd(jacrev)``)
                     for second, further ``jacfwd`` for third and fourth
``forward``          forward-mode AD: ``torch.autograd.forward_ad`` dual numbers for first order,
                     nested ``torch.func.jvp`` for higher orders
``compile``          ``torch.compile`` of the function, then as ``reverse``; opt-in only (it
                     compiles every function, seconds each on CPU)

This module is torch-free (the pytest plugin imports it to name its items); the modes themselves
are in :mod:`gradgold.autodiff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["DEFAULT_MODES", "MODES", "case_modes", "check_label", "unknown_modes"]

#: Every mode, in report order.
MODES: tuple[str, ...] = ("reverse", "double_backward", "func", "forward", "compile")
#: The modes a case runs unless it or the command line says otherwise (``compile`` is opt-in).
DEFAULT_MODES: tuple[str, ...] = ("reverse", "double_backward", "func", "forward")


def unknown_modes(modes: Sequence[str]) -> list[str]:
    """The names in ``modes`` that are not modes."""
    return [m for m in modes if m not in MODES]


def case_modes(case: Any, requested: Sequence[str] | None = None) -> tuple[str, ...]:
    """The modes ``case`` is checked in, in report order.

    A case's ``modes=`` restricts it to those modes (the lead's ``Case`` field; absent or None: no
    restriction). Without ``requested`` (``--mode``), a case runs :data:`DEFAULT_MODES` plus its
    ``require_modes=``, or exactly its ``modes=``; with it, the requested modes it allows, so
    ``--mode compile`` opts every unrestricted case into ``compile``.
    """
    allowed = getattr(case, "modes", None)
    required = tuple(getattr(case, "require_modes", ()) or ())
    if requested:
        chosen = set(requested) & set(allowed if allowed is not None else MODES)
    elif allowed is not None:
        chosen = set(allowed)
    else:
        chosen = set(DEFAULT_MODES) | set(required)
    return tuple(m for m in MODES if m in chosen)


def required(case: Any, mode: str) -> bool:
    """Whether the case says ``mode`` must support its function (then "not applicable" fails)."""
    return mode in tuple(getattr(case, "require_modes", ()) or ())


def check_label(dtype: str, mode: str, device: str = "cpu") -> str:
    """``float32-reverse`` (``-cuda`` appended off the CPU): the pytest id's parameter and the tag
    in every report line, so a line found in a log can be rerun by its id."""
    return f"{dtype}-{mode}" if device == "cpu" else f"{dtype}-{mode}-{device.replace(':', '')}"
