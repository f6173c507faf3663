"""The loader's own zip reader (gradgold.storedzip) and its fast paths: whatever a zip holds that
gradgold never writes is refused with a message naming the file; a large golden, read entry by
entry, reads as a small one read whole; the path and digit checks decide as before."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradgold.golden as golden_module
from gradgold.errors import GoldenFormatError
from gradgold.golden import read_golden, write_golden

SEED = Path(__file__).resolve().parents[1] / "golden" / "seed"
FIX = "regenerate it with `gradgold generate --force`"


@pytest.fixture
def golden_dir(tmp_path: Path) -> Path:
    d = tmp_path / "golden" / "seed"
    d.mkdir(parents=True)
    for p in SEED.glob("*.npz"):
        write_golden(d / p.name, read_golden(p))
    return tmp_path / "golden"


def _refused(path: Path, *fragments: str, root: Path | None = None) -> None:
    with pytest.raises(GoldenFormatError) as info:
        read_golden(path, root=root)
    message = str(info.value)
    assert str(path) in message and FIX in message, message
    for fragment in fragments:
        assert fragment in message, message


def _rewrite(path: Path, change: object) -> Path:
    data = bytearray(path.read_bytes())
    assert callable(change)
    change(data)
    path.write_bytes(bytes(data))
    return path


def _end(data: bytearray) -> int:
    """Offset of the end-of-central-directory record (gradgold writes it last, no comment)."""
    return len(data) - 22


def _first_central(data: bytearray) -> int:
    return data.find(b"PK\x01\x02")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.extend(b"a comment"), "no end record at its end"),
        (lambda d: d.__setitem__(slice(None, 0), b"#!/bin/sh\n"), "not where its end record says"),
        (lambda d: d.__setitem__(slice(-2, None), struct.pack("<H", 3)), "no end record at its end"),
        (lambda d: struct.pack_into("<H", d, _end(d) + 4, 1), "multi-disk"),
        (lambda d: struct.pack_into("<I", d, _first_central(d) + 20, 0xFFFFFFFF), "zip64"),
        (lambda d: struct.pack_into("<I", d, _first_central(d) + 42, 0xFFFFFFF0), "lies outside"),
        (lambda d: struct.pack_into("<I", d, _end(d) + 16, 1), "not where its end record says"),
        (lambda d: struct.pack_into("<HH", d, _end(d) + 8, 3, 3), "holds more than its entries"),
        (lambda d: d.__setitem__(slice(_first_central(d) + 46, _first_central(d) + 47), b"\x00"), "NUL byte"),
    ],
)
def test_what_gradgold_never_writes_is_refused(golden_dir: Path, change: object, fragment: str) -> None:
    path = _rewrite(golden_dir / "seed" / "sine.npz", change)
    _refused(path, "not a readable golden file", fragment, root=golden_dir)


def test_a_large_golden_read_entry_by_entry_is_the_same(
    golden_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above _WHOLE_FILE_BYTES a golden is read with positioned reads per entry; the result, and
    the refusal of a corrupt entry, are those of the whole-file path."""
    paths = sorted(golden_dir.rglob("*.npz"))
    whole = [read_golden(p, root=golden_dir) for p in paths]
    monkeypatch.setattr(golden_module, "_WHOLE_FILE_BYTES", 0)
    for p, a in zip(paths, whole, strict=True):
        b = read_golden(p, root=golden_dir)
        assert a.meta == b.meta and list(a.grids) == list(b.grids)
        for grid, data in a.grids.items():
            for q, arr in data.numbers.items():
                assert arr.tobytes() == b.grids[grid].numbers[q].tobytes()
                assert np.array_equal(data.digits[q], b.grids[grid].digits[q])
    value = (golden_dir / "seed" / "sine.npz").read_bytes().find(b"float64/value.npy")
    _rewrite(
        golden_dir / "seed" / "sine.npz", lambda d: d.__setitem__(slice(value + 200, value + 201), b"\xff")
    )
    _refused(golden_dir / "seed" / "sine.npz", root=golden_dir)


def test_a_path_that_climbs_out_of_the_golden_dir_is_refused(golden_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.npz"
    outside.write_bytes((golden_dir / "seed" / "sine.npz").read_bytes())
    path = golden_dir / "seed" / ".." / ".." / "elsewhere.npz"
    with pytest.raises(GoldenFormatError, match="outside the golden directory"):
        read_golden(path, root=golden_dir)
    assert (
        read_golden(golden_dir / "seed" / ".." / "seed" / "sine.npz", root=golden_dir).meta.id == "seed/sine"
    )


def test_a_missing_golden_says_it_cannot_be_opened(golden_dir: Path) -> None:
    with pytest.raises(GoldenFormatError, match="cannot be opened"):
        read_golden(golden_dir / "seed" / "absent.npz", root=golden_dir)


_DIGITS = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet="0123456789.-+eE \x00", max_size=8), min_size=1, max_size=6))
def test_digits_are_checked_on_their_bytes_as_on_their_strings(strings: list[str]) -> None:
    """The byte-level check accepts exactly the arrays whose every string is a decimal number (as
    numpy reads them back: trailing NULs dropped)."""
    arr = np.array([s.encode("ascii") for s in strings], dtype=f"S{max(1, *map(len, strings))}")
    valid = all(_DIGITS.match(s.decode("ascii")) for s in arr.tolist())
    if not valid:
        with pytest.raises(GoldenFormatError, match="where a decimal number is expected"):
            golden_module._decoded(Path("g.npz"), "float64/digits/value", arr)
        return
    decoded = golden_module._decoded(Path("g.npz"), "float64/digits/value", arr)
    assert decoded.tolist() == [s.decode("ascii") for s in arr.tolist()]
