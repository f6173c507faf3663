"""Golden files: deterministic, atomic ``.npz`` writes and a loader that never unpickles.

Layout (format version 1), every entry a plain ``.npy`` array so ``numpy.load(path)`` with
``allow_pickle=False`` reads it::

    format_version             int64 scalar
    metadata                   0-d unicode array: JSON (case id, wolfram, program, engine, ...)
    <grid>/input/<param>       float64 (points, *param_shape)     the inputs of that float grid
    <grid>/value               float64 (points, *out_shape)       correctly rounded references
    <grid>/grad/<param>        float64 (points, *out_shape, *param_shape)
    <grid>/digits/<quantity>   unicode, same shape: the decimal digits the number came from
    <grid>/certified/<quantity> int16, same shape: decimal digits certified correct

``<grid>`` is ``float64`` for the points as written and e.g. ``float32`` for the same points
rounded to float32, present only where that rounding moves some point.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .cases import FORMAT_VERSION
from .errors import GoldenFormatError

__all__ = ["Golden", "GridData", "read_golden", "write_golden"]

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_ENTRY_BYTES = 1 << 30


@dataclass(frozen=True)
class GridData:
    """References at one float grid. Quantities are ``value`` and ``grad/<param>``."""

    inputs: Mapping[str, npt.NDArray[np.float64]]
    numbers: Mapping[str, npt.NDArray[np.float64]]
    digits: Mapping[str, npt.NDArray[np.str_]]
    certified: Mapping[str, npt.NDArray[np.int16]]

    @property
    def n_points(self) -> int:
        return int(self.numbers["value"].shape[0])


@dataclass(frozen=True)
class Golden:
    """A golden file in memory."""

    meta: Mapping[str, Any]
    grids: Mapping[str, GridData]

    @property
    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        """Every entry of the file, by key."""
        out: dict[str, np.ndarray[Any, Any]] = {
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
            "metadata": np.array(json.dumps(self.meta, sort_keys=True, indent=1)),
        }
        for grid, data in self.grids.items():
            for section, items in (
                ("input", data.inputs),
                ("digits", data.digits),
                ("certified", data.certified),
            ):
                out.update({f"{grid}/{section}/{k}": v for k, v in items.items()})
            out.update({f"{grid}/{k}": v for k, v in data.numbers.items()})
        return out


def write_golden(path: Path, golden: Golden) -> bool:
    """Write atomically; return False (and touch nothing) if the file already holds these bytes.

    Entries are stored uncompressed, sorted, with a fixed timestamp, so regenerating an unchanged
    case gives byte-identical files on every machine (compressed output varies across zlib builds).
    """
    data = _encode(golden.arrays())
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gradgold-tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _encode(arrays: Mapping[str, np.ndarray[Any, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(key + ".npy", date_time=_FIXED_DATE)
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.array(arrays[key], order="C"), version=(1, 0), allow_pickle=False
            )
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def read_golden(path: Path) -> Golden:
    """Load and validate a golden. Anything unexpected is a :class:`GoldenFormatError` naming the
    file and the fix; no entry is ever unpickled, and no array larger than its bytes is allocated."""
    try:
        with zipfile.ZipFile(path) as zf:
            entries = {_key(path, info): _read_entry(path, zf, info) for info in zf.infolist()}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise GoldenFormatError(f"{path}: not a readable golden file ({exc}); {_regen(path)}") from exc
    return _assemble(path, entries)


def _regen(path: Path) -> str:
    return f"delete it and regenerate it with `gradgold generate --force` (file: {path})"


def _key(path: Path, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy"):
        raise GoldenFormatError(f"{path}: unexpected entry {info.filename!r}; {_regen(path)}")
    return info.filename[: -len(".npy")]


def _read_entry(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray[Any, Any]:
    """One ``.npy`` entry, its header checked before any data is read."""
    if info.file_size > _MAX_ENTRY_BYTES:
        raise GoldenFormatError(f"{path}: entry {info.filename!r} is {info.file_size} bytes; {_regen(path)}")
    raw = zf.read(info)
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy version {version}")
    except ValueError as exc:
        raise GoldenFormatError(
            f"{path}: entry {info.filename!r} is not a valid array ({exc}); {_regen(path)}"
        ) from exc
    if dtype.hasobject or dtype.kind not in "biufU":
        raise GoldenFormatError(
            f"{path}: entry {info.filename!r} has dtype {dtype}, which a golden never holds "
            f"(object arrays would need unpickling, which gradgold refuses); {_regen(path)}"
        )
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(raw) - f.tell():
        raise GoldenFormatError(
            f"{path}: entry {info.filename!r} declares shape {shape} but holds "
            f"{len(raw) - f.tell()} bytes of data; {_regen(path)}"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=f.tell())
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def _assemble(path: Path, entries: dict[str, np.ndarray[Any, Any]]) -> Golden:
    """Check the entries against the metadata and build the in-memory golden."""
    version = entries.pop("format_version", None)
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise GoldenFormatError(f"{path}: no format_version entry; {_regen(path)}")
    if int(version) != FORMAT_VERSION:
        raise GoldenFormatError(
            f"{path}: golden format version {int(version)} is not the one this gradgold reads "
            f"({FORMAT_VERSION}); upgrade gradgold if the file is newer, else regenerate it with "
            "`gradgold generate --force`"
        )
    meta = _metadata(path, entries.pop("metadata", None))
    grids = {g: _grid(path, meta, g, entries) for g in meta["grids"]}
    if entries:
        raise GoldenFormatError(f"{path}: unexpected entries {sorted(entries)[:5]}; {_regen(path)}")
    return Golden(meta=meta, grids=grids)


_META_KEYS = (
    "id",
    "wolfram",
    "program",
    "engine",
    "precision",
    "fingerprint",
    "params",
    "out_shape",
    "grids",
    "n_points",
)


def _metadata(path: Path, arr: np.ndarray[Any, Any] | None) -> dict[str, Any]:
    if arr is None or arr.shape != () or arr.dtype.kind != "U":
        raise GoldenFormatError(f"{path}: no metadata entry; {_regen(path)}")
    try:
        meta = json.loads(str(arr))
    except json.JSONDecodeError as exc:
        raise GoldenFormatError(f"{path}: metadata is not JSON ({exc}); {_regen(path)}") from exc
    missing = [k for k in _META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise GoldenFormatError(f"{path}: metadata lacks {missing}; {_regen(path)}")
    return dict(meta)


def _grid(
    path: Path, meta: Mapping[str, Any], grid: str, entries: dict[str, np.ndarray[Any, Any]]
) -> GridData:
    """Pop one grid's entries, checking presence, dtype and shape of each."""
    try:
        params = {str(p): tuple(int(d) for d in s) for p, s in meta["params"]}
        out_shape = tuple(int(d) for d in meta["out_shape"])
        n = int(meta["n_points"])
    except (TypeError, ValueError) as exc:
        raise GoldenFormatError(f"{path}: malformed metadata ({exc}); {_regen(path)}") from exc
    quantities = {"value": out_shape} | {f"grad/{p}": out_shape + s for p, s in params.items()}

    def take(key: str, kind: str, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        arr = entries.pop(f"{grid}/{key}", None)
        if arr is None:
            raise GoldenFormatError(f"{path}: missing entry {grid}/{key}; {_regen(path)}")
        if arr.dtype.kind != kind or arr.shape != (n, *shape):
            raise GoldenFormatError(
                f"{path}: entry {grid}/{key} has dtype {arr.dtype} and shape {arr.shape}, expected "
                f"kind {kind!r} and shape {(n, *shape)}; {_regen(path)}"
            )
        if kind == "f" and not np.all(np.isfinite(arr)):
            raise GoldenFormatError(f"{path}: entry {grid}/{key} holds NaN or infinity; {_regen(path)}")
        return arr

    return GridData(
        inputs={p: take(f"input/{p}", "f", s).astype(np.float64) for p, s in params.items()},
        numbers={q: take(q, "f", s).astype(np.float64) for q, s in quantities.items()},
        digits={q: take(f"digits/{q}", "U", s) for q, s in quantities.items()},
        certified={q: take(f"certified/{q}", "i", s).astype(np.int16) for q, s in quantities.items()},
    )


def quantities(params: Iterable[str]) -> list[str]:
    """The quantity names of a first-order golden, in report order."""
    return ["value", *(f"grad/{p}" for p in params)]
