"""Hostile and broken golden files: each is refused with a GoldenFormatError that names the file,
what is wrong and the fix, and nothing in it is executed, unpickled or allocated beyond its bytes."""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gradgold.errors import GoldenFormatError
from gradgold.golden import read_golden, write_golden

SEED = Path(__file__).resolve().parents[1] / "golden" / "seed"
V1 = Path(__file__).resolve().parent / "data" / "golden-v1" / "seed"
FIX = "regenerate it with `gradgold generate --force`"


@pytest.fixture(params=[2, 1], ids=["v2", "v1"])
def golden_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A golden directory holding the seed goldens in format version 2 (written by this gradgold)
    or, for ``sine.npz``, the committed version 1 file (tests/data/golden-v1)."""
    d = tmp_path / "golden" / "seed"
    d.mkdir(parents=True)
    for p in SEED.glob("*.npz"):
        write_golden(d / p.name, read_golden(p))
    if request.param == 1:
        shutil.copy(V1 / "sine.npz", d / "sine.npz")
    return tmp_path / "golden"


def _version(m: dict[str, bytes]) -> int:
    return int(np.load(io.BytesIO(m["format_version.npy"])))


def _meta(m: dict[str, bytes]) -> dict[str, object]:
    """The metadata of a golden's members, whatever its format version."""
    arr = np.load(io.BytesIO(m["metadata.npy"]))
    return dict(json.loads(str(arr) if _version(m) == 1 else arr.tobytes().decode("utf-8")))


def _meta_npy(m: dict[str, bytes], text: str) -> bytes:
    """A metadata entry holding ``text`` as the golden's format version stores it."""
    if _version(m) == 1:
        return _npy(np.array(text))
    return _npy(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def _digits_npy(m: dict[str, bytes], strings: list[str]) -> bytes:
    """A digits entry as the golden's format version stores it (UTF-32 or ASCII)."""
    arr = np.array(strings)
    return _npy(arr if _version(m) == 1 else arr.astype("S"))


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=(1, 0), allow_pickle=allow_pickle)
    return buf.getvalue()


def _raw_npy(header: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A ``.npy`` with a header written by hand (what numpy's writer would never produce)."""
    text = header.encode("latin1") + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(text)) + text + data


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return path


def _edit(path: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    members = _members(path)
    change(members)
    return _rezip(path, members)


def _refused(path: Path, *fragments: str, root: Path | None = None) -> str:
    with pytest.raises(GoldenFormatError) as info:
        read_golden(path, root=root)
    message = str(info.value)
    assert str(path) in message
    for f in fragments:
        assert f in message
    return message


def test_truncated_file(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    path.write_bytes(path.read_bytes()[:1000])
    _refused(path, "not a readable golden file", FIX)


def test_not_a_zip(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    _refused(path, "not a readable golden file", FIX)


def test_empty_file(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    path.write_bytes(b"")
    _refused(path, "not a readable golden file")


def test_extra_entry(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/extra.npy": _npy(np.zeros(1))})
    )
    _refused(path, "unexpected entries ['float64/extra']", FIX)


def test_entry_that_is_not_npy(golden_dir: Path) -> None:
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"run.sh": b"rm -rf /"}))
    _refused(path, "unexpected entry 'run.sh'", FIX)


def test_missing_entry(golden_dir: Path) -> None:
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.pop("float64/grad/z.npy"))
    _refused(path, "missing entry float64/grad/z", FIX)


def test_missing_format_version(golden_dir: Path) -> None:
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.pop("format_version.npy"))
    _refused(path, "no format_version entry", FIX)


def test_duplicate_entry(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    # zipfile warns about the duplicate as it writes it; the loader must refuse it.
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as zf:
        zf.writestr("float64/value.npy", _npy(np.array([99.0])))
    _refused(path, "entries ['float64/value'] appear more than once", FIX)


def test_wrong_shape(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": _npy(np.zeros((1, 3)))})
    )
    _refused(path, "entry float64/value has dtype float64 and shape (1, 3), expected kind 'f' and shape (1,)")


def test_wrong_dtype(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz",
        lambda m: m.update({"float64/value.npy": _npy(np.zeros(1, complex))}),
    )
    _refused(path, "has dtype complex128, which a golden never holds", FIX)


def test_int_where_float_expected(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": _npy(np.zeros(1, int))})
    )
    _refused(path, "entry float64/value has dtype int64", "expected kind 'f'")


def test_header_shape_larger_than_data(golden_dir: Path) -> None:
    fake = _raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", b"\0" * 8)
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": fake}))
    _refused(
        path, "entry 'float64/value.npy' declares shape (2, 2) of float64 but holds 8 bytes of data", FIX
    )


def test_npy_version_2_is_refused(golden_dir: Path) -> None:
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n"
    fake = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(text)) + text + b"\0" * 8
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": fake}))
    _refused(path, ".npy version (2, 0), where gradgold writes 1.0")


class _Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def _pickled_array(marker: Path) -> bytes:
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    return _npy(arr, allow_pickle=True)


def test_object_array_with_a_code_running_pickle_is_refused_unrun(golden_dir: Path, tmp_path: Path) -> None:
    proof, marker = tmp_path / "proof", tmp_path / "marker"
    np.load(io.BytesIO(_pickled_array(proof)), allow_pickle=True)
    assert proof.exists(), "the payload must really run code when unpickled, or this test proves nothing"
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": _pickled_array(marker)})
    )
    _refused(path, "has dtype object", "unpickling, which gradgold refuses")
    assert not marker.exists()


def test_a_bare_pickle_as_an_entry_is_refused_unrun(golden_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"metadata.npy": pickle.dumps(_Payload(marker))})
    )
    _refused(path, "entry 'metadata.npy' is not a valid array", FIX)
    assert not marker.exists()


def test_format_version_from_the_future(golden_dir: Path) -> None:
    # A newer format may hold dtypes this one refuses: the version must be reported, not those.
    def future(m: dict[str, bytes]) -> None:
        m["format_version.npy"] = _npy(np.array(3, np.int64))
        m["float64/value.npy"] = _npy(np.zeros(1, complex))

    path = _edit(golden_dir / "seed" / "sine.npz", future)
    _refused(path, "golden format version 3 is not one this gradgold reads (1, 2)", "upgrade gradgold")


def test_nan_in_numbers(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/grad/w.npy": _npy(np.array([np.nan]))})
    )
    _refused(path, "entry float64/grad/w holds NaN", FIX)


def test_an_infinity_whose_digits_do_not_overflow(golden_dir: Path) -> None:
    # an infinite reference would pass any infinite result torch gives: only where the exact value
    # overflows (its digits beyond 2^1024 - 2^970, with that sign) may a golden hold one
    path = _edit(
        golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/grad/w.npy": _npy(np.array([np.inf]))})
    )
    _refused(
        path, "entry float64/grad/w holds inf at index (0,), where its digits", "are not beyond the float64"
    )


def test_an_infinity_of_the_wrong_sign(golden_dir: Path) -> None:
    def forge(m: dict[str, bytes]) -> None:
        m["float64/grad/w.npy"] = _npy(np.array([-np.inf]))
        m["float64/digits/grad/w.npy"] = _digits_npy(m, ["1.8e308"])

    _refused(_edit(golden_dir / "seed" / "sine.npz", forge), "holds -inf at index (0,)", "with that sign")


def test_nan_in_metadata(golden_dir: Path) -> None:
    def nan_precision(m: dict[str, bytes]) -> None:
        text = json.dumps(_meta(m) | {"precision": float("nan")})
        m["metadata.npy"] = _meta_npy(m, text)

    path = _edit(golden_dir / "seed" / "sine.npz", nan_precision)
    _refused(path, "metadata is not JSON (NaN where a number is expected", FIX)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"n_points": 1.5}, "n_points=1.5 is not a positive integer"),
        ({"n_points": 10**40}, "n_points=" + str(10**40) + " is not a positive integer"),
        ({"grids": ["float32"]}, "must list float64 and each grid once"),
        ({"grids": "float64"}, "must list float64"),
        ({"params": [["w", [-1]]]}, "is not a list of [name, shape]"),
        ({"params": [["../x", []]]}, "is not a list of [name, shape]"),
        ({"engine": "Mathematica"}, "engine must be"),
        ({"fingerprint": 5}, "['fingerprint'] must be strings"),
    ],
)
def test_malformed_metadata(golden_dir: Path, change: dict[str, object], fragment: str) -> None:
    def edit(m: dict[str, bytes]) -> None:
        m["metadata.npy"] = _meta_npy(m, json.dumps(_meta(m) | change))

    path = _edit(golden_dir / "seed" / "sine.npz", edit)
    _refused(path, "malformed metadata: ", fragment, FIX)


def test_deeply_nested_metadata(golden_dir: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"metadata.npy": _meta_npy(m, deep)}))
    _refused(path, "metadata is not JSON")


def test_nan_as_a_digit_string(golden_dir: Path) -> None:
    path = _edit(
        golden_dir / "seed" / "sine.npz",
        lambda m: m.update({"float64/digits/value.npy": _digits_npy(m, ["NaN"])}),
    )
    _refused(path, "entry float64/digits/value holds 'NaN' where a decimal number is expected", FIX)


def test_negative_certified_count(golden_dir: Path) -> None:
    bad = _npy(np.array([-5], np.int16))
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/certified/value.npy": bad}))
    _refused(path, "holds a certified digit count outside 0..32767")


def test_invalid_code_points(golden_dir: Path) -> None:
    fake = _raw_npy("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", b"\xff\xff\xff\xff")
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/digits/value.npy": fake}))
    _refused(path, "holds invalid unicode code points")


def _peak_bytes(path: Path, root: Path) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(GoldenFormatError):
            read_golden(path, root=root)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_huge_declared_shape_allocates_nothing(golden_dir: Path) -> None:
    fake = _raw_npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }", b"\0" * 8
    )
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": fake}))
    _refused(path, "declares shape (1000000000, 1000000000)")
    assert _peak_bytes(path, golden_dir) < 5_000_000


@pytest.mark.parametrize("shape", ["(-2, -4)", "(4611686018427387904, 4, 0)", "(1,) * 40", "()"])
def test_impossible_shapes(golden_dir: Path, shape: str) -> None:
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    fake = _raw_npy(header, b"\0" * 64)
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/value.npy": fake}))
    _refused(path, "float64/value")


def test_zero_size_dtype(golden_dir: Path) -> None:
    fake = _raw_npy("{'descr': '<U0', 'fortran_order': False, 'shape': (1,), }")
    path = _edit(golden_dir / "seed" / "sine.npz", lambda m: m.update({"float64/digits/value.npy": fake}))
    _refused(path, "has dtype <U0, which a golden never holds")


def test_zip_bomb_is_refused_without_inflating(golden_dir: Path) -> None:
    members = _members(golden_dir / "seed" / "sine.npz")
    members["float64/value.npy"] = _npy(np.zeros(25_000_000))  # 200 MB of zeros deflate to about 200 KB
    path = _rezip(golden_dir / "seed" / "sine.npz", members, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    _refused(path, "is compressed (method 8)", "could be zip bombs", FIX)
    assert _peak_bytes(path, golden_dir) < 5_000_000


def test_forged_entry_size_is_refused_before_reading(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    data = bytearray(path.read_bytes())
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<II", data, cd + 20, 2**29, 2**29)
    path.write_bytes(bytes(data))
    _refused(path, "more than the file's", "entries overlap or lie about their size")


def test_encrypted_entry(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    data = bytearray(path.read_bytes())
    cd = data.find(b"PK\x01\x02")
    data[cd + 8] |= 0x1
    path.write_bytes(bytes(data))
    _refused(path, "is encrypted")


def test_symlink_out_of_the_golden_dir_is_refused(golden_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.npz"
    shutil.copy(SEED / "sine.npz", outside)
    link = golden_dir / "seed" / "sine.npz"
    link.unlink()
    link.symlink_to(outside)
    _refused(
        link,
        f"resolves to {outside}, outside the golden directory",
        "Replace the link with the file",
        root=golden_dir,
    )
    assert read_golden(link).meta.id == "seed/sine"  # without a root, the caller vouches for the path


def test_symlinked_directory_out_of_the_golden_dir_is_refused(golden_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(golden_dir / "seed", elsewhere)
    shutil.rmtree(golden_dir / "seed")
    (golden_dir / "seed").symlink_to(elsewhere, target_is_directory=True)
    _refused(golden_dir / "seed" / "sine.npz", "outside the golden directory", root=golden_dir)


def test_symlink_inside_the_golden_dir_is_read(golden_dir: Path) -> None:
    link = golden_dir / "seed" / "alias.npz"
    link.symlink_to(golden_dir / "seed" / "sine.npz")
    assert read_golden(link, root=golden_dir).meta.id == "seed/sine"


def test_symlink_loop(golden_dir: Path) -> None:
    a, b = golden_dir / "seed" / "a.npz", golden_dir / "seed" / "b.npz"
    a.symlink_to(b)
    b.symlink_to(a)
    _refused(a, "cannot be resolved", root=golden_dir)
    _refused(a, "cannot be opened")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(golden_dir: Path) -> None:
    fifo = golden_dir / "seed" / "fifo.npz"
    os.mkfifo(fifo)
    _refused(fifo, "is not a regular file", root=golden_dir)


def test_directory_is_refused(golden_dir: Path) -> None:
    d = golden_dir / "seed" / "dir.npz"
    d.mkdir()
    _refused(d, "cannot be opened" if os.name == "nt" else "is not a regular file")


def test_missing_file(golden_dir: Path) -> None:
    _refused(golden_dir / "seed" / "nope.npz", "cannot be opened (No such file or directory)")


def test_a_corrupt_entry_fails_its_crc(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("float64/value.npy")
    last = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 1
    data[last] ^= 0x01  # the float's lowest byte: a valid array, but not the bytes the CRC covers
    path.write_bytes(bytes(data))
    _refused(path, "entry 'float64/value.npy' fails its CRC-32 check (a corrupt file)", FIX)


def test_a_local_header_naming_another_entry_is_refused(golden_dir: Path) -> None:
    path = golden_dir / "seed" / "sine.npz"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("float64/value.npy")
    start = info.header_offset + 30
    data[start : start + len("float64/value")] = b"float64/vaLue"
    path.write_bytes(bytes(data))
    _refused(path, "entry 'float64/value.npy' has a local header that is not its own", FIX)
