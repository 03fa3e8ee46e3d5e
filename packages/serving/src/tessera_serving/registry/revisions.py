"""The shipped migration revisions as constants, so checking a database needs no Alembic.

Importing Alembic and parsing the scripts costs ~0.2 CPU-s; every command checks the
revision, only ``db upgrade`` migrates. A test keeps these equal to the scripts' chain:
a new script under ``migrations/versions/`` must be appended here (and becomes the head).
"""

from __future__ import annotations

REVISIONS: tuple[str, ...] = (
    "0001_initial",
    "0002_schema_sha_v2",
    "0003_scoring",
    "0004_receipts",
    "0005_job_liveness",
    "0006_scale_out",
)
"""Every shipped revision, oldest first."""

HEAD_REVISION = REVISIONS[-1]
"""The revision a database must be at for this code to use it."""
