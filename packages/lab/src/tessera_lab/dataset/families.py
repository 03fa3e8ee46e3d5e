"""Feature-family mappings for imports: a YAML file ``family: [column, ...]``.

Imported data rarely knows its families; the mapping names them. Without one,
every feature column goes to the single family ``features``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tessera_contracts import ContractError, compute_schema_sha
from tessera_lab.errors import DatasetError
from tessera_lab.yaml_files import load_yaml_file

DEFAULT_FAMILY = "features"


def load_family_mapping(path: str | Path) -> dict[str, list[str]]:
    """Parse and check a family mapping YAML; errors name the file and the family."""
    source = Path(path)
    data = load_yaml_file(source, what="family mapping", error=DatasetError)
    if not isinstance(data, dict) or not data:
        raise DatasetError(
            f"{source}: expected a non-empty mapping 'family: [column, ...]', "
            f"found {type(data).__name__}"
        )
    mapping: dict[str, list[str]] = {}
    for family, columns in data.items():
        if not isinstance(columns, list) or not columns:
            raise DatasetError(
                f"{source}: family {family!r}: expected a non-empty list of column names, "
                f"found {columns!r}"
            )
        bad = [c for c in columns if not isinstance(c, str)]
        if bad:
            raise DatasetError(
                f"{source}: family {family!r}: column {bad[0]!r} is not a string "
                "(quote it in the YAML)"
            )
        mapping[str(family)] = list(columns)
    try:
        compute_schema_sha(mapping)
    except ContractError as exc:
        raise DatasetError(f"{source}: {exc}") from exc
    return mapping


def resolve_families(
    available: Sequence[str],
    mapping: Mapping[str, Sequence[str]] | None,
    *,
    source: str,
    drop_unmapped: bool = False,
) -> dict[str, list[str]]:
    """The feature schema for ``available`` feature columns under ``mapping``.

    Every mapped column must exist; an available column left unmapped is an error
    unless ``drop_unmapped`` (then it is not imported).
    """
    if mapping is None:
        if not available:
            raise DatasetError(f"{source}: no feature columns to import")
        return {DEFAULT_FAMILY: list(available)}
    known = set(available)
    for family, columns in mapping.items():
        for column in columns:
            if column not in known:
                raise DatasetError(
                    f"{source}: family {family!r} maps column {column!r}, which the input "
                    "does not have"
                )
    mapped = {c for columns in mapping.values() for c in columns}
    unmapped = [c for c in available if c not in mapped]
    if unmapped and not drop_unmapped:
        raise DatasetError(
            f"{source}: {len(unmapped)} feature column(s) are in no family, first "
            f"{unmapped[0]!r}; map them or drop unmapped columns"
        ).fixed_by("drop_unmapped")
    return {family: list(columns) for family, columns in mapping.items()}
