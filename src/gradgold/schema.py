"""The golden's metadata schema: one frozen type, written and read as JSON in one place.

A golden's ``metadata`` entry (see :mod:`gradgold.golden` for the file around it) is JSON that the
generator writes and every reader trusts only after this module validated it. :class:`Metadata`
is that JSON as typed fields: :func:`gradgold.metadata.case_metadata` builds it (the generator adds
only what it alone knows), :meth:`Metadata.from_json` validates a file's text field by field, and
:meth:`Metadata.to_json` writes the one canonical text: keys sorted, no spaces, optional keys
omitted at their defaults (so first-order real goldens keep the bytes they had before those keys
existed). A version 2 file must hold exactly what :meth:`~Metadata.to_json` would write back (up
to whitespace and key order): an unknown key, or an optional key spelled out at its default, is
refused, so a golden that loads round-trips byte for byte and nothing in it is ignored.

Version 1 stored the program's text (``program``) and repeated its ``format_version``; both are
read (the text becomes its hash, :func:`program_sha256`), never written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import GoldenFormatError
from .exact import GRID_NAMES

__all__ = [
    "DERIVATIVE_TENSORS",
    "PROJECTIONS",
    "EngineStamp",
    "Metadata",
    "program_sha256",
    "quantity_shapes",
    "regenerate_hint",
]

#: The quantities a golden holds besides ``value`` and ``grad/<param>``: each full derivative
#: tensor with its order, and each projection with the derivative order it projects.
DERIVATIVE_TENSORS: dict[str, int] = {"hessian": 2, "d3": 3, "d4": 4}
PROJECTIONS: dict[str, int] = {"proj/grad": 1, "proj/hess": 2}

#: The largest count or dimension a golden may declare (its entries are at most this many bytes).
MAX_COUNT = 1 << 30
MAX_NDIM = 16

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # a Python parameter name (ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
#: How an engine program ends: ``TimeConstrained[..., <seconds>, $Aborted]``. The timeout bounds
#: how long the engine may take (``--timeout``), not what it computes, so the hash leaves it out.
_TIMEOUT_TAIL = re.compile(r"\n  \d+, \$Aborted\]\Z")

Shape = tuple[int, ...]


def program_sha256(text: str) -> str:
    """The hash a version 2 golden stores in place of its program's text: SHA-256 of the UTF-8
    text without its evaluation timeout."""
    return hashlib.sha256(_TIMEOUT_TAIL.sub("", text).encode("utf-8")).hexdigest()


def regenerate_hint(path: Path | str) -> str:
    """The fix every golden format error ends with."""
    return f"delete it and regenerate it with `gradgold generate --force` (file: {path})"


@dataclass(frozen=True)
class EngineStamp:
    """Which engine computed the references (reported, compared by ``diff``; never trusted)."""

    name: str
    version: str


@dataclass(frozen=True)
class Metadata:
    """Everything a golden says about itself besides its arrays.

    The case determines ``id`` to ``magnitudes`` (see :func:`gradgold.metadata.case_metadata`);
    the generator adds ``engine``, ``out_shape``, the program and how it computed
    (``evaluator``, ``strategy``, ``working_precision``). ``program`` (the text) is known only in
    memory while generating, or from a version 1 file; a version 2 file holds its hash alone.
    Optional fields at their defaults (``None``, ``()``, ``order=1`` ...) are not written.
    """

    id: str
    wolfram: str
    precision: int
    fingerprint: str
    params: tuple[tuple[str, Shape], ...]
    grids: tuple[str, ...]
    n_points: int
    engine: EngineStamp
    out_shape: Shape
    program_sha256: str
    min_digits: int | None = None
    dtypes: tuple[str, ...] | None = None
    order: int = 1
    projections: int = 0
    full_jacobian: bool = True
    complex: tuple[str, ...] = ()
    complex_output: bool = False
    evaluator: str | None = None
    strategy: str | None = None
    working_precision: int | None = None
    magnitudes: tuple[str, ...] = ()
    program: str | None = None

    # -- derived -------------------------------------------------------------------------

    @property
    def shapes(self) -> dict[str, Shape]:
        """Each parameter's shape at one point, in parameter order."""
        return dict(self.params)

    @property
    def param_names(self) -> list[str]:
        return [p for p, _ in self.params]

    @property
    def n_vars(self) -> int:
        """The number of scalar inputs (the Hessian's side)."""
        return sum(math.prod(s) for _, s in self.params)

    def quantity_shapes(self) -> dict[str, Shape]:
        """Each quantity a golden with this metadata holds, with its shape at one point."""
        return quantity_shapes(self.params, self.out_shape, self.order, self.projections, self.full_jacobian)

    def quantities(self) -> list[str]:
        """The quantity names, in report order."""
        return list(self.quantity_shapes())

    def with_program(self, text: str) -> Metadata:
        """This metadata for another program text (its hash follows)."""
        return dataclasses.replace(self, program=text, program_sha256=program_sha256(text))

    # -- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON object a version 2 file stores (the program as its hash, defaults omitted)."""
        out: dict[str, Any] = {
            "id": self.id,
            "wolfram": self.wolfram,
            "precision": self.precision,
            "fingerprint": self.fingerprint,
            "params": [[p, list(s)] for p, s in self.params],
            "grids": list(self.grids),
            "n_points": self.n_points,
            "engine": {"name": self.engine.name, "version": self.engine.version},
            "out_shape": list(self.out_shape),
            "program_sha256": self.program_sha256,
        }
        for key, value in self._optional().items():
            if value is not None:
                out[key] = value
        return out

    def _optional(self) -> dict[str, Any]:
        """Each optional key's JSON value, or None where it is not written."""
        projected = self.projections != 0
        return {
            "min_digits": self.min_digits,
            "dtypes": None if self.dtypes is None else list(self.dtypes),
            "order": self.order if self.order != 1 else None,
            # written together, as the case states them, whenever the case asks for projections
            "projections": self.projections if projected else None,
            "full_jacobian": self.full_jacobian if projected else None,
            "complex": list(self.complex) or None,
            "complex_output": True if self.complex_output else None,
            "evaluator": self.evaluator,
            "strategy": self.strategy,
            "working_precision": self.working_precision,
            "magnitudes": list(self.magnitudes) or None,
        }

    def to_json(self) -> str:
        """The metadata entry's text: canonical (sorted keys, no spaces), so regenerating an
        unchanged case writes the same bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, path: Path | str, version: int = 2) -> Metadata:
        """Parse and validate a file's metadata text; a :class:`GoldenFormatError` names the file,
        the key and the fix. Version 1 holds ``program`` (its text) where version 2 holds
        ``program_sha256``."""
        try:
            raw = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError) as exc:
            raise GoldenFormatError(
                f"{path}: metadata is not JSON ({str(exc)[:200]}); {regenerate_hint(path)}"
            ) from exc
        return cls.from_dict(raw, path, version)

    @classmethod
    def from_dict(cls, raw: Any, path: Path | str, version: int = 2) -> Metadata:
        """Validate a parsed metadata object (see :meth:`from_json`)."""
        keys = (*_REQUIRED, "program" if version == 1 else "program_sha256")
        missing = [k for k in keys if not isinstance(raw, dict) or k not in raw]
        if missing:
            raise GoldenFormatError(f"{path}: metadata lacks {missing}; {regenerate_hint(path)}")
        problem = _problem(raw, version)
        if problem:
            raise GoldenFormatError(f"{path}: malformed metadata: {problem}; {regenerate_hint(path)}")
        meta = _build(raw, version)
        if version >= 2:
            problem = _not_canonical(raw, meta.to_dict())
            if problem:
                raise GoldenFormatError(f"{path}: malformed metadata: {problem}; {regenerate_hint(path)}")
        return meta

    def __post_init__(self) -> None:
        # A frozen type holds no lists: equal metadata compares equal and hashes alike.
        for name in _SEQUENCE_FIELDS:
            if isinstance(getattr(self, name), list):
                raise TypeError(f"Metadata.{name} must be a tuple, not a list")


#: The fields that hold sequences (tuples, never lists).
_SEQUENCE_FIELDS = ("params", "grids", "out_shape", "dtypes", "complex", "magnitudes")
#: The keys a version 2 file may hold, and those a version 1 file may hold.
_KEYS = frozenset(f.name for f in fields(Metadata)) - {"program"}
_KEYS_V1 = _KEYS | {"program", "format_version"}


def quantity_shapes(
    params: tuple[tuple[str, Shape], ...],
    out_shape: Shape,
    order: int = 1,
    projections: int = 0,
    full_jacobian: bool = True,
) -> dict[str, Shape]:
    """Each quantity a golden holds, with its shape at one point: ``value`` and ``grad/<param>``
    always (unless ``full_jacobian`` is false); ``hessian``, ``d3``, ``d4`` up to ``order``;
    ``proj/grad`` and ``proj/hess`` with ``projections``."""
    out = tuple(out_shape)
    n_vars = sum(math.prod(s) for _, s in params)
    shapes: dict[str, Shape] = {"value": out}
    if full_jacobian:
        shapes |= {f"grad/{p}": out + tuple(s) for p, s in params}
        for name, rank in DERIVATIVE_TENSORS.items():
            if rank <= order:
                shapes[name] = out + (n_vars,) * rank
    if projections:
        shapes |= {name: (projections, *out) for name, rank in PROJECTIONS.items() if rank <= order}
    return shapes


_REQUIRED = (
    "id",
    "wolfram",
    "engine",
    "precision",
    "fingerprint",
    "params",
    "out_shape",
    "grids",
    "n_points",
)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct: a repeated key (which ``json`` resolves silently to
    its last value, and other readers to the first) is never in what gradgold writes."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears more than once")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} where a number is expected")


def _is_int(x: Any, low: int = 0) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and low <= x <= MAX_COUNT


def _is_shape(x: Any) -> bool:
    return isinstance(x, list) and len(x) <= MAX_NDIM and all(_is_int(d) for d in x)


def _is_strings(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(s, str) for s in x)


def _problem(meta: Mapping[str, Any], version: int) -> str:
    """What is wrong with the metadata's types, or ""; the grids and entries rely on them."""
    for check in _CHECKS:
        problem = check(meta, version)
        if problem:
            return problem
    return ""


def _unknown_problem(meta: Mapping[str, Any], version: int) -> str:
    known = _KEYS_V1 if version == 1 else _KEYS
    unknown = sorted(k for k in meta if k not in known)
    if unknown:
        return (
            f"unknown key {unknown[0]!r} (the keys are {sorted(known)}; a golden from a newer gradgold "
            "needs that gradgold)"
        )
    return ""


def _string_problem(meta: Mapping[str, Any], version: int) -> str:
    names = ("id", "wolfram", "program", "fingerprint", "evaluator", "strategy")
    strings = [k for k in names if not isinstance(meta.get(k, ""), str)]
    if strings:
        return f"{strings} must be strings"
    if "program_sha256" in meta and not (
        isinstance(meta["program_sha256"], str) and _SHA256.match(meta["program_sha256"])
    ):
        return "program_sha256 must be 64 lowercase hexadecimal digits"
    engine = meta["engine"]
    if (
        not isinstance(engine, dict)
        or set(engine) != {"name", "version"}
        or not all(isinstance(engine[k], str) for k in ("name", "version"))
    ):
        return "engine must be {'name': str, 'version': str}"
    return ""


def _count_problem(meta: Mapping[str, Any], version: int) -> str:
    counts = ("precision", "n_points", *(k for k in ("min_digits", "working_precision") if k in meta))
    for k in counts:
        if not _is_int(meta[k], low=1):
            return f"{k}={meta[k]!r:.60} is not a positive integer"
    return ""


def _params_problem(meta: Mapping[str, Any], version: int) -> str:
    params = meta["params"]
    if not isinstance(params, list) or not all(
        isinstance(p, list)
        and len(p) == 2
        and isinstance(p[0], str)
        and _PARAM.match(p[0])
        and _is_shape(p[1])
        for p in params
    ):
        return f"params={params!r:.200} is not a list of [name, shape]"
    if len({p[0] for p in params}) != len(params):
        return "params repeats a name"
    if not _is_shape(meta["out_shape"]):
        return f"out_shape={meta['out_shape']!r:.200} is not a shape"
    return ""


def _grids_problem(meta: Mapping[str, Any], version: int) -> str:
    grids = meta["grids"]
    if not isinstance(grids, list) or "float64" not in grids or len(set(grids)) != len(grids):
        return f"grids={grids!r:.200} must list float64 and each grid once"
    if not all(g in GRID_NAMES for g in grids):
        return f"grids={grids!r:.200} names a grid other than {list(GRID_NAMES)}"
    dtypes = meta.get("dtypes", [])
    if not _is_strings(dtypes):
        return f"dtypes={dtypes!r:.100} must be a list of dtype names"
    return ""


def _derivative_problem(meta: Mapping[str, Any], version: int) -> str:
    if not _is_int(meta.get("order", 1), low=1) or meta.get("order", 1) > 4:
        return f"order={meta.get('order')!r:.50} is not 1..4"
    if not _is_int(meta.get("projections", 0)) or not isinstance(meta.get("full_jacobian", True), bool):
        return "projections must be a count and full_jacobian a boolean"
    return ""


def _complex_problem(meta: Mapping[str, Any], version: int) -> str:
    """A complex parameter is held as its real and imaginary parts (a last axis of 2), and so is a
    complex value."""
    shapes = {p: s for p, s in meta["params"]}
    cplx = meta.get("complex", [])
    if not isinstance(cplx, list) or not all(
        isinstance(p, str) and shapes.get(p, [])[-1:] == [2] for p in cplx
    ):
        return f"complex={cplx!r:.100} must list parameters whose shape ends in 2"
    out = meta.get("complex_output", False)
    if not isinstance(out, bool) or (out and meta["out_shape"][-1:] != [2]):
        return "complex_output must be a boolean, and a complex value's shape must end in 2"
    return ""


def _magnitudes_problem(meta: Mapping[str, Any], version: int) -> str:
    """``magnitudes`` (optional) lists quantities of the golden, each once."""
    listed = meta.get("magnitudes", [])
    if listed == []:
        return ""
    if not _is_strings(listed):
        return f"magnitudes={listed!r:.100} must be a list of quantity names"
    known = quantity_shapes(
        tuple((p, tuple(s)) for p, s in meta["params"]),
        tuple(meta["out_shape"]),
        meta.get("order", 1),
        meta.get("projections", 0),
        meta.get("full_jacobian", True),
    )
    unknown = [q for q in listed if q not in known]
    if unknown or len(set(listed)) != len(listed):
        return (
            f"magnitudes={listed!r:.200} must name each of the golden's quantities {list(known)} at most once"
        )
    return ""


_CHECKS: tuple[Callable[[Mapping[str, Any], int], str], ...] = (
    _unknown_problem,
    _string_problem,
    _count_problem,
    _params_problem,
    _grids_problem,
    _derivative_problem,
    _complex_problem,
    _magnitudes_problem,
)


def _build(raw: Mapping[str, Any], version: int) -> Metadata:
    """The typed metadata of a validated object."""
    program = raw.get("program") if version == 1 else None
    digest = program_sha256(str(program)) if version == 1 else str(raw["program_sha256"])
    dtypes = raw.get("dtypes")
    return Metadata(
        id=raw["id"],
        wolfram=raw["wolfram"],
        precision=raw["precision"],
        fingerprint=raw["fingerprint"],
        params=tuple((str(p), tuple(s)) for p, s in raw["params"]),
        grids=tuple(raw["grids"]),
        n_points=raw["n_points"],
        engine=EngineStamp(raw["engine"]["name"], raw["engine"]["version"]),
        out_shape=tuple(raw["out_shape"]),
        program_sha256=digest,
        min_digits=raw.get("min_digits"),
        dtypes=None if dtypes is None else tuple(dtypes),
        order=raw.get("order", 1),
        projections=raw.get("projections", 0),
        full_jacobian=raw.get("full_jacobian", True),
        complex=tuple(raw.get("complex", ())),
        complex_output=raw.get("complex_output", False),
        evaluator=raw.get("evaluator"),
        strategy=raw.get("strategy"),
        working_precision=raw.get("working_precision"),
        magnitudes=tuple(raw.get("magnitudes", ())),
        program=program,
    )


def _not_canonical(raw: Mapping[str, Any], canonical: Mapping[str, Any]) -> str:
    """Why the stored object is not what its metadata writes back (or ""): an optional key spelled
    out at its default, or one written without its companion. Compared as JSON values, so only
    whitespace and key order may differ from the canonical text."""
    if raw == canonical:
        return ""
    for key in sorted(set(raw) | set(canonical)):
        if key not in canonical:
            return (
                f"key {key!r} holds {raw[key]!r:.60}, which gradgold never writes (its default, or "
                "projections' settings without projections)"
            )
        if key not in raw or raw[key] != canonical[key]:
            return f"key {key!r} is missing or not as gradgold writes it (expected {canonical[key]!r:.60})"
    return ""
