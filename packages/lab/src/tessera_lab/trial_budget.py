"""Exactly ``n_trials`` trials per study, however many processes share it.

Optuna numbers a study's trials in creation order, atomically, in every storage. A trial
is within budget when fewer than ``n_trials`` trials numbered below it are complete,
pruned, or running in a live process; otherwise it is surplus: it fails at once, before
any training, and its process stops. Counting the running trials closes the window in
which several processes each start "one more" trial (Optuna's ``MaxTrialsCallback`` on
finished trials alone lets each of them overshoot by one).

A process that dies (kill -9) leaves its trial RUNNING. Each trial records its owner
(host, pid and the process start time); a running trial whose owner on this host is gone,
or that got no owner within ``CLAIM_GRACE_S``, is failed, so a resumed study fills its
place. Owners on other hosts are trusted to be
alive; for database storages Optuna's heartbeat fails their stale trials.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

OWNER_ATTR = "tessera_worker"
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
SURPLUS_ATTR = "tessera_surplus"
CLAIM_GRACE_S = 30.0
"""How long a new trial may run without an owner before it counts as abandoned."""


class SurplusTrial(Exception):
    """A trial beyond the study's budget: failed before it trains."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), after "pid (comm)"


@cache
def worker_id() -> str:
    """This process as ``host/pid/start``: a pid reused by a later process does not match."""
    return f"{socket.gethostname()}/{os.getpid()}/{_process_start(os.getpid())}"


def owner_alive(trial: FrozenTrial) -> bool:
    """False only when the trial's owner ran on this host and that process is gone."""
    owner = trial.user_attrs.get(OWNER_ATTR)
    if not isinstance(owner, str) or owner.count("/") != 2:
        # Created, owner not written yet (the sampler runs in between): alive for a while;
        # a process killed in that gap leaves a trial that never gets an owner.
        started = trial.datetime_start
        if started is None:
            return True
        age = datetime.now(started.tzinfo) - started  # journal: UTC-aware; RDB: naive local
        return age.total_seconds() < CLAIM_GRACE_S
    host, pid, start = owner.split("/")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return _process_start(int(pid)) == start


def counts(trial: FrozenTrial) -> bool:
    """Whether the trial takes a place in the budget (finished, or running and alive)."""
    if trial.state == TrialState.RUNNING:
        return owner_alive(trial)
    return trial.state in COUNTED


def used(study: optuna.Study, below: int | None = None) -> int:
    """Places taken in the budget (by trials numbered below ``below``, if given)."""
    trials = study.get_trials(deepcopy=False, states=COUNTED)
    return sum(1 for t in trials if (below is None or t.number < below) and counts(t))


def fail_dead_trials(study: optuna.Study) -> int:
    """Fail the running trials of dead processes on this host; return how many."""
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not owner_alive(trial):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed += 1
    return failed


def claim(trial: optuna.Trial, n_trials: int) -> None:
    """Record this process as the trial's owner; raise ``SurplusTrial`` if over budget."""
    trial.set_user_attr(OWNER_ATTR, worker_id())
    if used(trial.study, below=trial.number) >= n_trials:
        trial.set_user_attr(SURPLUS_ATTR, True)  # stop_when_full then stops this process
        raise SurplusTrial(f"trial {trial.number}: the study already has {n_trials} trials")


def stop_when_full(n_trials: int) -> optuna.study.MaxTrialsCallback:
    """Stop this process once the budget's places are all taken (finished or running)."""
    return optuna.study.MaxTrialsCallback(n_trials, states=COUNTED)


def wait_for_others(study: optuna.Study, poll_s: float = 0.5) -> None:
    """Wait until no live process still runs a trial of the study (so its best is final)."""
    while True:
        fail_dead_trials(study)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not any(owner_alive(t) and not t.user_attrs.get(SURPLUS_ATTR) for t in running):
            return
        time.sleep(poll_s)


class SurplusFailures(logging.Filter):
    """Drops Optuna's "Trial N failed" log lines of this process's surplus trials."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "SurplusTrial" in message:
            return False
        return not any(message.startswith(f"Trial {n} failed") for n in self.numbers)


@contextmanager
def hide_surplus_failures() -> Iterator[SurplusFailures]:
    """For the block, Optuna does not report surplus trials as failures (they are expected)."""
    logger = logging.getLogger("optuna.study._optimize")
    hidden = SurplusFailures()
    logger.addFilter(hidden)
    try:
        yield hidden
    finally:
        logger.removeFilter(hidden)
