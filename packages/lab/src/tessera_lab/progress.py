"""Progress on stderr for long lab work: boosting rounds, tuning trials, the best trial.

On a terminal one status line is rewritten in place (at most every ``interval`` seconds).
Elsewhere (logs, CI, a pipe) whole lines are written instead: a round at most every
``log_interval`` seconds plus the last one, and every trial. ``quiet`` silences all of it.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tessera_contracts import TuningSummary

LOG_INTERVAL_S = 5.0
"""Seconds between round lines when stderr is not a terminal."""


class Progress:
    """Status of the work in progress, as a line rewritten in place or as log lines."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 0.2,
        log_interval: float = LOG_INTERVAL_S,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet
        self.live = self.enabled and self.stream.isatty()
        self.interval = interval if self.live else log_interval
        self._last = time.monotonic() if not self.live else 0.0
        self._open = False
        self._pending: str | None = None

    def _show(self, text: str, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            self._pending = text  # shown by done() if nothing newer comes
            return
        self._last = now
        self._pending = None
        if self.live:
            self.stream.write(f"\r\x1b[K{text}")
            self._open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def round(
        self, label: str, iteration: int, total: int, metric: str | None, value: float | None,
        best: tuple[int, float] | None,
    ) -> None:  # fmt: skip
        """Boosting round ``iteration`` of ``total`` with the current validation metric."""
        text = f"{label}: round {iteration}/{total}"
        if metric is not None and value is not None:
            text += f"  valid {metric} {value:.5f}"
        if best is not None:
            text += f" (best {best[1]:.5f} @ {best[0]})"
        self._show(text, force=iteration == total)

    def trial(
        self, number: int, total: int, state: str, best: float | None, label: str = ""
    ) -> None:
        """A finished tuning trial and the best value so far."""
        best_text = "-" if best is None else f"{best:.5f}"
        prefix = f"{label}: " if label else ""
        self._show(f"{prefix}trial {number + 1}/{total} {state}  best {best_text}", force=True)

    def best(self, summary: TuningSummary) -> None:
        """The study's best trial and its parameters (the line a tuning run ends with)."""
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(summary.best_params.items()))
        self.message(
            f"best parameters of study {summary.study_name} (trial {summary.best_trial} of "
            f"{summary.n_trials}, {summary.metric} {summary.best_value:.5f}): {params}"
        )

    def message(self, text: str) -> None:
        """A line of its own (closes the status line first)."""
        if not self.enabled:
            return
        self.done()
        self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End the status line (showing the last throttled update first)."""
        if self._pending is not None:
            self._show(self._pending, force=True)
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
