"""Everything that makes or re-derives a golden: WL programs, kernels, the embedded engine, the
rigorous evaluator, certification, verification and review.

Nothing under ``gradgold.generation`` is imported by the checker (``import gradgold``, ``check``, the
pytest plugin): checking a golden never needs wolframclient, Mathics3 or python-flint.
"""
