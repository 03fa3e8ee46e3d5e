"""Process-wide settings, applied explicitly by the programs that own the process.

Importing ``tessera_serving`` changes nothing global. The CLI and the HTTP server call
:func:`configure` once at start; a library user who embeds serving may call it too.
"""

from __future__ import annotations

import logging
from typing import TextIO

from tessera_serving.backends.threads import ensure_passive_omp_wait
from tessera_serving.scoring.events import LOGGER_NAME, configure_event_logging


def configure(*, event_stream: TextIO | None = None, event_level: int = logging.INFO) -> None:
    """Default OpenMP's wait policy to passive and send guard events to ``event_stream``.

    ``event_stream`` None leaves event logging as it is (library use); the CLI passes stderr.
    ``event_level`` above INFO keeps the per-batch ``reranker.applied`` lines quiet.
    """
    ensure_passive_omp_wait()
    if event_stream is not None:
        configure_event_logging(event_stream)
        logging.getLogger(LOGGER_NAME).setLevel(event_level)
