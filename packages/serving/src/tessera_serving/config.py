"""Where serving keeps its state: the registry database URL and the artifact store URL.

Resolved in this order: explicit overrides (CLI flags), then environment variables, then
defaults under the state directory.

=========================  ==========================================  ==========================
setting                    environment variable                        default
=========================  ==========================================  ==========================
state directory            ``TESSERA_HOME``                            ``./.tessera`` (in the CWD)
registry database URL      ``TESSERA_DATABASE_URL``                    ``sqlite:///<state>/registry.db``
artifact store URL         ``TESSERA_ARTIFACTS_URL``                   ``<state>/artifacts``
=========================  ==========================================  ==========================

A plain path (or ``file://`` URL) selects the local artifact store; any other fsspec URL
(``memory://...``, ``s3://...``) selects the fsspec store. PostgreSQL is selected by a URL
such as ``postgresql+psycopg://user@host:5432/db``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "TESSERA_HOME"
DATABASE_URL_ENV = "TESSERA_DATABASE_URL"
ARTIFACTS_URL_ENV = "TESSERA_ARTIFACTS_URL"
DEFAULT_HOME = ".tessera"


@dataclass(frozen=True)
class ServingConfig:
    """Resolved serving locations; build with :meth:`from_env`."""

    state_dir: Path
    database_url: str
    artifacts_url: str

    @classmethod
    def from_env(
        cls,
        *,
        state_dir: str | Path | None = None,
        database_url: str | None = None,
        artifacts_url: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ServingConfig:
        """Resolve overrides (``None`` = not given), then the environment, then defaults."""
        env = os.environ if environ is None else environ
        home = state_dir if state_dir is not None else env.get(HOME_ENV) or DEFAULT_HOME
        home_path = Path(home).expanduser().absolute()
        db = database_url or env.get(DATABASE_URL_ENV) or f"sqlite:///{home_path / 'registry.db'}"
        artifacts = artifacts_url or env.get(ARTIFACTS_URL_ENV) or str(home_path / "artifacts")
        return cls(state_dir=home_path, database_url=db, artifacts_url=artifacts)

    def describe(self) -> str:
        """One line for logs and error messages (no passwords)."""
        return f"registry {redact_url(self.database_url)}, artifacts {self.artifacts_url}"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    creds, _, host = rest.partition("@")
    user, has_password, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if has_password else ''}@{host}"
