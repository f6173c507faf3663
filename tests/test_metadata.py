"""One schema: the metadata a case implies is built in one place, for generation and for reading,
and the frozen :class:`~gradgold.schema.Metadata` writes back exactly the bytes it was read from."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradgold.errors import GoldenFormatError
from gradgold.golden import _encode, read_golden
from gradgold.metadata import case_fields, metadata_mismatch
from gradgold.schema import Metadata
from gradgold.suite import find_project, golden_path, load_cases

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "tests" / "data" / "golden-v1" / "seed" / "sine.npz"


def _stored_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return np.load(io.BytesIO(zf.read("metadata.npy")), allow_pickle=False).tobytes()


def test_every_committed_golden_round_trips_byte_for_byte() -> None:
    """Nothing regenerated: each committed golden's metadata writes back the bytes it was read
    from, and so does the whole file (key order, omitted optional keys, the program's hash)."""
    golden_dir = ROOT / "golden"
    paths = sorted(golden_dir.rglob("*.npz"))
    assert len(paths) > 400
    for path in paths:
        golden = read_golden(path, root=golden_dir)
        assert golden.meta.to_json().encode("utf-8") == _stored_metadata(path), path
        assert _encode(golden.arrays()) == path.read_bytes(), path


def test_the_builder_reproduces_every_committed_goldens_metadata() -> None:
    project = find_project(ROOT)
    cases = load_cases(project)
    assert len(cases) > 400
    for case in cases:
        meta = read_golden(golden_path(project, case.id), root=project.golden_dir).meta
        assert {k: getattr(meta, k) for k in case_fields(case)} == case_fields(case), case.id
        assert (meta.fingerprint, meta.dtypes) == (case.fingerprint(), case.dtypes), case.id
        assert metadata_mismatch(case, meta) == [], case.id


@pytest.mark.parametrize(
    ("edit", "key", "stored", "expected"),
    [
        ({"order": 1}, "order", 1, 2),  # exp holds its Hessian (order 2)
        ({"wolfram": "Cos[x]"}, "wolfram", "Cos[x]", None),
        ({"complex_output": True}, "complex_output", True, False),
    ],
)
def test_a_mismatch_names_the_key_the_stored_and_the_expected_value(
    edit: dict[str, Any], key: str, stored: object, expected: object
) -> None:
    project = find_project(ROOT)
    (case,) = [c for c in load_cases(project) if c.id == "elementwise/exp"]
    meta = dataclasses.replace(read_golden(golden_path(project, case.id)).meta, **edit)
    ((k, got, want),) = metadata_mismatch(case, meta)
    assert (k, got) == (key, stored)
    assert want == (case.wolfram if expected is None else expected)


def _sine() -> dict[str, Any]:
    meta: dict[str, Any] = read_golden(ROOT / "golden" / "seed" / "sine.npz").meta.to_dict()
    return meta


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        ({"magnitude": ["value"]}, "unknown key 'magnitude' (the keys are "),
        ({"program": "Sin[x]"}, "unknown key 'program'"),  # version 1's text: never in version 2
        ({"order": 1}, "key 'order' holds 1, which gradgold never writes"),
        ({"complex_output": False}, "key 'complex_output' holds False, which gradgold never writes"),
        ({"projections": 2}, "key 'full_jacobian' is missing or not as gradgold writes it (expected True)"),
        ({"engine": {"name": "e", "version": "1", "extra": 2}}, "engine must be {'name': str"),
        ({"dtypes": "float64"}, "dtypes='float64' must be a list of dtype names"),
        ({"working_precision": 0}, "working_precision=0 is not a positive integer"),
        ({"evaluator": 1}, "['evaluator'] must be strings"),
        ({"evil\x1b[31m": "x"}, "unknown key 'evil\\x1b[31m'"),  # escaped: a message never drives a terminal
    ],
)
def test_the_loader_refuses_what_the_type_would_not_write(edit: dict[str, Any], fragment: str) -> None:
    """A version 2 file holds exactly what its metadata writes back: nothing ignored, nothing
    spelled out that the writer would omit; each error names the file, the key and the fix."""
    text = json.dumps(_sine() | edit)
    with pytest.raises(GoldenFormatError) as info:
        Metadata.from_json(text, "golden/seed/sine.npz")
    message = str(info.value)
    assert message.startswith("golden/seed/sine.npz: malformed metadata: "), message
    assert fragment in message and message.endswith("(file: golden/seed/sine.npz)"), message
    assert "regenerate it with `gradgold generate --force`" in message


def test_whitespace_and_key_order_are_not_part_of_the_schema() -> None:
    meta = _sine()
    text = json.dumps(dict(reversed(list(meta.items()))), indent=2)
    assert Metadata.from_json(text, "x").to_dict() == meta


def test_version_1_metadata_holds_the_programs_text_and_its_hash_is_derived() -> None:
    golden = read_golden(V1)
    assert golden.version == 1 and golden.meta.program is not None
    assert len(golden.meta.program_sha256) == 64
    assert "program" not in golden.meta.to_dict() and "format_version" not in golden.meta.to_dict()
    with pytest.raises(GoldenFormatError, match=r"unknown key 'format_version'"):
        Metadata.from_json(json.dumps(_sine() | {"format_version": 2}), "x")


def test_the_type_holds_no_lists() -> None:
    with pytest.raises(TypeError, match=r"Metadata\.grids must be a tuple"):
        dataclasses.replace(read_golden(ROOT / "golden" / "seed" / "sine.npz").meta, grids=["float64"])  # type: ignore[arg-type]
