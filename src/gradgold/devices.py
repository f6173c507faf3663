"""Devices the checker can run on, and why one cannot be used here.

Goldens do not depend on the device: the same references check CPU, CUDA and MPS results. A device
that is absent is a skip with a reason, never a failure, so one test command serves every machine.
"""

from __future__ import annotations

import re

__all__ = ["device_problem", "dtype_problem"]

_DEVICE = re.compile(r"(cpu|cuda|mps)(:\d+)?\Z")


def device_problem(device: str) -> str:
    """Why ``device`` cannot run checks on this machine ("" if it can)."""
    import torch

    m = _DEVICE.match(device)
    if not m:
        return f"unknown device {device!r}; use cpu, cuda, cuda:N or mps"
    kind, index = m.group(1), int(m.group(2)[1:]) if m.group(2) else 0
    if kind == "cuda":
        if not torch.cuda.is_available():
            return f"device {device} is not available: torch {torch.__version__} sees no CUDA GPU here"
        if index >= torch.cuda.device_count():
            return f"device {device} is not available: only {torch.cuda.device_count()} CUDA device(s) here"
    if kind == "mps" and not torch.backends.mps.is_available():
        return f"device {device} is not available: torch {torch.__version__} has no MPS backend here"
    return ""


def dtype_problem(device: str, dtype: str) -> str:
    """Why ``dtype`` cannot run on ``device`` ("" if it can): MPS has no float64."""
    if device.startswith("mps") and dtype == "float64":
        return "MPS has no float64; check float64 on cpu or cuda"
    return ""
