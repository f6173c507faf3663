"""Golden files: deterministic, atomic ``.npz`` writes and a loader that never unpickles.

Layout (format version 2), every entry a plain ``.npy`` array so ``numpy.load(path)`` with
``allow_pickle=False`` reads it::

    format_version             int64 scalar (2)
    metadata                   uint8 (bytes,): UTF-8 JSON (case id, wolfram, program_sha256, engine, ...),
                               the canonical text of a :class:`~gradgold.schema.Metadata`
    <grid>/input/<param>       float64 (points, *param_shape)     the inputs of that float grid
    <grid>/value               float64 (points, *out_shape)       correctly rounded references
    <grid>/grad/<param>        float64 (points, *out_shape, *param_shape)
    <grid>/hessian             float64 (points, *out_shape, N, N)    order >= 2 (N: all scalar inputs,
    <grid>/d3, <grid>/d4       float64 (points, *out_shape, N, ...)  flattened in parameter order)
    directions                 float64 (k, N)                     the seeded projection directions
    <grid>/proj/grad           float64 (points, k, *out_shape)    <grad f, v_j>
    <grid>/proj/hess           float64 (points, k, *out_shape)    v_j' H v_j (order >= 2)
    <grid>/digits/<quantity>   ASCII bytes (``S<width>``), same shape: the decimal digits the number came from
    <grid>/certified/<quantity> int16, same shape: decimal digits certified correct
    <grid>/magnitude/<quantity> float64, same shape (optional): each element's magnitude of terms

*Sparse quantities.* A quantity most of whose elements are exact zeros at every point (the
Jacobian and Hessian of an elementwise function are diagonal) is stored as the elements of a
pattern only: ``<grid>/nonzero/<quantity>`` (int32, strictly increasing flat indices into one
point's elements, the same for every point) and each of the quantity's entries above with shape
``(points, len(nonzero))``. Every element outside the pattern is the exact zero: number ``0.0``,
digits ``"0"``, magnitude ``0.0`` and ``<grid>/zero_certified/<quantity>`` (an int16 scalar)
certified digits. The writer elides an element only when it is exactly that at every point, so
reading gives back the dense arrays bit for bit; the file is about the size of the nonzeros.

*The program.* Version 1 stored the whole WL program (or held tree) the references were computed
from: most of a golden's bytes. Version 2 stores only its SHA-256 (``program_sha256``, of the
program text without its evaluation timeout). Nothing reads the text back: ``gradgold verify``
re-derives the program from the case file and compares (a hash comparison is as strict as the text
comparison was), ``gradgold diff`` reports a changed hash as a metadata change, and ``gradgold
show`` prints the hash. Reproducing a reference is done from the case file
(``gradgold generate --force``), never from text a pull request could have edited.

Version 1 (digits as UTF-32 ``U`` arrays, metadata a ``U`` scalar holding ``program``, no sparse
quantities) is still read; ``gradgold generate --force`` rewrites a golden as version 2 (even where
its numbers are unchanged). The format version is not part of a case's fingerprint
(:data:`FINGERPRINT_VERSION` is): re-encoding changes how a golden is stored, not what it means, so
a version 1 golden stays fresh. ``gradgold upgrade`` re-encodes fresh version 1 goldens without an
engine (:func:`gradgold.generation.generate.upgrade`): safe for a golden from anyone, since nothing
new is trusted (the file must load and be fresh; its numbers are those the checker compares
against already; the stored program text becomes its hash, which ``verify`` compares with the
case's as it compared the text), and, unlike regenerating, it moves no check's outcome.

A *magnitude* is, per element, the size of the terms the exact result is a sum of: for a
derivative, the same derivative with every sum replaced by the sum of absolute values, so
``magnitude >= |value|``, with equality where nothing cancels. Floating-point rounding of a
cancelling sum (a reduction, a matrix product, a softmax or layer_norm gradient) is of the order
of ``eps * magnitude``, so the checker's absolute allowance of an element is a multiple of its own
magnitude (:mod:`gradgold.compare`). The metadata's ``magnitudes`` lists the quantities that have
one (every grid holds the same); it need only be an upper estimate (a few digits, rounded up),
never below ``|value|`` (the loader refuses that). A forged *huge* magnitude would hide a wrong
result: see SECURITY.md for what is verified.

A reference is finite, except where the exact value lies beyond the float64 range: then it is
the infinity round-to-nearest gives, and its digits (checked on load) say so; the checker
compares an infinite reference exactly.

``<grid>`` is ``float64`` for the points as written and e.g. ``float32`` for the same points
rounded to float32, present only where that rounding moves some point.

Complex numbers are held as real pairs, like ``torch.view_as_real``: a parameter listed in the
metadata's ``complex`` has shape ``(*shape, 2)`` (real, imaginary part), and with
``complex_output`` so does the value. Every derivative is then a real derivative, with respect to
the real and imaginary parts of the inputs, of the real and imaginary parts of the value.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import stat
import struct
import tempfile
import tokenize
import warnings
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import storedzip
from .errors import GoldenFormatError
from .schema import (
    DERIVATIVE_TENSORS,
    MAX_NDIM,
    PROJECTIONS,
    Metadata,
    program_sha256,
    regenerate_hint,
)

#: Version of the golden file format the writer produces.
FORMAT_VERSION = 2
#: Versions the loader reads (see the module docstring for version 1).
READABLE_VERSIONS = (1, 2)
#: Version of what a golden's references *mean*: part of every case's fingerprint. It changes only
#: when the same case would need different numbers, never with the storage format, so that
#: re-encoding a golden (version 1 to 2) leaves it fresh.
FINGERPRINT_VERSION = 1

__all__ = [
    "DERIVATIVE_TENSORS",
    "FINGERPRINT_VERSION",
    "FORMAT_VERSION",
    "PROJECTIONS",
    "TEMP_PREFIX",
    "Golden",
    "GridData",
    "Metadata",
    "magnitude_problem",
    "program_sha256",
    "read_golden",
    "write_golden",
]

#: Name prefix of the temporary file a golden is written to before it is renamed into place. A
#: write killed before the rename leaves one: never a golden, and ``gradgold generate`` deletes it.
TEMP_PREFIX = ".gradgold-tmp-"

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_ENTRY_BYTES = 1 << 30


@dataclass(frozen=True)
class GridData:
    """References at one float grid. Quantities are ``value`` and ``grad/<param>``...; ``magnitudes``
    holds the per-element magnitude of terms of the quantities that have one (see the module
    docstring)."""

    inputs: Mapping[str, npt.NDArray[np.float64]]
    numbers: Mapping[str, npt.NDArray[np.float64]]
    digits: Mapping[str, npt.NDArray[np.str_]]
    certified: Mapping[str, npt.NDArray[np.int16]]
    magnitudes: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(self.numbers["value"].shape[0])


@dataclass(frozen=True)
class Golden:
    """A golden file in memory."""

    meta: Metadata
    grids: Mapping[str, GridData]
    directions: npt.NDArray[np.float64] | None = None
    #: The format version of the file it was read from (a golden made in memory: the writer's).
    version: int = FORMAT_VERSION

    @property
    def fingerprint(self) -> str:
        return self.meta.fingerprint

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        """Every entry of the file (format version 2), by key."""
        out: dict[str, np.ndarray[Any, Any]] = {
            "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
            "metadata": _utf8(self.meta.to_json()),
        }
        for grid, data in self.grids.items():
            out.update({f"{grid}/input/{k}": v for k, v in data.inputs.items()})
            for q in data.numbers:
                out.update(_quantity_entries(grid, q, data))
        if self.directions is not None:
            out["directions"] = self.directions
        return out


def _utf8(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _quantity_entries(grid: str, q: str, data: GridData) -> dict[str, np.ndarray[Any, Any]]:
    """One quantity's entries: dense, or sparse when at most half of a point's elements are
    outside the all-points pattern of elements that are not the exact zero."""
    number, digits, certified = data.numbers[q], data.digits[q], data.certified[q]
    magnitude = data.magnitudes.get(q)
    n = number.shape[0]
    arrays = {"": number, "digits/": digits, "certified/": certified}
    if magnitude is not None:
        arrays["magnitude/"] = magnitude
    pattern = _sparse_pattern(number, digits, certified, magnitude)
    if pattern is None:
        out = {f"{grid}/{part}{q}": a for part, a in arrays.items()}
    else:
        index, fill = pattern
        out = {f"{grid}/{part}{q}": a.reshape(n, -1)[:, index] for part, a in arrays.items()}
        out[f"{grid}/nonzero/{q}"] = index.astype(np.int32)
        out[f"{grid}/zero_certified/{q}"] = np.array(fill, dtype=np.int16)
    key = f"{grid}/digits/{q}"
    out[key] = _ascii(out[key])
    return out


def _sparse_pattern(
    number: npt.NDArray[np.float64],
    digits: npt.NDArray[np.str_],
    certified: npt.NDArray[np.int16],
    magnitude: npt.NDArray[np.float64] | None,
) -> tuple[npt.NDArray[np.intp], int] | None:
    """(flat indices kept, certified digits of the elided zeros), or None to store densely.

    An element is elided only if at every point it is +0.0 (bitwise), its digits are "0", its
    magnitude (if any) is +0.0, and its certified count is the most common one among such zeros
    (ties: the smallest), so that reading restores every array exactly."""
    n = number.shape[0]
    size = math.prod(number.shape[1:])
    if n == 0 or size < 2:
        return None
    zero = (np.ascontiguousarray(number, dtype=np.float64).reshape(n, -1).view(np.uint64) == 0) & (
        digits.reshape(n, -1) == "0"
    )
    if magnitude is not None:
        zero &= np.ascontiguousarray(magnitude, dtype=np.float64).reshape(n, -1).view(np.uint64) == 0
    cert = certified.reshape(n, -1)
    if not zero.any():
        return None
    values, counts = np.unique(cert[zero], return_counts=True)
    fill = int(values[int(np.argmax(counts))])
    elided = (zero & (cert == fill)).all(axis=0)
    index = np.flatnonzero(~elided)
    if 2 * index.size > size:
        return None
    return index, fill


def _ascii(digits: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Digit strings as fixed-width ASCII bytes, as wide as the longest (so the bytes depend only
    on the strings, not on the width of the array they came in)."""
    width = max(1, int(np.char.str_len(digits).max())) if digits.size else 1
    return np.asarray(digits).astype(f"S{width}")


def write_golden(path: Path, golden: Golden) -> bool:
    """Write atomically; return False (and touch nothing) if the file already holds these bytes.

    Entries are stored uncompressed, sorted, with a fixed timestamp, so regenerating an unchanged
    case gives byte-identical files on every machine (compressed output varies across zlib builds).
    """
    data = _encode(golden.arrays())
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".npz", dir=path.parent)
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


def read_golden(path: Path, root: Path | None = None) -> Golden:
    """Load and validate a golden. Anything unexpected is a :class:`GoldenFormatError` naming the
    file and the fix.

    Golden files arrive in pull requests from anyone, so this parses hostile input: no entry is
    ever unpickled, no array is allocated before its declared size has been checked against the
    bytes actually stored, compressed entries (possible zip bombs) are refused, and with ``root``
    (the golden directory) a path that resolves outside it, such as a symlink to a FIFO or to a
    private file, is refused before it is opened.
    """
    path = Path(path)
    fd, size = _open_regular(path, root)
    try:
        blob = os.pread(fd, size, 0) if size <= _WHOLE_FILE_BYTES else None
        read, read_into = _readers(fd, blob)
        directory, end = storedzip.members(read, size, _MAX_ENTRIES)
        members = _members(path, directory, size)
        entries: dict[str, np.ndarray[Any, Any]] = {}
        for key, member in members:
            try:
                if blob is not None:
                    data = storedzip.stored_bytes_in(blob, member, end)
                else:
                    data = storedzip.stored_bytes(read_into, read, member, end)
            except storedzip.StoredZipError as exc:
                raise GoldenFormatError(f"{path}: {exc}; {_regen(path)}") from exc
            entries[key] = _read_entry(path, member, data)
            if key == "format_version":
                _check_version(path, entries[key])
    except _ZIP_ERRORS as exc:
        raise GoldenFormatError(f"{path}: not a readable golden file ({exc}); {_regen(path)}") from exc
    finally:
        os.close(fd)
    return _assemble(path, entries)


#: Files up to this size are read with one system call and parsed in memory (every committed
#: golden is); a larger one is read entry by entry, so that it is never held twice.
_WHOLE_FILE_BYTES = 1 << 22


def _readers(fd: int, blob: bytes | None) -> tuple[storedzip.Reader, storedzip.IntoReader]:
    """``read(offset, n)`` and ``read_into(offset, buffer)`` over the open golden, from ``blob``
    when the file is held whole (positioned reads otherwise: no file object, no seeks)."""
    if blob is not None:
        view = memoryview(blob)

        def read_into_memory(offset: int, buffer: bytearray) -> int:
            part = view[offset : offset + len(buffer)]
            buffer[: len(part)] = part
            return len(part)

        return (lambda offset, n: blob[offset : offset + n]), read_into_memory

    def read(offset: int, n: int) -> bytes:
        return os.pread(fd, n, offset)

    def read_into(offset: int, buffer: bytearray) -> int:
        return os.preadv(fd, [buffer], offset)

    return read, read_into


# What the zip layer raises on corrupt input; gradgold's own checks raise GoldenFormatError.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    NotImplementedError,
    OverflowError,
)
# What numpy's header parser raises on corrupt headers (its Python 2 repair path tokenizes them).
_HEADER_ERRORS = (
    ValueError,
    TypeError,
    OverflowError,
    SyntaxError,
    RecursionError,
    MemoryError,
    tokenize.TokenError,
    Warning,
)
_MAX_FILE_BYTES = 1 << 30
#: What the sparse quantities of one golden may densify to, in all: no more than a golden may be.
_MAX_DENSE_BYTES = _MAX_FILE_BYTES
_MAX_ENTRIES = 100_000
_NPY_PREFIX = 8 + 2 + 0xFFFF  # magic and version, header length, the longest version 1.0 header
_DIGITS = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
# Many digit strings, one a line: each line atomic, so a bad line is never retried through the
# ways earlier lines could have matched (which would take exponential time).
_DIGIT_LINES = re.compile(r"(?>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\n)*+")
# The same over ASCII bytes (version 2's digits).
_DIGIT_BYTES = re.compile(rb"(?>-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\n)*+")


def _regen(path: Path) -> str:
    return regenerate_hint(path)


@functools.lru_cache(maxsize=64)
def _resolved(root: str) -> Path:
    """The golden directory, resolved once per run (every golden of a run is checked against it)."""
    return Path(root).resolve()


def _real_path(path: Path, root: str) -> str:
    """``path.resolve()``, cheaply for the usual golden: a path written below ``root`` with no
    ``..`` whose components below ``root`` are no symbolic links resolves to the resolved root
    joined with those components (only they are ``lstat``-ed; ``root`` is resolved once). Any
    other path is resolved in full."""
    text = os.fspath(path)
    absolute, top = os.path.abspath(text), os.path.abspath(root)
    if ".." in text.split(os.sep) or not absolute.startswith(top + os.sep):
        return str(path.resolve())
    below = absolute[len(top) + 1 :]
    current = top
    for part in below.split(os.sep):
        current = os.path.join(current, part)
        try:
            link = stat.S_ISLNK(os.lstat(current).st_mode)
        except OSError:  # missing: resolved as before, so that opening it says what is wrong
            link = True
        if link:
            return str(path.resolve())
    return os.path.join(_resolved(root), below)


def _open_regular(path: Path, root: Path | None) -> tuple[int, int]:
    """Open ``path`` only if it is a regular file (inside ``root`` when given): its descriptor
    and size.

    ``O_NONBLOCK`` keeps a FIFO from blocking the open; the type is checked on the open
    descriptor, so what is read is what was checked.
    """
    if root is not None:
        try:
            real, base = _real_path(path, str(root)), _resolved(str(root))
        except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
            raise GoldenFormatError(f"{path}: cannot be resolved ({exc}); {_regen(path)}") from exc
        if not (real.startswith(str(base) + os.sep) or real == str(base)):
            raise GoldenFormatError(
                f"{path}: resolves to {real}, outside the golden directory {base}; a golden must be a "
                "file inside it (a symlink out of it is refused: a pull request could point it "
                f"anywhere). Replace the link with the file, e.g. `git rm {path}` then `gradgold generate`"
            )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise GoldenFormatError(
            f"{path}: cannot be opened ({exc.strerror}); check that it exists and is readable, or "
            f"{_regen(path)}"
        ) from exc
    info = os.fstat(fd)
    problem = ""
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file (a device, FIFO or directory)"
    elif info.st_size > _MAX_FILE_BYTES:
        problem = f"is {info.st_size} bytes, more than any golden may be ({_MAX_FILE_BYTES})"
    if problem:
        os.close(fd)
        raise GoldenFormatError(f"{path}: {problem}; {_regen(path)}")
    return fd, info.st_size


def _members(path: Path, directory: list[storedzip.Member], size: int) -> list[tuple[str, storedzip.Member]]:
    """The entries by key, ``format_version`` first, refusing duplicates and forged sizes.

    Entries are stored uncompressed, so together they cannot hold more bytes than the file: a
    larger total means entries that overlap or lie about their size.
    """
    for member in directory:
        _check_storage(path, member)
    declared = sum(m.size for m in directory)
    if declared > size:
        raise GoldenFormatError(
            f"{path}: its entries declare {declared} bytes, more than the file's {size}: entries "
            f"overlap or lie about their size; {_regen(path)}"
        )
    keyed = [(_key(path, m), m) for m in directory]
    if len({k for k, _ in keyed}) != len(keyed):
        counts = Counter(k for k, _ in keyed)
        twice = sorted(k for k, n in counts.items() if n > 1)
        raise GoldenFormatError(f"{path}: entries {twice[:5]} appear more than once; {_regen(path)}")
    return sorted(keyed, key=lambda item: item[0] != "format_version")


def _key(path: Path, member: storedzip.Member) -> str:
    if not member.name.endswith(".npy"):
        raise GoldenFormatError(f"{path}: unexpected entry {member.name!r}; {_regen(path)}")
    return member.name[: -len(".npy")]


def _read_entry(path: Path, member: storedzip.Member, data: bytearray) -> np.ndarray[Any, Any]:
    """One ``.npy`` entry from its stored bytes: its header is checked before its data is used,
    and the data must be exactly as long as the header's shape and dtype say."""
    name = member.name
    head = bytes(data[: 10 + (data[8] | data[9] << 8)] if len(data) >= 10 else data)
    known = _known_header(head)
    if known is None:
        shape, fortran, dtype, offset = _header(path, name, head)
        count = math.prod(shape)
    else:
        shape, fortran, dtype, offset, count = known
    if offset + count * dtype.itemsize != member.size:
        raise GoldenFormatError(
            f"{path}: entry {name!r} declares shape {shape} of {dtype} but holds "
            f"{member.size - offset} bytes of data; {_regen(path)}"
        )
    try:
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(
            shape, order="F" if fortran else "C"
        )
    except ValueError as exc:
        raise GoldenFormatError(
            f"{path}: entry {name!r} has an impossible shape {shape}; {_regen(path)}"
        ) from exc
    if dtype.kind == "U":
        _check_code_points(path, name, arr)
    return arr  # owns its buffer (a bytearray of its own): no copy needed


def _check_storage(path: Path, member: storedzip.Member) -> None:
    """gradgold writes every entry stored and unencrypted; anything else was not written by it."""
    name = member.name
    if member.method != storedzip.STORED or member.compressed_size != member.size:
        raise GoldenFormatError(
            f"{path}: entry {name!r} is compressed (method {member.method}); gradgold writes "
            f"goldens uncompressed and refuses compressed entries, which could be zip bombs; {_regen(path)}"
        )
    if member.flags & 0x1:
        raise GoldenFormatError(f"{path}: entry {name!r} is encrypted; {_regen(path)}")
    if member.size > _MAX_ENTRY_BYTES:
        raise GoldenFormatError(f"{path}: entry {name!r} is {member.size} bytes; {_regen(path)}")


def _header(path: Path, name: str, head: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """Shape, Fortran order, dtype and data offset of a ``.npy`` entry of version 1.0 (the only
    version the writer produces), refusing dtypes a golden never holds and impossible shapes."""
    fast = _fast_header(head)
    if fast is not None:
        return _checked_header(path, name, *fast)
    f = io.BytesIO(head)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns, then repairs, Python 2 headers
            version = np.lib.format.read_magic(f)
            if version != (1, 0):
                raise ValueError(f".npy version {version}, where gradgold writes 1.0")
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    except _HEADER_ERRORS as exc:
        raise GoldenFormatError(
            f"{path}: entry {name!r} is not a valid array ({type(exc).__name__}: {str(exc)[:200]}); "
            f"{_regen(path)}"
        ) from exc
    return _checked_header(path, name, tuple(shape), bool(fortran), dtype, f.tell())


# numpy's exact header text for the arrays gradgold writes: parsed without ``ast`` (most of the
# cost of reading a golden); anything else goes through numpy's own parser.
_NPY_HEADER = re.compile(
    rb"\{'descr': '(?P<descr>[<>|=][biufUS]\d{1,3})', 'fortran_order': (?P<fortran>True|False), "
    rb"'shape': \((?P<shape>(?:\d{1,12}, ?)*(?:\d{1,12})?)\), \} *\n"
)


@functools.lru_cache(maxsize=1024)
def _known_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int, int] | None:
    """Shape, order, dtype, data offset and element count of a header already seen and accepted
    in this process (goldens repeat a few headers), or None: :func:`_header` then parses it and
    says what is wrong with it."""
    fast = _fast_header(head)
    if fast is None:
        return None
    shape, fortran, dtype, offset = fast
    if dtype.hasobject or dtype.kind not in "biufUS" or dtype.itemsize == 0:
        return None
    if len(shape) > MAX_NDIM or any(d < 0 or d > _MAX_ENTRY_BYTES for d in shape):
        return None
    return shape, fortran, dtype, offset, math.prod(shape)


def _fast_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int] | None:
    if head[:8] != b"\x93NUMPY\x01\x00" or len(head) < 10:
        return None
    length = int.from_bytes(head[8:10], "little")
    return _parsed_header(head[10 : 10 + length])


@functools.lru_cache(maxsize=1024)
def _parsed_header(text: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int] | None:
    """The header text's shape, order, dtype and data offset (None: for numpy's own parser).
    Goldens repeat a few headers (the same shapes and dtypes), so each is parsed once."""
    length = len(text)
    m = _NPY_HEADER.fullmatch(text)
    if m is None:
        return None
    shape = tuple(int(d) for d in m["shape"].split(b",") if d.strip())
    if len(shape) == 1 and not m["shape"].rstrip().endswith(b","):
        return None  # "(5)" is not a tuple: let numpy's parser refuse it
    return shape, m["fortran"] == b"True", np.dtype(m["descr"].decode()), 10 + length


def _checked_header(
    path: Path, name: str, shape: tuple[int, ...], fortran: bool, dtype: np.dtype[Any], offset: int
) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """Refuse dtypes a golden never holds and impossible shapes."""
    if dtype.hasobject or dtype.kind not in "biufUS" or dtype.itemsize == 0:
        raise GoldenFormatError(
            f"{path}: entry {name!r} has dtype {dtype}, which a golden never holds "
            f"(object arrays would need unpickling, which gradgold refuses); {_regen(path)}"
        )
    if len(shape) > MAX_NDIM or any(d < 0 or d > _MAX_ENTRY_BYTES for d in shape):
        raise GoldenFormatError(
            f"{path}: entry {name!r} declares an impossible shape {shape}; {_regen(path)}"
        )
    return shape, fortran, dtype, offset


#: Bytes checked at a time: no mask as large as a large entry.
_CHUNK = 1 << 24


def _check_code_points(path: Path, name: str, arr: np.ndarray[Any, Any]) -> None:
    """numpy builds Python strings from any 32-bit code units; refuse those that are not text."""
    units = (
        np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("="), copy=False)).reshape(-1).view(np.uint32)
    )
    step = _CHUNK // 4
    for start in range(0, units.size, step):  # in chunks: no mask as large as the entry
        part = units[start : start + step]
        if np.any((part > 0x10FFFF) | ((part >= 0xD800) & (part <= 0xDFFF))):
            raise GoldenFormatError(
                f"{path}: entry {name!r} holds invalid unicode code points; {_regen(path)}"
            )


def _check_version(path: Path, version: np.ndarray[Any, Any]) -> None:
    """Checked first, so that a file from a newer gradgold reports its version, not a diff."""
    if version.shape != () or version.dtype.kind not in "iu":
        raise GoldenFormatError(f"{path}: format_version is not an integer scalar; {_regen(path)}")
    if int(version) not in READABLE_VERSIONS:
        raise GoldenFormatError(
            f"{path}: golden format version {int(version)} is not one this gradgold reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade gradgold if the file is newer, else "
            "regenerate it with `gradgold generate --force`"
        )


def _assemble(path: Path, entries: dict[str, np.ndarray[Any, Any]]) -> Golden:
    """Check the entries against the metadata and build the in-memory golden."""
    version = entries.pop("format_version", None)
    if version is None:
        raise GoldenFormatError(f"{path}: no format_version entry; {_regen(path)}")
    meta = _metadata(path, entries.pop("metadata", None), int(version))
    dense_budget = [_MAX_DENSE_BYTES]
    grids = {g: _grid(path, meta, g, entries, int(version), dense_budget) for g in meta.grids}
    directions = _directions(path, meta, entries.pop("directions", None))
    if entries:
        raise GoldenFormatError(f"{path}: unexpected entries {sorted(entries)[:5]}; {_regen(path)}")
    return Golden(meta=meta, grids=grids, directions=directions, version=int(version))


def _directions(path: Path, meta: Metadata, arr: np.ndarray[Any, Any] | None) -> Any:
    """The projection directions: present exactly when the metadata asks for projections."""
    k = meta.projections
    if not k:
        if arr is not None:
            raise GoldenFormatError(f"{path}: unexpected entry directions; {_regen(path)}")
        return None
    n_vars = meta.n_vars
    if arr is None or arr.dtype.kind != "f" or arr.shape != (k, n_vars) or not np.all(np.isfinite(arr)):
        raise GoldenFormatError(
            f"{path}: entry directions must be finite floats of shape {(k, n_vars)}; {_regen(path)}"
        )
    return arr.astype(np.float64)


def _metadata(path: Path, arr: np.ndarray[Any, Any] | None, version: int) -> Metadata:
    """Version 1 holds JSON text as a unicode scalar with the program's text; version 2 as UTF-8
    bytes with the program's hash. :meth:`Metadata.from_json` validates it."""
    if version == 1:
        if arr is None or arr.shape != () or arr.dtype.kind != "U":
            raise GoldenFormatError(f"{path}: no metadata entry; {_regen(path)}")
        text = str(arr)
    else:
        if arr is None or arr.ndim != 1 or arr.dtype != np.uint8:
            raise GoldenFormatError(
                f"{path}: no metadata entry (a version 2 golden holds it as uint8 UTF-8 bytes); "
                + _regen(path)
            )
        try:
            text = arr.tobytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GoldenFormatError(f"{path}: metadata is not UTF-8 ({exc}); {_regen(path)}") from exc
    return Metadata.from_json(text, path, version)


#: The least magnitude that rounds to infinity under round-to-nearest: 2^1024 - 2^970.
_OVERFLOW = Decimal(2**1024 - 2**970)


def overflow_problem(number: npt.NDArray[np.float64], digits: npt.NDArray[np.str_]) -> str:
    """A reference may be +-inf only where its digits say the exact value lies beyond the float64
    range with that sign (the rounding of such a value to nearest is that infinity): a forged
    infinity elsewhere would pass any infinite result torch gives. Verify re-checks the digits."""
    infinite = np.isinf(number)
    if not np.any(infinite):
        return ""
    for k in np.flatnonzero(infinite):
        x, text = float(number.flat[k]), str(digits.flat[k])
        try:
            d = Decimal(text)
        except ArithmeticError:
            d = Decimal(0)
        if not (d.is_finite() and d.copy_abs() >= _OVERFLOW and (d < 0) == (x < 0)):
            idx = tuple(int(i) for i in np.unravel_index(int(k), number.shape))
            return (
                f"holds {x!r} at index {idx}, where its digits {text!r:.40} are not beyond the float64 "
                "range with that sign: a reference is infinite only where the exact value overflows"
            )
    return ""


def magnitude_problem(number: npt.NDArray[np.float64], magnitude: npt.NDArray[np.float64]) -> str:
    """Why ``magnitude`` cannot be the magnitude of terms of ``number`` (same shape), or "": it must
    be finite and at least ``|number|`` (up to a relative 2^-40, for a magnitude computed to a few
    digits where nothing cancels). Checked on every load, so no check trusts an inconsistent one."""
    if not np.all(np.isfinite(magnitude) | (np.isinf(number) & (magnitude == np.inf))):
        return "holds NaN or infinity (only an infinite reference has an infinite magnitude)"
    low = ~(magnitude >= np.abs(number) * (1.0 - 2.0**-40))
    if np.any(low):
        k = int(np.argmax(low))
        idx = tuple(int(i) for i in np.unravel_index(k, number.shape))
        return (
            f"holds {float(magnitude.flat[k])!r} at index {idx}, below the absolute value of the "
            f"reference there ({abs(float(number.flat[k]))!r}): a magnitude of terms is never smaller"
        )
    return ""


def _grid(
    path: Path,
    meta: Metadata,
    grid: str,
    entries: dict[str, np.ndarray[Any, Any]],
    version: int,
    dense_budget: list[int],
) -> GridData:
    """Pop one grid's entries, checking presence, dtype, shape and content of each; sparse
    quantities are densified within ``dense_budget`` (bytes left for the whole golden)."""
    params = meta.shapes
    n = meta.n_points
    digit_kind = "U" if version == 1 else "S"

    def take(key: str, kind: str, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        arr = entries.pop(f"{grid}/{key}", None)
        if arr is None:
            raise GoldenFormatError(f"{path}: missing entry {grid}/{key}; {_regen(path)}")
        if arr.dtype.kind != kind or arr.shape != (n, *shape):
            raise GoldenFormatError(
                f"{path}: entry {grid}/{key} has dtype {arr.dtype} and shape {arr.shape}, expected "
                f"kind {kind!r} and shape {(n, *shape)}; {_regen(path)}"
            )
        if kind == "S":
            return _decoded(path, f"{grid}/{key}", arr)
        # A sum is finite only if every element is (one pass); one that overflows from finite
        # elements only sends the entry through the element-wise check.
        if kind == "f" and not math.isfinite(arr.sum()):
            unbounded.add(key)  # a reference or magnitude may be infinite (checked below), never NaN
        negative_or_wide = kind == "i" and (arr.dtype.itemsize > 2 or (arr.size and arr.min() < 0))
        if key in unbounded or kind == "U" or negative_or_wide:
            infinite = kind == "f" and not key.startswith("input/")
            problem = _content_problem(arr, infinite)
            if problem:
                raise GoldenFormatError(f"{path}: entry {grid}/{key} {problem}; {_regen(path)}")
        return arr

    numbers, digits, certified, magnitudes = {}, {}, {}, {}
    unbounded: set[str] = set()  # entries that hold a number that is not finite
    with_magnitude = set(meta.magnitudes)
    for q, shape in meta.quantity_shapes().items():
        pattern = _pattern(path, grid, q, shape, entries) if version >= 2 else None
        stored = shape if pattern is None else (pattern[0].size,)
        parts = {
            "number": _float64(take(q, "f", stored)),
            "digits": take(f"digits/{q}", digit_kind, stored),
            "certified": take(f"certified/{q}", "i", stored).astype(np.int16, copy=False),
        }
        if q in with_magnitude:
            parts["magnitude"] = _float64(take(f"magnitude/{q}", "f", stored))
        if pattern is not None:
            parts = _densified(path, f"{grid}/{q}", parts, pattern, n, shape, dense_budget)
        numbers[q], digits[q], certified[q] = parts["number"], parts["digits"], parts["certified"]
        problem = overflow_problem(numbers[q], digits[q]) if q in unbounded else ""
        if problem:
            raise GoldenFormatError(f"{path}: entry {grid}/{q} {problem}; {_regen(path)}")
        if "magnitude" in parts:
            problem = magnitude_problem(numbers[q], parts["magnitude"])
            if problem:
                raise GoldenFormatError(f"{path}: entry {grid}/magnitude/{q} {problem}; {_regen(path)}")
            magnitudes[q] = parts["magnitude"]
    return GridData(
        inputs={p: take(f"input/{p}", "f", s).astype(np.float64, copy=False) for p, s in params.items()},
        numbers=numbers,
        digits=digits,
        certified=certified,
        magnitudes=magnitudes,
    )


def _float64(arr: np.ndarray[Any, Any]) -> npt.NDArray[np.float64]:
    return arr if arr.dtype == np.float64 else arr.astype(np.float64)


def _pattern(
    path: Path, grid: str, q: str, shape: tuple[int, ...], entries: dict[str, np.ndarray[Any, Any]]
) -> tuple[npt.NDArray[np.intp], int] | None:
    """A sparse quantity's (flat indices, certified digits of the elided zeros), or None when the
    quantity is stored densely. The indices must be strictly increasing and inside one point."""
    index = entries.pop(f"{grid}/nonzero/{q}", None)
    fill = entries.pop(f"{grid}/zero_certified/{q}", None)
    if index is None and fill is None:
        return None
    size = math.prod(shape)
    if (
        index is None
        or index.dtype.kind not in "iu"
        or index.ndim != 1
        or (index.size and (int(index[0]) < 0 or int(index[-1]) >= size))
        or np.any(np.diff(index.astype(np.int64)) <= 0)
    ):
        raise GoldenFormatError(
            f"{path}: entry {grid}/nonzero/{q} must be strictly increasing integer indices below {size} "
            f"(the elements of one point of shape {shape}); {_regen(path)}"
        )
    if fill is None or fill.shape != () or fill.dtype.kind not in "iu" or not 0 <= int(fill) <= 32767:
        raise GoldenFormatError(
            f"{path}: entry {grid}/zero_certified/{q} must be an integer scalar in 0..32767; {_regen(path)}"
        )
    return index.astype(np.intp), int(fill)


def _densified(
    path: Path,
    key: str,
    parts: dict[str, np.ndarray[Any, Any]],
    pattern: tuple[npt.NDArray[np.intp], int],
    n: int,
    shape: tuple[int, ...],
    budget: list[int],
) -> dict[str, np.ndarray[Any, Any]]:
    """The dense arrays of a sparse quantity: each stored column at its index, exact zeros
    (``0.0``, ``"0"``, the fill count, magnitude ``0.0``) everywhere else.

    The dense shape comes from the metadata, which the file's bytes do not bound (a few kilobytes
    can declare 2^60 elements): what all sparse quantities of a golden densify to is charged to
    ``budget`` (``[bytes left]``) and refused before anything is allocated once it runs out."""
    index, fill = pattern
    size = math.prod(shape)
    fills: dict[str, Any] = {"number": 0.0, "digits": "0", "certified": fill, "magnitude": 0.0}
    dtypes = {
        name: stored.dtype if name != "digits" else np.dtype(f"U{max(1, stored.dtype.itemsize // 4)}")
        for name, stored in parts.items()
    }
    needed = n * size * sum(dtype.itemsize for dtype in dtypes.values())
    if needed > budget[0]:
        raise GoldenFormatError(
            f"{path}: entry {key} is stored sparse but its shape {(n, *shape)} would densify to "
            f"{needed} bytes, more than a golden may hold in memory ({_MAX_DENSE_BYTES} in all); "
            f"{_regen(path)} (a case this large needs projections with full_jacobian=False)"
        )
    budget[0] -= needed
    out = {}
    for name, stored in parts.items():
        dense = np.full((n, size), fills[name], dtype=dtypes[name])
        dense[:, index] = stored
        out[name] = dense.reshape(n, *shape)
    return out


def _decoded(path: Path, key: str, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """ASCII digit bytes as the strings the rest of gradgold uses, refusing any other byte and any
    string that is not a decimal number: checked as bytes (numpy drops each record's trailing NUL
    padding, as it does when it reads the strings), one regular-expression match per chunk."""
    if not arr.tobytes().isascii():
        raise GoldenFormatError(f"{path}: entry {key} holds bytes that are not ASCII; {_regen(path)}")
    flat = arr.reshape(-1)
    step = 1 << 16
    for start in range(0, flat.size, step):  # in chunks: no list of every string at once
        part = flat[start : start + step].tolist()
        text = b"\n".join(part) + b"\n"
        if text.count(b"\n") != len(part) or _DIGIT_BYTES.fullmatch(text) is None:
            strings = flat[start : start + step].astype(f"U{arr.dtype.itemsize}")
            problem = _content_problem(strings) or "holds a string that is not a decimal number"
            raise GoldenFormatError(f"{path}: entry {key} {problem}; {_regen(path)}")
    return arr.astype(f"U{arr.dtype.itemsize}")


def _content_problem(arr: np.ndarray[Any, Any], infinite: bool = False) -> str:
    """Numbers must be finite (a reference may be an infinity, see :func:`overflow_problem`),
    digit strings decimal numbers, certified counts 0..32767."""
    kind = arr.dtype.kind
    if kind == "f" and not np.isfinite(arr).all():  # one pass when every number is finite
        if not infinite:
            return "holds NaN or infinity"
        if np.isnan(arr).any():
            return "holds NaN"
    if kind == "i" and arr.size and (arr.min() < 0 or (arr.dtype.itemsize > 2 and arr.max() > 32767)):
        return "holds a certified digit count outside 0..32767"
    if arr.dtype.kind == "U":
        flat = arr.reshape(-1)
        step = 1 << 16
        for start in range(0, flat.size, step):  # in chunks: no list of every string at once
            part = flat[start : start + step].tolist()
            text = "\n".join(part) + "\n"  # one match for all: much cheaper than one per string
            if text.count("\n") == len(part) and _DIGIT_LINES.fullmatch(text):
                continue
            bad = next((s for s in part if not _DIGITS.match(s)), None)
            if bad is not None:
                return f"holds {bad!r:.80} where a decimal number is expected"
    return ""
