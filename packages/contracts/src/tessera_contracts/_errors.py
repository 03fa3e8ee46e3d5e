"""The contracts' one error type.

``ContractError`` (a ``ValueError``) is raised for any input that breaks the contract:
a bad family or column name, a fingerprint that does not match its schema, or a
manifest / run record that does not validate. Its message is one line naming the
offending value and, when loading a file, the file and field.
"""

from __future__ import annotations


class ContractError(ValueError):
    """An input breaks the Tessera contract (see DESIGN.md section 2)."""
