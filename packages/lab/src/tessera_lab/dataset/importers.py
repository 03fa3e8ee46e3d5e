"""``import_dataset``: bring LibSVM/LETOR text or Parquet/CSV tables into the contract layout.

Picks the importer by format: ``text_import`` for LibSVM/dense text (see ``libsvm``
for the text conventions) and ``table_import`` for named-column tables (see
``tabular``). Category and snapshot pair are constants (defaults ``all`` and
``static``) or columns; families come from a YAML mapping or default to one family
``features``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tessera_contracts import ManifestV1
from tessera_lab.errors import DatasetError

from .checks import one_line
from .table_import import TABLE_FORMATS, import_table
from .tabular import ColumnMap
from .text_import import TEXT_FORMATS, import_text

__all__ = [
    "TABLE_FORMATS",
    "TEXT_FORMATS",
    "detect_format",
    "import_dataset",
    "import_table",
    "import_text",
]


def detect_format(path: str | Path) -> str:
    """``parquet``/``csv``/``tsv`` by suffix; otherwise text: ``libsvm`` if the first data
    line has ``index:value`` tokens, else ``dense`` (headerless, label first)."""
    suffix = Path(path).suffix.lower()
    table = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}.get(suffix)
    if table is not None:
        return table
    try:
        with Path(path).open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.split("#", 1)[0].strip()), "")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {one_line(exc)}") from exc
    tokens = first.split("#", 1)[0].replace(",", " ").split()
    return "libsvm" if len(tokens) < 2 or ":" in tokens[1] or ":" in tokens[-1] else "dense"


def import_dataset(
    out_dir: str | Path,
    *,
    train: str | Path,
    eval: str | Path,
    format: str = "auto",
    columns: ColumnMap | None = None,
    **options: Any,
) -> ManifestV1:
    """Import ``train`` and ``eval`` files; ``format`` is auto (by suffix), libsvm or a table.

    Tables need ``columns`` (at least the query and label columns); the remaining
    keyword options are those of ``import_libsvm`` / ``import_table``.
    """
    fmt = detect_format(train) if format == "auto" else format
    if fmt in TEXT_FORMATS:
        if columns is not None:
            raise DatasetError(f"{train}: named columns do not apply to LibSVM text input")
        return import_text(out_dir, train=train, eval=eval, text_format=fmt, **options)
    if fmt not in TABLE_FORMATS:
        raise DatasetError(
            f"unknown import format {fmt!r}: expected auto, libsvm, dense, parquet, csv or tsv"
        )
    if columns is None:
        raise DatasetError(
            f"{train}: table input needs a query column and a label column"
        ).fixed_by("query_col", "label_col")
    return import_table(out_dir, train=train, eval=eval, columns=columns, **options)
