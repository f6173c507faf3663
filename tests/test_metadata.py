"""One schema: the metadata a case implies is built in one place, for generation and for reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradgold.golden import read_golden
from gradgold.metadata import case_metadata, metadata_mismatch
from gradgold.suite import find_project, golden_path, load_cases

ROOT = Path(__file__).resolve().parents[1]
#: What only a generator knows (the program, the engine, the output's shape, how it computed).
GENERATOR_KEYS = {
    "program",  # format version 1; version 2 stores its hash
    "program_sha256",
    "format_version",  # format version 1 repeated its version in the metadata
    "engine",
    "out_shape",
    "working_precision",
    "strategy",
    "evaluator",
    "magnitudes",
}


def test_the_builder_reproduces_every_committed_goldens_metadata() -> None:
    project = find_project(ROOT)
    cases = load_cases(project)
    assert len(cases) > 400
    for case in cases:
        meta = read_golden(golden_path(project, case.id), root=project.golden_dir).meta
        built = case_metadata(case)
        assert {k: meta.get(k) for k in built} == built, case.id
        assert set(meta) - set(built) <= GENERATOR_KEYS, case.id
        assert metadata_mismatch(case, meta) == [], case.id


@pytest.mark.parametrize(
    ("edit", "key", "stored", "expected"),
    [
        ({"order": 2}, "order", 2, 1),  # an optional key the case leaves at its default
        ({"wolfram": "Cos[x]"}, "wolfram", "Cos[x]", None),
        ({"complex_output": True}, "complex_output", True, False),
    ],
)
def test_a_mismatch_names_the_key_the_stored_and_the_expected_value(
    edit: dict, key: str, stored: object, expected: object
) -> None:
    project = find_project(ROOT)
    (case,) = [c for c in load_cases(project) if c.id == "elementwise/exp"]
    meta = case_metadata(case) | edit
    ((k, got, want),) = metadata_mismatch(case, meta)
    assert (k, got) == (key, stored)
    assert want == (case.wolfram if expected is None else expected)
