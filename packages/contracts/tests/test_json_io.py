"""JSON in and out: the canonical file form and the one-line error format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tessera_contracts import (
    ContractError,
    ManifestV1,
    Producer,
    RunRecord,
    format_validation_error,
    load_json_file,
    parse_json,
    to_json_text,
    validate_plain,
)

Doc = dict[str, Any]


def test_to_json_text_is_sorted_indented_ascii_with_a_trailing_newline() -> None:
    producer = Producer(name="läb ☃", version="0.1.0", git_sha=None)
    assert to_json_text(producer) == (
        '{\n  "git_sha": null,\n  "name": "l\\u00e4b \\u2603",\n  "version": "0.1.0"\n}\n'
    )


def test_to_json_text_does_not_depend_on_field_or_key_order(manifest_data: Doc) -> None:
    forward = validate_plain(ManifestV1, manifest_data)
    backward = validate_plain(ManifestV1, dict(reversed(list(manifest_data.items()))))
    assert to_json_text(forward) == to_json_text(backward)


def test_to_plain_is_the_json_form(run_record_data: Doc) -> None:
    record = validate_plain(RunRecord, run_record_data)
    assert record.to_plain() == json.loads(to_json_text(record))
    assert record.to_plain()["created_at"] == "2024-07-02T08:30:00Z"


def test_equal_models_hash_equal(run_record_data: Doc) -> None:
    a = validate_plain(RunRecord, run_record_data)
    b = parse_json(RunRecord, to_json_text(a))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_parse_json_names_its_source() -> None:
    with pytest.raises(ContractError) as exc:
        parse_json(Producer, '{"name": "x"}', "producer.json")
    assert str(exc.value) == "producer.json: field 'version': Field required"
    assert isinstance(exc.value.__cause__, ValidationError)


@pytest.mark.parametrize("data", [[], "text", 3, None])
def test_validate_plain_wants_an_object(data: object) -> None:
    with pytest.raises(ContractError) as exc:
        validate_plain(Producer, data, "p.json")
    assert str(exc.value) == f"p.json: expected a JSON object, found {type(data).__name__}"


def _error(model: type[Any], data: Doc) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    return exc.value


def test_format_names_the_nested_field_and_what_was_found(manifest_data: Doc) -> None:
    manifest_data["files"]["eval.parquet"]["sha256"] = "not-a-sha"
    message = format_validation_error(_error(ManifestV1, manifest_data), "m.json")
    assert message == (
        "m.json: field 'files.eval.parquet.sha256': String should match pattern "
        "'^[0-9a-f]{64}$', found 'not-a-sha'"
    )


def test_format_counts_further_problems() -> None:
    message = format_validation_error(_error(Producer, {"name": "", "oops": 1}), "p.json")
    assert message.startswith("p.json: field 'name': String should have at least 1 character")
    assert message.endswith("(and 2 more problem(s))")


def test_format_reports_unknown_fields_plainly() -> None:
    data = {"name": "x", "version": "1", "color": "red"}
    message = format_validation_error(_error(Producer, data), "p.json")
    assert message == "p.json: field 'color': unknown field"


def test_format_keeps_long_or_multiline_values_on_one_short_line() -> None:
    data = {"name": "x", "version": "1", "git_sha": "zz\n" * 100}
    message = format_validation_error(_error(Producer, data), "p.json")
    assert "\n" not in message
    assert message.endswith("...")
    assert len(message) < 200


def test_format_uses_our_own_message_for_contract_errors(manifest_data: Doc) -> None:
    manifest_data["snapshot_pairs"] = ["a", "a"]
    message = format_validation_error(_error(ManifestV1, manifest_data), "m.json")
    assert message == "m.json: field 'snapshot_pairs': duplicate snapshot pair 'a'"


def test_load_json_file_validates_as_the_given_model(tmp_path: Path, manifest_data: Doc) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_data), encoding="utf-8")
    assert isinstance(load_json_file(ManifestV1, path), ManifestV1)
    with pytest.raises(ContractError, match="field 'run_format': Field required"):
        load_json_file(RunRecord, path)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read") as exc:
        load_json_file(Producer, tmp_path)
    assert str(exc.value).startswith(f"{tmp_path}: ")


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "x", "version": "1", "name": "y"}',
        '{"name": "x", "version": "1", "git_sha": null, "git_sha": "abcdef1"}',
    ],
)
def test_a_repeated_key_is_refused_not_silently_overwritten(text: str) -> None:
    with pytest.raises(ContractError) as exc:
        parse_json(Producer, text, "p.json")
    assert str(exc.value).startswith("p.json: duplicate key '")


def test_a_repeated_key_in_a_nested_object_is_refused(manifest_data: Doc) -> None:
    text = json.dumps(manifest_data).replace('"rows": 1200', '"rows": 1200, "rows": 1')
    with pytest.raises(ContractError, match=r"m\.json: duplicate key 'rows'"):
        parse_json(ManifestV1, text, "m.json")


@pytest.mark.parametrize(
    ("field", "value"),
    [("has_weight", "yes"), ("schema_version", True), ("created_at", 0), ("label_kind", 1)],
)
def test_files_are_validated_strictly(manifest_data: Doc, field: str, value: object) -> None:
    """A file's JSON types are taken as written: no coercion of strings, numbers or bools."""
    manifest_data[field] = value
    with pytest.raises(ContractError, match=rf"m\.json: field '{field}'"):
        parse_json(ManifestV1, json.dumps(manifest_data), "m.json")


def test_run_record_files_are_validated_strictly(run_record_data: Doc) -> None:
    run_record_data["smoke"] = "no"
    with pytest.raises(ContractError, match=r"r\.json: field 'smoke'"):
        parse_json(RunRecord, json.dumps(run_record_data), "r.json")
