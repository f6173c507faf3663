"""How one golden's references are judged in one dtype, prepared once for the checks of every mode.

A case is checked in several execution modes (:mod:`gradgold.modes`), and every mode compares its
results with the same references under the same rule (:mod:`gradgold.tolerance`): which grid holds
them, each element's conditioning and magnitude of terms, hence each element's allowance, depend on
the golden, the case and the dtype, never on the mode. A :class:`Judge` computes them once per golden
and dtype, on first use, and remembers each comparison it made: a mode whose result is bit for bit
one another mode obtained at the same point (the value, which every mode computes by the same
forward pass; a gradient that two modes compute alike) gets that comparison again, since
:func:`gradgold.compare.judge` is a function of those bits and the criterion alone. Nothing is
read back from the golden but its references, and nothing of what is checked changes: the same
quantities are computed in every mode and compared element by element.

:class:`Judges` holds a golden's judges (one per dtype); ``run_checks``, the pytest plugin and the
API make one per golden they read and pass it to every check of that golden.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import torch

from .cases import Case
from .compare import Comparison, Criterion, criterion, judge
from .errors import CheckError
from .exact import grid_of
from .golden import DERIVATIVE_TENSORS, PROJECTIONS, Golden, GridData
from .tolerance import conditioning, magnitude, rtol_override

__all__ = ["FED_DTYPES", "Judge", "Judges", "allowance_terms", "params_of", "reference_grid"]

Array = npt.NDArray[np.float64]

#: The dtype of the tensors the checker feeds, by checked dtype: a complex dtype feeds the real
#: dtype of its parts (see :func:`gradgold.check.real_view`).
FED_DTYPES: Mapping[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "complex128": torch.float64,
    "complex64": torch.float32,
}


def reference_grid(golden: Golden, dtype: str) -> GridData:
    """The references for inputs as ``dtype`` represents them: that dtype's own grid when the
    golden has one, else float64's, provided rounding to ``dtype`` does not move its inputs."""
    if grid_of(dtype) in golden.grids:
        return golden.grids[grid_of(dtype)]
    data = golden.grids["float64"]
    for p, arr in data.inputs.items():
        rounded = torch.from_numpy(arr).to(FED_DTYPES[dtype]).double().numpy()
        if not np.array_equal(rounded, arr):
            raise CheckError(
                f"{golden.meta.id}: input {p} is not exactly representable in {dtype} and the "
                f"golden holds no {dtype} references; add {dtype!r} to the case's dtypes= and run "
                f"`gradgold generate {golden.meta.id}`"
            )
    return data


def directions_of(golden: Golden | None) -> Array | None:
    """The golden's projection directions (rows) as float64, or None."""
    found = getattr(golden, "directions", None)
    return None if found is None else np.asarray(found, dtype=np.float64)


def params_of(case: Case, data: GridData) -> tuple[str, ...]:
    """The parameters the checker differentiates by, in the case's order (the grid's, if it names
    none of them)."""
    return tuple(p for p in case.params if p in data.inputs) or tuple(data.inputs)


def allowance_terms(
    case: Case, golden: Golden | None, data: GridData, i: int, quantity: str
) -> tuple[Array | None, Array | None]:
    """The per-element terms of the tolerance rule for ``quantity`` at point ``i`` of ``data`` (one
    of ``golden``'s grids), exactly as the checker uses them: the conditioning
    (:func:`gradgold.tolerance.conditioning`, from the golden's next order) and the magnitude of
    terms (:func:`gradgold.tolerance.magnitude`; None means each element's ``|ref|``). Public so that
    a benchmark measures errors in the checker's own allowance units (``bench/tolerance.py`` feeds
    them to :func:`gradgold.tolerance.allowance`) without a second copy of the rule."""
    params = params_of(case, data)
    x = np.concatenate([data.inputs[p][i].reshape(-1) for p in params])
    numbers = {q: arr[i] for q, arr in data.numbers.items()}
    shapes = {p: tuple(data.inputs[p].shape[1:]) for p in params}
    cond = conditioning(quantity, x, numbers, shapes, directions_of(golden))
    # Only a case that asks for magnitudes (its reviewed text) lets the golden's widen an allowance.
    stored = data.magnitudes.get(quantity) if case.magnitudes else None
    ref = data.numbers[quantity][i]
    return cond, magnitude(None if stored is None else stored[i], ref, bool(case.normwise))


class Judge:
    """One golden's references in one dtype, as every check of that dtype judges them.

    Raises :class:`CheckError` where the golden cannot be checked in ``dtype``: its inputs are not
    representable there, it holds a quantity this checker does not know, or projections without
    directions."""

    def __init__(self, case: Case, golden: Golden, dtype: str) -> None:
        self.case, self.golden, self.dtype = case, golden, dtype
        self.data = reference_grid(golden, dtype)
        self.params = params_of(case, self.data)
        self.directions = directions_of(golden)
        self._refuse_unknown()
        self._criteria: dict[tuple[int, str], Criterion] = {}
        self._judged: dict[tuple[int, str, tuple[int, ...], bytes], Comparison] = {}

    def _refuse_unknown(self) -> None:
        """Refuse a golden holding a quantity this checker does not know: it would go unchecked."""
        numbers, case_id = self.data.numbers, self.case.id
        known = {"value", *(f"grad/{p}" for p in self.params), *DERIVATIVE_TENSORS, *PROJECTIONS}
        unknown = sorted(set(numbers) - known)
        if unknown:
            raise CheckError(
                f"{case_id}: the golden holds {unknown[0]!r}, which this gradgold cannot check; "
                "upgrade gradgold to the version that wrote the golden"
            )
        if any(q in numbers for q in PROJECTIONS) and self.directions is None:
            raise CheckError(
                f"{case_id}: the golden holds projections but no directions; regenerate it with "
                f"`gradgold generate {case_id} --force`"
            )

    def compare(self, i: int, quantity: str, got: Array) -> Comparison:
        """``got`` (torch's ``quantity`` at point i, float64) against the reference; a result
        already judged bit for bit at this point and quantity gets that same comparison."""
        key = (i, quantity, got.shape, got.tobytes())
        found = self._judged.get(key)
        if found is None:
            found = self._judged[key] = judge(got, self.criterion(i, quantity))
        return found

    def criterion(self, i: int, quantity: str) -> Criterion:
        """What ``quantity`` at point i must meet (:func:`gradgold.compare.criterion`)."""
        found = self._criteria.get((i, quantity))
        if found is None:
            cond, mag = allowance_terms(self.case, self.golden, self.data, i, quantity)
            found = criterion(
                self.data.numbers[quantity][i],
                self.dtype,
                rtol_ulps=rtol_override(self.case.rtol_ulps, self.dtype),
                cond=cond,
                magnitude=mag,
            )
            self._criteria[(i, quantity)] = found
        return found


class Judges:
    """The judges of one case's golden, one per dtype, each made on first use."""

    def __init__(self, case: Case, golden: Golden) -> None:
        self.case, self.golden = case, golden
        self._by_dtype: dict[str, Judge] = {}

    def of(self, dtype: str) -> Judge:
        """The judge of ``dtype`` (raises :class:`CheckError` as :class:`Judge` does, every time)."""
        found = self._by_dtype.get(dtype)
        if found is None:
            found = self._by_dtype[dtype] = Judge(self.case, self.golden, dtype)
        return found

    def serve(self, case: Case, golden: Golden) -> bool:
        """Whether these judges are those of ``case`` and ``golden`` (the same objects)."""
        return self.case is case and self.golden is golden
