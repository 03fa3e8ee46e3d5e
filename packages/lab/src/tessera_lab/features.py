"""Which feature columns a spec trains on: the active families' columns, by name, in a fixed order.

Order: families sorted by name, then each family's columns in the manifest's order. This
is the booster's feature order, recorded as ``feature_names`` in ``run.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera_contracts import ManifestV1
from tessera_lab.errors import SpecError


def select_feature_schema(
    manifest: ManifestV1, families: Sequence[str], source: str
) -> dict[str, list[str]]:
    """The active families' columns (family -> columns), families sorted.

    ``source`` names the spec file for the error when a family is not in the dataset.
    """
    unknown = sorted(set(families) - set(manifest.feature_schema))
    if unknown:
        raise SpecError(
            f"{source}: feature_families: unknown famil{'ies' if len(unknown) > 1 else 'y'} "
            f"{', '.join(map(repr, unknown))}: dataset {manifest.name!r} has "
            f"{sorted(manifest.feature_schema)}"
        )
    return {family: list(manifest.feature_schema[family]) for family in sorted(set(families))}


def feature_names(feature_schema: dict[str, list[str]]) -> list[str]:
    """The columns of a selected schema in booster order."""
    return [column for family in sorted(feature_schema) for column in feature_schema[family]]
