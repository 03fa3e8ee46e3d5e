"""The checked run of an import by reference: ``run.json`` against a booster in the store.

The booster is read back from the configured store by its sha256, so the same checks as
for a run directory (booster facts, spec, run record) apply before anything is written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tessera_contracts.receipts import ReceiptRecorder
from tessera_serving.errors import ArtifactError, RegistrationError
from tessera_serving.registry import Registry
from tessera_serving.registry.receipts import record_run_content
from tessera_serving.registry.run_consistency import check_against_booster, check_against_spec
from tessera_serving.registry.run_groups import check_model_name, model_name_of
from tessera_serving.registry.rundir import LoadedRun, check_booster, parse_run_json, read_spec


def reference_run(
    registry: Registry,
    rec: ReceiptRecorder,
    uri: str,
    sha256: str,
    run_json: Path,
    spec_yaml: Path | None,
    name: str | None,
) -> tuple[str, LoadedRun]:
    """The checked run of an import by reference and its model name."""

    try:
        raw = run_json.read_bytes()
    except OSError as exc:
        raise RegistrationError(f"{run_json}: cannot read: {exc.strerror or exc}") from exc
    record_run_content(rec, raw)
    record = parse_run_json(raw, str(run_json))
    if name is not None:
        check_model_name(name)
    store = registry.store
    try:
        in_store = store.sha256_from_uri(uri)
        if in_store != sha256:
            raise RegistrationError(f"artifact {uri} names object {in_store}, not {sha256}")
        model_bytes = store.read_bytes(sha256)
    except ArtifactError as exc:
        raise RegistrationError(str(exc)) from exc
    facts = check_booster(model_bytes, record, uri, hashlib.sha256(model_bytes).hexdigest())
    spec_text, spec_data = read_spec(Path(spec_yaml)) if spec_yaml is not None else (None, None)
    if spec_data is not None:
        check_against_spec(record, spec_data, str(run_json), str(spec_yaml))
    check_against_booster(record, facts, spec_data, str(run_json), str(spec_yaml))
    run = LoadedRun(
        run_dir=run_json.parent,
        record=record,
        run_json=raw.decode("utf-8"),
        run_sha256=hashlib.sha256(raw).hexdigest(),
        spec_yaml=spec_text,
        model_bytes=model_bytes,
        model_sha256=sha256,
        num_trees=facts.num_trees,
    )
    return model_name_of(run, name), run
