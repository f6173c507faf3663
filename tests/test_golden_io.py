"""Golden files: deterministic bytes, atomic writes, plain-numpy readability, the compact format
version 2 (ASCII digits, sparse quantities, the program's hash) and reading version 1."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import gradgold_cli, gradgold_here, seed_project, seed_sine_as_in_version_1
from conftest_goldens import stub_metadata
from gradgold.errors import GoldenFormatError
from gradgold.golden import Golden, GridData, read_golden, write_golden
from gradgold.schema import program_sha256

V1 = Path(__file__).resolve().parent / "data" / "golden-v1"


def _golden(value: float = 1.5) -> Golden:
    grid = GridData(
        inputs={"x": np.array([0.5])},
        numbers={"value": np.array([value]), "grad/x": np.array([2.0])},
        digits={"value": np.array(["1.50000"]), "grad/x": np.array(["2.00000"])},
        certified={"value": np.array([30], np.int16), "grad/x": np.array([30], np.int16)},
    )
    meta = stub_metadata("s/c", wolfram="x^2", program="...", program_sha256=program_sha256("..."))
    return Golden(meta=meta, grids={"float64": grid})


def test_write_is_deterministic_and_skips_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert write_golden(a, _golden()) is True
    assert write_golden(b, _golden()) is True
    assert a.read_bytes() == b.read_bytes()
    mtime = a.stat().st_mtime_ns
    assert write_golden(a, _golden()) is False
    assert a.stat().st_mtime_ns == mtime
    assert write_golden(a, _golden(2.5)) is True
    assert list(tmp_path.iterdir()) == sorted(tmp_path.iterdir()) and len(list(tmp_path.iterdir())) == 2


def test_plain_numpy_reads_it_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    write_golden(path, _golden())
    with np.load(path, allow_pickle=False) as data:
        assert int(data["format_version"]) == 2
        meta = json.loads(data["metadata"].tobytes().decode("utf-8"))
        assert meta["id"] == "s/c" and "program" not in meta
        assert meta["program_sha256"] == hashlib.sha256(b"...").hexdigest()
        assert data["float64/value"].tolist() == [1.5]
        assert data["float64/digits/value"].tolist() == [b"1.50000"]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    write_golden(path, _golden())
    back = read_golden(path)
    assert back.meta.id == "s/c"
    assert back.grids["float64"].numbers["grad/x"].tolist() == [2.0]
    assert back.grids["float64"].certified["value"].dtype == np.int16


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.npz"
    write_golden(path, _golden())
    before = path.read_bytes()

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_golden(path, _golden(9.0))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]


def test_unknown_format_version_is_its_own_error(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    g = _golden()
    arrays = g.arrays() | {"format_version": np.array(99)}
    np.savez(path, **arrays)
    with pytest.raises(GoldenFormatError, match=r"format version 99 is not one this gradgold reads \(1, 2\)"):
        read_golden(path)


def _with_magnitude(grad_mag: float, listed: list[str] | None = None) -> Golden:
    g = _golden()
    grid = g.grids["float64"]
    data = GridData(grid.inputs, grid.numbers, grid.digits, grid.certified, {"grad/x": np.array([grad_mag])})
    meta = dataclasses.replace(g.meta, magnitudes=("grad/x",) if listed is None else tuple(listed))
    return Golden(meta=meta, grids={"float64": data})


def test_magnitudes_of_terms_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    write_golden(path, _with_magnitude(6.0))
    with np.load(path, allow_pickle=False) as data:
        assert data["float64/magnitude/grad/x"].tolist() == [6.0]
    back = read_golden(path).grids["float64"]
    assert back.magnitudes["grad/x"].tolist() == [6.0] and "value" not in back.magnitudes
    assert read_golden(_write(tmp_path / "plain.npz", _golden())).grids["float64"].magnitudes == {}


def _write(path: Path, golden: Golden) -> Path:
    write_golden(path, golden)
    return path


def test_a_magnitude_below_the_reference_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.npz", _with_magnitude(1.5))  # |grad| is 2.0
    with pytest.raises(
        GoldenFormatError,
        match=r"entry float64/magnitude/grad/x holds 1.5 at index \(0,\), below the absolute value of the "
        r"reference there \(2.0\): a magnitude of terms is never smaller; delete it and regenerate",
    ):
        read_golden(path)


def test_magnitudes_must_name_the_goldens_quantities(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.npz", _with_magnitude(6.0, ["grad/y"]))
    with pytest.raises(
        GoldenFormatError, match=r"magnitudes=\['grad/y'\] must name each of the golden's quantities"
    ):
        read_golden(path)
    g = _golden()
    arrays = g.arrays() | {"metadata": _meta_entry(g.meta.to_dict() | {"magnitudes": ["value"]})}
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(GoldenFormatError, match="missing entry float64/magnitude/value"):
        read_golden(tmp_path / "m.npz")
    arrays = _with_magnitude(6.0).arrays() | {"metadata": _meta_entry(g.meta.to_dict())}
    np.savez(tmp_path / "u.npz", **arrays)
    with pytest.raises(GoldenFormatError, match=r"unexpected entries \['float64/magnitude/grad/x'\]"):
        read_golden(tmp_path / "u.npz")


def _meta_entry(meta: Any) -> np.ndarray:
    """A version 2 metadata entry holding ``meta``."""
    return np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)


def _diagonal(n: int = 64, points: int = 2) -> Golden:
    """An elementwise case's golden: value and gradient of x^2 over ``n`` elements; the
    gradient (n x n) is diagonal, its zeros certified to 30 digits."""
    x = np.linspace(-1, 1, points * n).reshape(points, n)
    grad = np.zeros((points, n, n))
    grad[:, np.arange(n), np.arange(n)] = 2 * x
    digits = np.full(grad.shape, "0", dtype="U24")
    digits[:, np.arange(n), np.arange(n)] = [[repr(float(v)) for v in row] for row in 2 * x]
    data = GridData(
        inputs={"x": x},
        numbers={"value": x * x, "grad/x": grad},
        digits={"value": np.array([[repr(float(v)) for v in row] for row in x * x]), "grad/x": digits},
        certified={"value": np.full(x.shape, 20, np.int16), "grad/x": np.full(grad.shape, 30, np.int16)},
    )
    meta = dataclasses.replace(_golden().meta, params=(("x", (n,)),), out_shape=(n,), n_points=points)
    return Golden(meta=meta, grids={"float64": data})


def _same(a: Golden, b: Golden) -> None:
    for grid, x in a.grids.items():
        y = b.grids[grid]
        for part in ("inputs", "numbers", "digits", "certified", "magnitudes"):
            left, right = getattr(x, part), getattr(y, part)
            assert left.keys() == right.keys(), part
            for k in left:
                assert left[k].shape == right[k].shape and np.array_equal(left[k], right[k]), (part, k)


def test_a_diagonal_jacobian_is_stored_as_its_diagonal(tmp_path: Path) -> None:
    g = _diagonal()
    path = _write(tmp_path / "g.npz", g)
    with np.load(path, allow_pickle=False) as data:
        assert data["float64/nonzero/grad/x"].tolist() == [i * 64 + i for i in range(64)]
        assert data["float64/grad/x"].shape == (2, 64) and int(data["float64/zero_certified/grad/x"]) == 30
        assert "float64/nonzero/value" not in data.files  # nothing to elide: dense
    assert path.stat().st_size < 16_000  # dense, the gradient's numbers alone are 2 * 64 * 64 * 8 bytes
    _same(g, read_golden(path))
    assert _write(tmp_path / "h.npz", _diagonal()).read_bytes() == path.read_bytes()


def test_only_exact_zeros_of_one_certified_count_are_elided(tmp_path: Path) -> None:
    g = _diagonal(n=4, points=1)
    data = g.grids["float64"]
    data.certified["grad/x"][0, 0, 1] = 25  # a zero certified to fewer digits
    data.numbers["grad/x"][0, 0, 2] = -0.0  # a negative zero is not the exact zero's bits
    data.digits["grad/x"][0, 0, 3] = "0.0"  # nor digits other than "0"
    path = _write(tmp_path / "g.npz", g)
    with np.load(path, allow_pickle=False) as stored:
        assert stored["float64/nonzero/grad/x"].tolist() == [0, 1, 2, 3, 5, 10, 15]
    back = read_golden(path)
    _same(g, back)
    assert np.signbit(back.grids["float64"].numbers["grad/x"][0, 0, 2])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"float64/nonzero/grad/x": np.array([5, 3, 9, 12], np.int32)}, "must be strictly increasing"),
        ({"float64/nonzero/grad/x": np.array([0, 5, 10, 16], np.int32)}, "integer indices below 16"),
        ({"float64/nonzero/grad/x": np.array([0.0, 5, 10, 15])}, "must be strictly increasing integer"),
        ({"float64/zero_certified/grad/x": np.array(-1, np.int16)}, "an integer scalar in 0..32767"),
        ({"float64/zero_certified/grad/x": None}, "zero_certified/grad/x must be an integer scalar"),
        ({"float64/nonzero/grad/x": None}, "nonzero/grad/x must be strictly increasing"),
        ({"float64/nonzero/grad/x": np.arange(5, dtype=np.int32)}, "entry float64/grad/x has dtype"),
        ({"float64/digits/grad/x": np.full((1, 4), b"1\xe9", "S2")}, "holds bytes that are not ASCII"),
        ({"float64/digits/value": np.full((1, 4), b"1e", "S2")}, "holds '1e' where a decimal number"),
        ({"float64/digits/value": np.full((1, 4), "1.0")}, "entry float64/digits/value has dtype <U3"),
    ],
)
def test_forged_sparse_entries_are_refused(tmp_path: Path, edit: dict[str, Any], message: str) -> None:
    arrays = {k: v for k, v in (_diagonal(n=4, points=1).arrays() | edit).items() if v is not None}
    np.savez(tmp_path / "f.npz", **arrays)
    with pytest.raises(GoldenFormatError, match="regenerate it") as info:
        read_golden(tmp_path / "f.npz")
    assert message in str(info.value) and str(tmp_path / "f.npz") in str(info.value)


def test_a_version_2_file_must_hold_its_metadata_as_utf8_bytes(tmp_path: Path) -> None:
    g = _golden()
    for entry, message in [
        (np.array(json.dumps(g.meta.to_dict())), "holds it as uint8 UTF-8 bytes"),
        (np.frombuffer(b'{"id": "\xff"}', np.uint8), "metadata is not UTF-8"),
        (
            _meta_entry(g.meta.to_dict() | {"program_sha256": "abc"}),
            "program_sha256 must be 64 lowercase",
        ),
    ]:
        np.savez(tmp_path / "m.npz", **(g.arrays() | {"metadata": entry}))
        with pytest.raises(GoldenFormatError, match="regenerate it") as info:
            read_golden(tmp_path / "m.npz")
        assert message in str(info.value)
    meta = g.meta.to_dict()
    del meta["program_sha256"]
    np.savez(tmp_path / "m.npz", **(g.arrays() | {"metadata": _meta_entry(meta)}))
    with pytest.raises(GoldenFormatError, match=r"metadata lacks \['program_sha256'\]"):
        read_golden(tmp_path / "m.npz")


def test_a_committed_version_1_golden_still_reads_and_checks_as_fresh(tmp_path: Path) -> None:
    """tests/data/golden-v1 holds seed/sine as gradgold wrote it in format version 1: it reads,
    re-encodes to version 2 without changing a number, and `gradgold check` finds it fresh."""
    v1 = V1 / "seed" / "sine.npz"
    with np.load(v1, allow_pickle=False) as data:
        assert int(data["format_version"]) == 1 and data["float64/digits/value"].dtype.kind == "U"
    old = read_golden(v1, root=V1)
    assert old.meta.program is not None
    _same(old, read_golden(_write(tmp_path / "v2.npz", old)))
    root = seed_project(tmp_path)
    seed_sine_as_in_version_1(root)
    shutil.copy(v1, root / "golden" / "seed" / "sine.npz")
    done = gradgold_here(root, "check", "seed/sine")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stale" not in done.stdout + done.stderr


def test_upgrade_rewrites_a_fresh_version_1_golden_and_nothing_else(tmp_path: Path) -> None:
    """`gradgold upgrade` re-encodes without an engine: every array as it was, the program as its
    hash (which offline verification accepts); a golden that is not fresh is left for `generate`."""
    root = seed_project(tmp_path)
    seed_sine_as_in_version_1(root)
    path = root / "golden" / "seed" / "sine.npz"
    shutil.copy(V1 / "seed" / "sine.npz", path)
    (root / "golden" / "seed" / "linear.npz").write_bytes(b"not a golden")
    done = gradgold_cli(root, "upgrade")
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "1 upgraded, 2 already current, 1 not fresh"
    assert "failed  seed/linear: " in done.stdout and "upgrade rewrites only fresh goldens" in done.stdout
    new = read_golden(path)
    assert new.version == 2 and new.meta.program is None
    _same(read_golden(V1 / "seed" / "sine.npz"), new)
    verified = gradgold_here(root, "verify", "--offline", "seed/sine")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    again = gradgold_here(root, "upgrade", "seed/sine")
    assert (
        again.returncode == 0
        and again.stdout.splitlines()[-1] == "0 upgraded, 1 already current, 0 not fresh"
    )
