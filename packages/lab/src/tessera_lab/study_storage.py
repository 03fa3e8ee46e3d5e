"""Where an Optuna study lives: a journal file (one machine) or an RDB URL (several).

``journal:<path>`` opens Optuna's JournalStorage; any other URL is an RDB storage with
Optuna's heartbeat, so a trial whose worker died is failed and run again. Database
passwords never reach output (``shown_url``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from tessera_lab.errors import SpecError, TrainingError

JOURNAL_SCHEME = "journal:"
HEARTBEAT_S = 10
"""Database storages: a running trial's heartbeat; stale after ``HEARTBEAT_GRACE_S``."""
HEARTBEAT_GRACE_S = 60


def shown_url(url: str) -> str:
    """The storage URL as recorded and printed: a database password is masked."""
    if url.startswith(JOURNAL_SCHEME) or "://" not in url:
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """``journal:<path>`` opens a JournalFileBackend; anything else is an Optuna RDB URL."""
    if url.startswith(JOURNAL_SCHEME):
        path = Path(url[len(JOURNAL_SCHEME) :].removeprefix("//"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in url:
        raise SpecError(
            f"search.storage: {url!r} is not a storage URL (expected journal:<path> or an "
            "RDB URL such as sqlite:///study.db or postgresql+psycopg://...)"
        )
    try:
        return _rdb_storage(url)
    except ImportError as exc:
        raise TrainingError(
            f"search.storage: {shown_url(url)}: its database driver is not installed "
            f"({exc}); install it or name an installed driver (postgresql+psycopg://...)"
        ) from None
    except Exception as exc:  # SQLAlchemy, the driver and the network each raise their own
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainingError(
            f"search.storage: cannot open the Optuna storage {shown_url(url)}: {first}"
        ) from None


def _rdb_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage with its heartbeat; retried while other workers create tables.

    Workers that start together on an empty database all create Optuna's tables; the
    losers of that race see a duplicate-key or duplicate-table error, and on a retry
    find the tables made.
    """
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # the heartbeat is marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_S, grace_period=HEARTBEAT_GRACE_S
                )
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
