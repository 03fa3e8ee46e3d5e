"""The one reader of family -> columns files: registering and scoring read them alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera_serving import read_feature_schema_file, schema_from_yaml
from tessera_serving.errors import RegistrationError, ScoringError
from tessera_serving.registry.rundir import read_spec

SCHEMA = {"knn": ["knn_score", "knn_votes"], "length": ["query_len"]}


def test_both_operations_read_the_same_schema(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text("knn: [knn_score, knn_votes]\nlength:\n  - query_len\n", encoding="utf-8")
    assert schema_from_yaml(path) == read_feature_schema_file(path) == SCHEMA


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("knn: [a\n", "not valid YAML"),
        ("knn: a\n", "expected a mapping family -> list of column names, found dict"),
        ("- a\n", "found list"),
        ("{}\n", "found an empty mapping"),
        (b"\xff\xfe", "cannot read"),
    ],
)
def test_bad_files_fail_alike_in_each_operation_s_error(
    tmp_path: Path, text: str | bytes, match: str
) -> None:
    path = tmp_path / "bad.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistrationError, match=match) as registering:
        schema_from_yaml(path)
    with pytest.raises(ScoringError, match=match) as scoring:
        read_feature_schema_file(path)
    assert str(registering.value) == str(scoring.value)
    assert str(scoring.value).startswith(f"{path}: ") and "\n" not in str(scoring.value)


def test_the_spec_reader_uses_the_same_loader(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("objective: [unclosed\n", encoding="utf-8")
    with pytest.raises(RegistrationError, match=r"spec\.yaml: not valid YAML: "):
        read_spec(path)
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(RegistrationError, match="expected a YAML mapping, found list"):
        read_spec(path)
