"""Shared fixtures for the contracts tests: valid documents and an independent fingerprint.

The documents' fingerprints come from ``reference_*`` below, a re-implementation of
DESIGN.md section 2 written from the text (hashlib + json), not from the package, so
every model test also cross-checks the package's fingerprints.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

Doc = dict[str, Any]


def _design_canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def reference_feature_schema_sha(families: Sequence[str]) -> str:
    """DESIGN.md: sha256(canonical_json({"feature_families": sorted(families)}))[:12]."""
    return hashlib.sha256(_design_canonical({"feature_families": sorted(families)})).hexdigest()[
        :12
    ]


def reference_schema_sha(schema: Mapping[str, Sequence[str]]) -> str:
    """DESIGN.md: sha256(canonical_json({"feature_schema": {f: sorted(cols)}}))[:12]."""
    canonical = {family: sorted(columns) for family, columns in schema.items()}
    return hashlib.sha256(_design_canonical({"feature_schema": canonical})).hexdigest()[:12]


BASE_SCHEMA: dict[str, list[str]] = {
    "knn": ["knn_score", "knn_votes"],
    "length": ["query_len", "len_ratio"],
}


def manifest_doc(schema: Mapping[str, Sequence[str]] | None = None) -> Doc:
    """A valid ``manifest.json`` document (plain JSON data) for ``schema``."""
    schema = {f: list(c) for f, c in (schema or BASE_SCHEMA).items()}
    return {
        "schema_version": 2,
        "name": "cafa5-go-bp",
        "created_at": "2024-07-01T12:00:00Z",
        "producer": {"name": "tessera-lab", "version": "0.1.0", "git_sha": "dddbf4e"},
        "snapshot_pairs": ["2024-01..2024-07", "2023-07..2024-01"],
        "categories": ["BPO", "CCO", "MFO"],
        "feature_schema": schema,
        "feature_schema_sha": reference_feature_schema_sha(list(schema)),
        "schema_sha": reference_schema_sha(schema),
        "label_kind": "binary",
        "has_weight": True,
        "files": {
            "train.parquet": {"sha256": "a" * 64, "rows": 1200, "bytes": 40960},
            "eval.parquet": {"sha256": "b" * 64, "rows": 300, "bytes": 10240},
        },
    }


def run_record_doc(schema: Mapping[str, Sequence[str]] | None = None) -> Doc:
    """A valid ``run.json`` document (plain JSON data) for ``schema``."""
    schema = {f: list(c) for f, c in (schema or BASE_SCHEMA).items()}
    names = [column for family in sorted(schema) for column in schema[family]][::-1]
    return {
        "run_format": 1,
        "name": "bp-pooled-2024",
        "cell": None,
        "created_at": "2024-07-02T08:30:00Z",
        "producer": {"name": "tessera-lab", "version": "0.1.0", "git_sha": "dddbf4e"},
        "dataset": {
            "name": "cafa5-go-bp",
            "manifest_sha256": "c" * 64,
            "schema_sha": reference_schema_sha(schema),
            "snapshot_pairs": ["2024-01..2024-07"],
            "train_rows": 1000,
            "valid_rows": 200,
            "eval_rows": 300,
        },
        "feature_families": sorted(schema),
        "feature_schema": schema,
        "feature_names": names,
        "feature_schema_sha": reference_feature_schema_sha(list(schema)),
        "schema_sha": reference_schema_sha(schema),
        "objective": "lambdarank",
        "model": {
            "file": "model.txt",
            "sha256": "d" * 64,
            "num_trees": 40,
            "best_iteration": 31,
            "lightgbm_version": "4.7.0",
        },
        "metrics": {
            "eval": {"ndcg@10": 0.61, "map": 0.42},
            "baseline": {"ndcg@10": 0.55, "map": 0.40},
            "per_category": {
                "BPO": {
                    "rows": 300,
                    "queries": 30,
                    "eval": {"ndcg@10": 0.61},
                    "baseline": {"ndcg@10": 0.55},
                }
            },
        },
        "tuning": None,
        "gate": {
            "metric": "ndcg@10",
            "min_lift": 0.01,
            "model_value": 0.61,
            "baseline_value": 0.55,
            "lift": 0.61 - 0.55,
            "verdict": "PROMOTE",
        },
        "smoke": False,
        "license": {"id": "CC-BY-4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
        "seed": 7,
        "duration_s": 12.5,
    }


@pytest.fixture
def manifest_data() -> Doc:
    """A fresh valid manifest document; tests mutate it."""
    return manifest_doc()


@pytest.fixture
def run_record_data() -> Doc:
    """A fresh valid run record document; tests mutate it."""
    return run_record_doc()


CONTROL_CHARS = "".join(chr(c) for c in [*range(0x20), 0x7F])

FAMILY_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
COLUMN_NAMES = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=CONTROL_CHARS),
    min_size=1,
    max_size=24,
)


@st.composite
def feature_schemas(draw: st.DrawFn, max_families: int = 4) -> dict[str, list[str]]:
    """Valid feature schemas: 1..max families, each with >= 1 column, columns unique overall."""
    families = draw(st.lists(FAMILY_NAMES, min_size=1, max_size=max_families, unique=True))
    columns = draw(
        st.lists(COLUMN_NAMES, min_size=len(families), max_size=len(families) * 3, unique=True)
    )
    owners = draw(
        st.lists(
            st.sampled_from(families),
            min_size=len(columns) - len(families),
            max_size=len(columns) - len(families),
        )
    )
    schema: dict[str, list[str]] = {family: [columns[i]] for i, family in enumerate(families)}
    for column, family in zip(columns[len(families) :], owners, strict=True):
        schema[family].append(column)
    return schema


class Kit:
    """Builders and the reference fingerprints, for hypothesis tests (session-scoped)."""

    feature_schemas = staticmethod(feature_schemas)
    manifest_doc = staticmethod(manifest_doc)
    run_record_doc = staticmethod(run_record_doc)
    feature_schema_sha: Callable[[Sequence[str]], str] = staticmethod(reference_feature_schema_sha)
    schema_sha: Callable[[Mapping[str, Sequence[str]]], str] = staticmethod(reference_schema_sha)

    @staticmethod
    def copy(doc: Doc) -> Doc:
        return copy.deepcopy(doc)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    """The builders, usable from ``@given`` tests (session scope, so hypothesis accepts it)."""
    return Kit
