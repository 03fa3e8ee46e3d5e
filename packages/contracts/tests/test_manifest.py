"""``ManifestV1``: byte-for-byte JSON round trips and every rejection DESIGN.md section 3 names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera_contracts import (
    DATASET_FILES,
    ContractError,
    ManifestV1,
    load_manifest,
    parse_json,
    to_json_text,
    validate_plain,
)

Doc = dict[str, Any]


def reject(doc: object, *fragments: str) -> str:
    """Validation fails with a one-line ContractError containing every fragment."""
    with pytest.raises(ContractError) as exc:
        validate_plain(ManifestV1, doc, "data/manifest.json")
    message = str(exc.value)
    assert "\n" not in message, message
    assert message.startswith("data/manifest.json: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    return message


def test_a_valid_manifest_loads(manifest_data: Doc) -> None:
    manifest = validate_plain(ManifestV1, manifest_data)
    assert manifest.schema_version == 2
    assert manifest.created_at == datetime(2024, 7, 1, 12, tzinfo=UTC)
    assert manifest.feature_schema_sha == manifest_data["feature_schema_sha"]
    assert manifest.feature_columns == ["knn_score", "knn_votes", "query_len", "len_ratio"]
    assert set(manifest.files) == set(DATASET_FILES) == {"train.parquet", "eval.parquet"}


def test_manifest_is_immutable(manifest_data: Doc) -> None:
    manifest = validate_plain(ManifestV1, manifest_data)
    with pytest.raises(ValueError, match="frozen"):
        manifest.name = "other"  # type: ignore[misc]


# --- JSON round trip -------------------------------------------------------------------------


def test_round_trip_is_byte_for_byte(manifest_data: Doc) -> None:
    text = to_json_text(validate_plain(ManifestV1, manifest_data))
    again = to_json_text(parse_json(ManifestV1, text))
    assert again == text
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def test_any_key_order_or_spacing_gives_the_same_file(manifest_data: Doc) -> None:
    reordered = dict(reversed(list(manifest_data.items())))
    compact = json.dumps(reordered, separators=(",", ":"))
    canonical = to_json_text(validate_plain(ManifestV1, manifest_data))
    assert to_json_text(parse_json(ManifestV1, compact)) == canonical
    assert to_json_text(parse_json(ManifestV1, compact.encode())) == canonical


offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)


@given(data=st.data(), created=aware_datetimes, kind=st.sampled_from(["binary", "graded"]))
def test_generated_manifests_round_trip(
    kit: Any, data: st.DataObject, created: datetime, kind: str
) -> None:
    schema = data.draw(kit.feature_schemas())
    doc = kit.manifest_doc(schema)
    doc["created_at"] = created.isoformat()
    doc["label_kind"] = kind
    manifest = validate_plain(ManifestV1, doc)
    assert manifest.created_at == created
    assert manifest.created_at.utcoffset() == timedelta(0)
    text = to_json_text(manifest)
    assert text.isascii()
    assert to_json_text(parse_json(ManifestV1, text)) == text
    assert parse_json(ManifestV1, text) == manifest


def test_non_utc_offsets_are_normalised_to_utc(manifest_data: Doc) -> None:
    manifest_data["created_at"] = "2024-07-01T14:30:00+02:30"
    manifest = validate_plain(ManifestV1, manifest_data)
    assert manifest.created_at == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert manifest.created_at.tzinfo is UTC
    assert json.loads(to_json_text(manifest))["created_at"] == "2024-07-01T12:00:00Z"


# --- rejections -----------------------------------------------------------------------------


def test_rejects_an_unknown_top_level_field(manifest_data: Doc) -> None:
    manifest_data["row_count"] = 10
    reject(manifest_data, "field 'row_count'", "unknown field")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (["producer"], "producer.hostname"),
        (["files", "train.parquet"], "files.train.parquet.hostname"),
    ],
)
def test_rejects_an_unknown_nested_field(manifest_data: Doc, path: list[str], field: str) -> None:
    target = manifest_data
    for key in path:
        target = target[key]
    target["hostname"] = "lab-01"
    reject(manifest_data, f"field {field!r}", "unknown field")


@pytest.mark.parametrize("version", [1, 3, "two", None, 2.5, [2]], ids=repr)
def test_rejects_a_wrong_schema_version(manifest_data: Doc, version: object) -> None:
    manifest_data["schema_version"] = version
    reject(manifest_data, "field 'schema_version'")


@pytest.mark.parametrize("field", sorted(ManifestV1.model_fields))
def test_rejects_a_missing_field(manifest_data: Doc, field: str) -> None:
    del manifest_data[field]
    reject(manifest_data, f"field {field!r}", "required")


def test_rejects_a_wrong_family_fingerprint(manifest_data: Doc) -> None:
    manifest_data["feature_schema_sha"] = "0" * 12
    reject(manifest_data, "feature_schema_sha", "'000000000000'", "does not match")


def test_rejects_a_wrong_column_fingerprint(manifest_data: Doc) -> None:
    manifest_data["schema_sha"] = "f" * 12
    reject(manifest_data, "schema_sha", "'ffffffffffff'", "does not match")


def test_rejects_swapped_fingerprints(manifest_data: Doc) -> None:
    v1, v2 = manifest_data["feature_schema_sha"], manifest_data["schema_sha"]
    manifest_data["feature_schema_sha"], manifest_data["schema_sha"] = v2, v1
    reject(manifest_data, "does not match")


def test_rejects_a_schema_edited_without_its_fingerprints(manifest_data: Doc) -> None:
    manifest_data["feature_schema"]["knn"].append("knn_rank")
    reject(manifest_data, "schema_sha", "does not match")
    manifest_data["feature_schema"]["knn"].pop()
    manifest_data["feature_schema"]["alignment"] = ["nw_score"]
    reject(manifest_data, "feature_schema_sha", "does not match")


@given(data=st.data(), stored=st.from_regex(r"[0-9a-f]{12}", fullmatch=True))
def test_rejects_any_other_fingerprint(kit: Any, data: st.DataObject, stored: str) -> None:
    doc = kit.manifest_doc(data.draw(kit.feature_schemas()))
    field = data.draw(st.sampled_from(["feature_schema_sha", "schema_sha"]))
    if doc[field] == stored:
        return
    doc[field] = stored
    reject(doc, field, repr(stored))


@pytest.mark.parametrize("value", ["short", "A" * 12, "0" * 11, "0" * 13, 12], ids=repr)
def test_rejects_a_malformed_fingerprint(manifest_data: Doc, value: object) -> None:
    manifest_data["schema_sha"] = value
    reject(manifest_data, "field 'schema_sha'")


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({}, "empty"),
        ({"Knn": ["knn_score"]}, "'Knn'"),
        ({"knn": []}, "'knn'"),
        ({"knn": ["a", "a"]}, "'a'"),
        ({"knn": ["a"], "length": ["a"]}, "'a'"),
        ({"knn": ["bad\tname"]}, "'bad\\tname'"),
    ],
    ids=repr,
)
def test_rejects_an_invalid_feature_schema(manifest_data: Doc, schema: Doc, named: str) -> None:
    manifest_data["feature_schema"] = schema
    reject(manifest_data, "feature_schema", named)


def test_rejects_a_feature_schema_of_the_wrong_shape(manifest_data: Doc) -> None:
    manifest_data["feature_schema"] = {"knn": "knn_score"}
    reject(manifest_data, "field 'feature_schema.knn'")


def test_rejects_empty_snapshot_pairs(manifest_data: Doc) -> None:
    manifest_data["snapshot_pairs"] = []
    reject(manifest_data, "field 'snapshot_pairs'", "empty")


def test_rejects_duplicate_snapshot_pairs(manifest_data: Doc) -> None:
    manifest_data["snapshot_pairs"] = ["2024-01..2024-07", "2023-07..2024-01", "2024-01..2024-07"]
    reject(manifest_data, "field 'snapshot_pairs'", "duplicate", "'2024-01..2024-07'")


def test_rejects_a_blank_snapshot_pair(manifest_data: Doc) -> None:
    manifest_data["snapshot_pairs"] = ["2024-01..2024-07", "  "]
    reject(manifest_data, "field 'snapshot_pairs'", "blank")


@pytest.mark.parametrize("missing", DATASET_FILES)
def test_rejects_files_without_train_or_eval(manifest_data: Doc, missing: str) -> None:
    del manifest_data["files"][missing]
    reject(manifest_data, "field 'files'", "train.parquet", "eval.parquet")


def test_rejects_an_empty_files_map(manifest_data: Doc) -> None:
    manifest_data["files"] = {}
    reject(manifest_data, "field 'files'")


def test_rejects_files_other_than_the_two_parquet_files(manifest_data: Doc) -> None:
    manifest_data["files"]["valid.parquet"] = manifest_data["files"]["eval.parquet"]
    reject(manifest_data, "field 'files'", "valid.parquet")


@pytest.mark.parametrize(
    ("key", "value"),
    [("sha256", "abc"), ("sha256", "A" * 64), ("rows", -1), ("bytes", -5), ("rows", "many")],
)
def test_rejects_a_bad_file_entry(manifest_data: Doc, key: str, value: object) -> None:
    manifest_data["files"]["eval.parquet"][key] = value
    reject(manifest_data, f"field 'files.eval.parquet.{key}'")


@pytest.mark.parametrize(
    "value", ["2024-07-01T12:00:00", "2024-07-01 12:00:00", "2024-07-01", "yesterday", None]
)
def test_rejects_naive_or_malformed_datetimes(manifest_data: Doc, value: object) -> None:
    manifest_data["created_at"] = value
    reject(manifest_data, "field 'created_at'")


def test_rejects_a_naive_datetime_object(manifest_data: Doc) -> None:
    manifest_data["created_at"] = datetime(2024, 7, 1, 12)
    reject(manifest_data, "field 'created_at'", "timezone")
    manifest_data["created_at"] = datetime(2024, 7, 1, 12, tzinfo=timezone(timedelta(hours=-3)))
    assert validate_plain(ManifestV1, manifest_data).created_at.hour == 15


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("label_kind", "ranking"),
        ("has_weight", [True]),
        ("name", "../escape"),
        ("name", ""),
        ("categories", []),
        ("categories", ["BPO", "BPO"]),
        ("categories", [""]),
        ("producer", {"name": "", "version": "0.1.0"}),
        ("producer", {"name": "lab", "version": "0.1.0", "git_sha": "not-a-sha"}),
    ],
    ids=repr,
)
def test_rejects_other_bad_values(manifest_data: Doc, field: str, value: object) -> None:
    manifest_data[field] = value
    reject(manifest_data, f"field '{field}")


def test_rejects_json_that_is_not_an_object() -> None:
    with pytest.raises(ContractError, match="expected a JSON object, found list"):
        parse_json(ManifestV1, "[]", "m.json")


# --- loading a file -------------------------------------------------------------------------


def test_load_manifest_reads_a_file(tmp_path: Path, manifest_data: Doc) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_data), encoding="utf-8")
    assert load_manifest(path) == validate_plain(ManifestV1, manifest_data)
    assert load_manifest(str(path)) == load_manifest(path)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(extra=1), "'extra'"),
        (lambda d: d["producer"].update(host="x"), "'producer.host'"),
        (lambda d: d.update(schema_version=1), "'schema_version'"),
        (lambda d: d.update(snapshot_pairs=[]), "'snapshot_pairs'"),
        (lambda d: d["files"].pop("train.parquet"), "'files'"),
        (lambda d: d.update(created_at="2024-07-01T12:00:00"), "'created_at'"),
        (lambda d: d.update(schema_sha="0" * 12), "schema_sha"),
        (lambda d: d.update(feature_schema={"Bad": ["x"]}), "feature_schema"),
    ],
)
def test_a_bad_file_gives_one_line_naming_file_and_field(
    tmp_path: Path, manifest_data: Doc, edit: Any, field: str
) -> None:
    edit(manifest_data)
    path = tmp_path / "ds" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(manifest_data, indent=2), encoding="utf-8")
    with pytest.raises(ContractError) as exc:
        load_manifest(path)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert field in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"{not json", "not valid JSON"), (b"\xff\xfe\x00", "not valid JSON"), (b"", "not valid")],
)
def test_a_file_that_is_not_json(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(ContractError) as exc:
        load_manifest(path)
    assert str(exc.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(exc.value)


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "manifest.json"
    with pytest.raises(ContractError, match="cannot read") as exc:
        load_manifest(path)
    assert str(exc.value).startswith(str(path))
