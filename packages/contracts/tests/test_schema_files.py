"""The committed JSON Schema files are the models' current schemas: a contract change is a diff."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tessera_contracts import ManifestV1, RunRecord, _schemas
from tessera_contracts._values import StrictModel

REGENERATE = "uv run python -m tessera_contracts._schemas --write"


def test_committed_schema_files_are_current() -> None:
    stale = _schemas.stale_schema_files()
    assert stale == [], (
        f"JSON Schema files out of date with the models: {stale}. If the contract change is "
        f"intended, run `{REGENERATE}` and commit the schema diff with the model change."
    )


@pytest.mark.parametrize(("name", "model"), sorted(_schemas.SCHEMA_MODELS.items()))
def test_each_file_parses_to_the_model_schema(name: str, model: type[BaseModel]) -> None:
    committed = json.loads((_schemas.SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert committed == model.model_json_schema(), f"{name} is stale: run `{REGENERATE}`"


def test_no_orphan_schema_files() -> None:
    on_disk = {p.name for p in _schemas.SCHEMA_DIR.glob("*.json")}
    assert on_disk == set(_schemas.SCHEMA_MODELS), (
        f"schema files without a model (or models without a file): {sorted(on_disk)} vs "
        f"{sorted(_schemas.SCHEMA_MODELS)}"
    )


@pytest.mark.parametrize(("name", "model"), sorted(_schemas.SCHEMA_MODELS.items()))
def test_schemas_publish_the_strictness(name: str, model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    assert schema["additionalProperties"] is False
    for sub_name, sub in schema.get("$defs", {}).items():
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{name}: $defs.{sub_name}"


# Added to run.json after run_format 1 shipped: optional so that older run.json files load;
# the lab writes them on every run (null where they do not apply).
LATER_RUN_RECORD_FIELDS = {"engine", "validation", "evaluation"}


@pytest.mark.parametrize(
    ("model", "later"), [(ManifestV1, set()), (RunRecord, LATER_RUN_RECORD_FIELDS)]
)
def test_manifest_and_run_record_have_no_optional_fields(
    model: type[BaseModel], later: set[str]
) -> None:
    # DESIGN.md sections 3 and 5: every field is written, null where it does not apply.
    assert set(model.model_json_schema()["required"]) == set(model.model_fields) - later


def test_schema_models_are_strict_models() -> None:
    for model in _schemas.SCHEMA_MODELS.values():
        assert issubclass(model, StrictModel)


@pytest.fixture
def schema_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the schema module at a scratch copy of the committed files."""
    target = tmp_path / "schemas"
    shutil.copytree(_schemas.SCHEMA_DIR, target)
    monkeypatch.setattr(_schemas, "SCHEMA_DIR", target)
    return target


def test_a_changed_file_is_detected_and_rewritten(schema_copy: Path) -> None:
    path = schema_copy / "run_record.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"].pop("seed")
    path.write_text(json.dumps(schema, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    assert _schemas.stale_schema_files() == ["run_record.schema.json"]
    assert _schemas.write_schema_files() == ["run_record.schema.json"]
    assert _schemas.stale_schema_files() == []
    assert _schemas.write_schema_files() == []


def test_a_missing_file_is_detected_and_written(schema_copy: Path) -> None:
    (schema_copy / "manifest_v1.schema.json").unlink()
    assert _schemas.stale_schema_files() == ["manifest_v1.schema.json"]
    _schemas.write_schema_files()
    assert (schema_copy / "manifest_v1.schema.json").read_text(encoding="utf-8") == (
        _schemas.render_schema(_schemas.SCHEMA_MODELS["manifest_v1.schema.json"])
    )


def test_the_check_command_exits_zero_and_writes_nothing() -> None:
    before = {p.name: p.read_bytes() for p in _schemas.SCHEMA_DIR.glob("*.json")}
    result = subprocess.run(
        [sys.executable, "-m", "tessera_contracts._schemas"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "schemas up to date"
    assert {p.name: p.read_bytes() for p in _schemas.SCHEMA_DIR.glob("*.json")} == before
