"""Fuzz the golden loader: random bytes and mutated valid goldens.

A golden file can arrive in a pull request from anyone; whatever its bytes, reading it must end
in a :class:`GoldenFormatError` with a message (or, for an unchanged file, a valid golden), never
another exception, a hang or a crash.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradgold.errors import GoldenFormatError
from gradgold.golden import Golden, read_golden, write_golden

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
V1 = Path(__file__).resolve().parent / "data" / "golden-v1" / "seed" / "sine.npz"


def _v2(path: Path) -> bytes:
    """The committed golden at ``path`` as this gradgold writes it (format version 2)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "g.npz"
        write_golden(out, read_golden(path))
        return out.read_bytes()


#: Valid goldens to mutate: the seed goldens and a batched tanh (a diagonal, sparse Jacobian) in
#: format version 2, and the committed version 1 fixture.
VALID = {
    f"v2-{p.name}": _v2(p)
    for p in [*sorted((GOLDEN / "seed").glob("*.npz")), GOLDEN / "batched" / "tanh.npz"]
}
VALID["v1-sine.npz"] = V1.read_bytes()
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def _load(path: Path, data: bytes) -> Golden | None:
    """Read ``data`` as a golden: a Golden, or None when it was refused as it must be (with a
    message naming the file)."""
    path.write_bytes(data)
    refusal: GoldenFormatError | None = None
    try:
        return read_golden(path, root=path.parent)
    except GoldenFormatError as exc:
        refusal = exc
    assert str(path) in str(refusal), f"the message must name the file: {refusal}"
    return None


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "fuzz.npz"


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_are_refused(target: Path, data: bytes) -> None:
    assert _load(target, data) is None


@FUZZ
@given(
    name=st.sampled_from(sorted(VALID)),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_byte_flips_in_valid_files(target: Path, name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(VALID[name])
    for pos, byte in flips:
        data[pos % len(data)] = byte
    _load(target, bytes(data))


@FUZZ
@given(name=st.sampled_from(sorted(VALID)), cut=st.integers(min_value=0))
def test_truncations_are_refused(target: Path, name: str, cut: int) -> None:
    data = VALID[name]
    assert _load(target, data[: cut % len(data)]) is None


@FUZZ
@given(
    name=st.sampled_from(sorted(VALID)),
    member=st.integers(min_value=0),
    at=st.integers(min_value=0),
    payload=st.binary(min_size=1, max_size=64),
)
def test_rewritten_npy_entries(target: Path, name: str, member: int, at: int, payload: bytes) -> None:
    """Splice bytes into one entry's ``.npy`` (its header included) and re-zip it with correct
    CRCs, so the zip layer passes and the array layer is what gets fuzzed."""
    with zipfile.ZipFile(io.BytesIO(VALID[name])) as zf:
        infos = zf.infolist()
        contents = {i.filename: zf.read(i) for i in infos}
    victim = infos[member % len(infos)].filename
    raw = contents[victim]
    pos = at % (len(raw) + 1)
    contents[victim] = raw[:pos] + payload + raw[pos + len(payload) :]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as zf:
        for fname, body in contents.items():
            zf.writestr(fname, body)
    _load(target, target.read_bytes())


@FUZZ
@given(
    name=st.sampled_from(sorted(VALID)), sizes=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
)
def test_forged_zip_sizes(target: Path, name: str, sizes: tuple[int, int]) -> None:
    """Forge the sizes in the first central-directory record (what zip bombs lie about)."""
    data = bytearray(VALID[name])
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<II", data, cd + 20, *sizes)
    _load(target, bytes(data))


def test_unchanged_files_load(tmp_path: Path) -> None:
    for name, data in VALID.items():
        (tmp_path / name).write_bytes(data)
        assert isinstance(read_golden(tmp_path / name, root=tmp_path), Golden)
    with zipfile.ZipFile(io.BytesIO(VALID["v2-tanh.npz"])) as zf:
        assert "float64/nonzero/grad/x.npy" in zf.namelist()  # the sparse layout is fuzzed too
