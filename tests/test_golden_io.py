"""Golden files: deterministic bytes, atomic writes, plain-numpy readability."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradgold.errors import GoldenFormatError
from gradgold.golden import Golden, GridData, read_golden, write_golden


def _golden(value: float = 1.5) -> Golden:
    grid = GridData(
        inputs={"x": np.array([0.5])},
        numbers={"value": np.array([value]), "grad/x": np.array([2.0])},
        digits={"value": np.array(["1.50000"]), "grad/x": np.array(["2.00000"])},
        certified={"value": np.array([30], np.int16), "grad/x": np.array([30], np.int16)},
    )
    meta = {
        "id": "s/c",
        "wolfram": "x^2",
        "program": "...",
        "engine": {"name": "e", "version": "1"},
        "precision": 30,
        "fingerprint": "f",
        "params": [["x", []]],
        "out_shape": [],
        "grids": ["float64"],
        "n_points": 1,
    }
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
        assert int(data["format_version"]) == 1
        assert json.loads(str(data["metadata"]))["id"] == "s/c"
        assert data["float64/value"].tolist() == [1.5]
        assert data["float64/digits/value"].tolist() == ["1.50000"]


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "g.npz"
    write_golden(path, _golden())
    back = read_golden(path)
    assert back.meta["id"] == "s/c"
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
    with pytest.raises(GoldenFormatError, match="format version 99 is not the one this gradgold reads"):
        read_golden(path)


def _with_magnitude(grad_mag: float, listed: list[str] | None = None) -> Golden:
    g = _golden()
    grid = g.grids["float64"]
    data = GridData(grid.inputs, grid.numbers, grid.digits, grid.certified, {"grad/x": np.array([grad_mag])})
    meta = dict(g.meta) | {"magnitudes": ["grad/x"] if listed is None else listed}
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
    arrays = g.arrays() | {"metadata": np.array(json.dumps(dict(g.meta) | {"magnitudes": ["value"]}))}
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(GoldenFormatError, match="missing entry float64/magnitude/value"):
        read_golden(tmp_path / "m.npz")
    arrays = _with_magnitude(6.0).arrays() | {"metadata": np.array(json.dumps(g.meta))}
    np.savez(tmp_path / "u.npz", **arrays)
    with pytest.raises(GoldenFormatError, match=r"unexpected entries \['float64/magnitude/grad/x'\]"):
        read_golden(tmp_path / "u.npz")
