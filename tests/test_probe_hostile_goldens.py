"""Hostile goldens found by probing gradgold as an attacker would (beyond tests/test_hostile_goldens.py
and tests/test_stored_zip.py): each is refused with a GoldenFormatError naming the file and the fix,
by the loader and by the real CLI, with no traceback and nothing allocated beyond what a golden may
hold."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import gradgold_here, seed_project
from gradgold.errors import GoldenFormatError
from gradgold.golden import read_golden

FIX = "regenerate it with `gradgold generate --force`"


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def _sparse_giant(path: Path, side: int) -> Path:
    """Rewrite seed/sine's golden (version 2) so that its metadata declares ``z`` of shape
    ``[side, side]`` and ``grad/z`` is stored sparse with no nonzero entry: a few kilobytes whose
    densified gradient would be ``side**2`` elements."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    meta = json.loads(np.load(io.BytesIO(members["metadata.npy"])).tobytes().decode())
    meta["params"] = [["w", []], ["z", [side, side]]]
    del meta["order"]  # order 1 (the default, not written): no Hessian to forge as well
    members = {k: v for k, v in members.items() if "hessian" not in k and "grad/z" not in k}
    text = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    members["metadata.npy"] = _npy(np.frombuffer(text, dtype=np.uint8))
    members["float64/grad/z.npy"] = _npy(np.zeros((1, 0)))
    members["float64/digits/grad/z.npy"] = _npy(np.zeros((1, 0), dtype="S1"))
    members["float64/certified/grad/z.npy"] = _npy(np.zeros((1, 0), dtype=np.int16))
    members["float64/nonzero/grad/z.npy"] = _npy(np.zeros((0,), dtype=np.int32))
    members["float64/zero_certified/grad/z.npy"] = _npy(np.array(30, dtype=np.int16))
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return path


@pytest.mark.parametrize("side", [1 << 30, 1 << 18, 1 << 14])
def test_a_sparse_quantity_declaring_a_giant_shape_is_refused_before_densifying(
    tmp_path: Path, side: int
) -> None:
    """A sparse quantity is densified to the metadata's shape, which the golden's bytes do not bound:
    without a limit, 4 KB asked numpy for 2^60 elements (a ValueError traceback), 2^36 (512 GiB, a
    MemoryError) or 2^28 (2 GiB that it fills)."""
    project = seed_project(tmp_path)
    path = _sparse_giant(project / "golden" / "seed" / "sine.npz", side)
    assert path.stat().st_size < 10_000
    tracemalloc.start()
    try:
        with pytest.raises(GoldenFormatError) as info:
            read_golden(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert str(path) in message and FIX in message, message
    assert "grad/z" in message and "densif" in message, message
    assert peak < 10 << 20, f"{peak} bytes allocated before refusing"


def test_check_reports_a_giant_sparse_golden_without_a_traceback(tmp_path: Path) -> None:
    project = seed_project(tmp_path)
    _sparse_giant(project / "golden" / "seed" / "sine.npz", 1 << 30)
    done = gradgold_here(project, "check", "seed/sine")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert "sine.npz" in done.stdout + done.stderr and "grad/z" in done.stdout + done.stderr


def test_metadata_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    """JSON lets a key appear twice and Python keeps the last: a reviewer reading the entry (or
    another JSON reader, which may keep the first) would see another id than gradgold uses. The
    metadata is exactly what gradgold writes, so a repeated key is refused."""
    project = seed_project(tmp_path)
    path = project / "golden" / "seed" / "sine.npz"
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    text = np.load(io.BytesIO(members["metadata.npy"])).tobytes().decode()
    assert '"id":"seed/sine"' in text
    forged = text.replace('"id":"seed/sine"', '"id":"seed/other","id":"seed/sine"')
    members["metadata.npy"] = _npy(np.frombuffer(forged.encode(), dtype=np.uint8))
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    with pytest.raises(GoldenFormatError) as info:
        read_golden(path)
    message = str(info.value)
    assert str(path) in message and FIX in message, message
    assert "key 'id' appears more than once" in message, message
