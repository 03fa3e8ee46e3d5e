"""The HTTP service's settings, read from the same environment as the CLI.

=========================================  ==========================================  ============
setting                                    environment variable                        default
=========================================  ==========================================  ============
registry, store, state directory           ``TESSERA_HOME`` etc. (``ServingConfig``)   as the CLI
sha256 digests of the bearer tokens        ``TESSERA_API_TOKENS_FILE``                 none: every
                                                                                       POST refused
read routes need a token too               ``TESSERA_API_READ_AUTH`` (``1``)           open reads
request body limit, bytes                  ``TESSERA_API_MAX_BODY_BYTES``              64 MiB
model names served by ``/v1/score``        ``TESSERA_API_MODELS`` (comma-separated)    every name
                                                                                       in production
scoring backend                            ``TESSERA_API_BACKEND``                     auto
job worker threads                         ``TESSERA_API_JOB_WORKERS``                 2
pause between rescore pages, seconds       ``TESSERA_API_RESCORE_PACE_S``              0.05
request-record flush interval, seconds     ``TESSERA_API_RECORD_FLUSH_S``              0.2
=========================================  ==========================================  ============

Scoring threads follow serving's one thread policy (``TESSERA_NUM_THREADS``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tessera_serving.config import ServingConfig
from tessera_serving.errors import ServingError

TOKENS_FILE_ENV = "TESSERA_API_TOKENS_FILE"
READ_AUTH_ENV = "TESSERA_API_READ_AUTH"
MAX_BODY_ENV = "TESSERA_API_MAX_BODY_BYTES"
MODELS_ENV = "TESSERA_API_MODELS"
BACKEND_ENV = "TESSERA_API_BACKEND"
JOB_WORKERS_ENV = "TESSERA_API_JOB_WORKERS"
RESCORE_PACE_ENV = "TESSERA_API_RESCORE_PACE_S"
RECORD_FLUSH_ENV = "TESSERA_API_RECORD_FLUSH_S"
DEFAULT_MAX_BODY = 64 * 1024 * 1024
BACKENDS = ("auto", "lightgbm", "compiled")


class SettingsError(ServingError, ValueError):
    """An HTTP setting in the environment is malformed; the message names the variable."""


@dataclass(frozen=True)
class HttpSettings:
    """Everything the HTTP service reads from its environment."""

    serving: ServingConfig
    token_digests: frozenset[str]
    tokens_file: Path | None
    read_auth: bool
    max_body_bytes: int
    models: tuple[str, ...] | None
    backend: str
    job_workers: int
    rescore_pace_s: float
    record_flush_s: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """Resolve every setting from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        tokens_file = env.get(TOKENS_FILE_ENV) or None
        models = [m.strip() for m in env.get(MODELS_ENV, "").split(",") if m.strip()]
        backend = env.get(BACKEND_ENV, "auto")
        if backend not in BACKENDS:
            raise SettingsError(f"{BACKEND_ENV}={backend!r}: expected one of {list(BACKENDS)}")
        return cls(
            serving=ServingConfig.from_env(environ=env),
            token_digests=read_token_digests(Path(tokens_file)) if tokens_file else frozenset(),
            tokens_file=Path(tokens_file) if tokens_file else None,
            read_auth=_flag(env, READ_AUTH_ENV),
            max_body_bytes=int(_number(env, MAX_BODY_ENV, int, DEFAULT_MAX_BODY) or 0),
            models=tuple(models) if models else None,
            backend=backend,
            job_workers=int(_number(env, JOB_WORKERS_ENV, int, 2) or 0),
            rescore_pace_s=float(_number(env, RESCORE_PACE_ENV, float, 0.05) or 0.0),
            record_flush_s=float(_number(env, RECORD_FLUSH_ENV, float, 0.2) or 0.0),
        )


def read_token_digests(path: Path) -> frozenset[str]:
    """The sha256 hex digests in ``path``, one a line (blank lines and ``#`` comments skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"{TOKENS_FILE_ENV}: cannot read {path}: {exc.strerror or exc}"
        ) from exc
    digests = set()
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip().lower()
        if not value or value.startswith("#"):
            continue
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise SettingsError(
                f"{path} line {number}: expected the sha256 hex digest of a token "
                "(64 hex characters), found something else; store digests, never tokens"
            )
        digests.add(value)
    return frozenset(digests)


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name}={value!r}: expected 1 or 0")


def _number(
    env: Mapping[str, str], name: str, kind: type[int] | type[float], default: float | None
) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a {kind.__name__}") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r}: expected a number >= 0")
    return value
