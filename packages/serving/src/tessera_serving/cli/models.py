"""``tessera-serve models list|show``: registered model versions and their provenance."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import select

from tessera_serving.config import add_config_arguments, config_from_args
from tessera_serving.models_api import find_version, list_versions
from tessera_serving.registry import Promotion, RerankerModel, open_registry

_SHOW_FIELDS = (
    "id",
    "name",
    "version",
    "cell",
    "stage",
    "run_name",
    "run_sha256",
    "run_created_at",
    "registered_via",
    "producer_name",
    "producer_version",
    "producer_git_sha",
    "dataset_name",
    "dataset_manifest_sha256",
    "objective",
    "num_trees",
    "feature_families",
    "feature_schema",
    "feature_names",
    "feature_schema_sha",
    "schema_sha_v2",
    "metrics",
    "gate",
    "gate_verdict",
    "smoke",
    "license_id",
    "license_url",
    "artifact_uri",
    "artifact_sha256",
    "created_at",
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="list registered models or show one version")
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per model version")
    listing.add_argument("name", nargs="?", help="only this model name")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    add_config_arguments(listing)
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="every row of one version, with provenance (JSON)")
    show.add_argument("ref", metavar="NAME[@stage|#VERSION]")
    show.add_argument("--full", action="store_true", help="include run.json and spec.yaml text")
    add_config_arguments(show)
    show.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    with open_registry(config_from_args(args)) as registry:
        versions = list_versions(registry, args.name)
    for v in versions:
        cells = ",".join(c for c in v.cells if c is not None) or "pooled"
        if args.json:
            record = {
                "name": v.name,
                "version": v.version,
                "cells": list(v.cells),
                "stage": v.stage,
                "gate_verdict": v.gate_verdict,
                "smoke": v.smoke,
                "schema_sha_v2": v.schema_sha_v2,
                "created_at": v.created_at.isoformat(),
            }
            print(json.dumps(record, sort_keys=True))
        else:
            print(
                f"{v.name}#{v.version}\t{v.stage}\t{v.gate_verdict}\t"
                f"{'smoke' if v.smoke else 'full'}\t{v.schema_sha_v2 or '-'}\t{cells}"
            )
    if not versions and not args.json:
        print("no models registered")
    return 0


def _plain(row: RerankerModel, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in _SHOW_FIELDS:
        value = getattr(row, field)
        out[field] = value.isoformat() if hasattr(value, "isoformat") else value
    if full:
        out["run_json"] = row.run_json
        out["spec_yaml"] = row.spec_yaml
    return out


def _show(args: argparse.Namespace) -> int:
    with (
        open_registry(config_from_args(args)) as registry,
        registry.transaction(readonly=True) as session,
    ):
        name, version = find_version(session, args.ref)
        rows = session.scalars(
            select(RerankerModel)
            .where(RerankerModel.name == name, RerankerModel.version == version)
            .order_by(RerankerModel.cell_key)
        ).all()
        history = session.scalars(
            select(Promotion)
            .where(Promotion.model_name == name, Promotion.version == version)
            .order_by(Promotion.id)
        ).all()
        document = {
            "name": name,
            "version": version,
            "stage": rows[0].stage,
            "rows": [_plain(row, args.full) for row in rows],
            "promotions": [
                {
                    "from": p.from_stage,
                    "to": p.to_stage,
                    "reason": p.reason,
                    "at": p.created_at.isoformat(),
                }
                for p in history
            ],
        }
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0
