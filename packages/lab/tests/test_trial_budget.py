"""The trial budget on a real Optuna journal: places, surplus trials, dead owners."""

from __future__ import annotations

import logging
import socket
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tessera_lab.trial_budget import (
    OWNER_ATTR,
    SURPLUS_ATTR,
    SurplusTrial,
    claim,
    fail_dead_trials,
    hide_surplus_failures,
    used,
    worker_id,
)


def journal_study(path: Path) -> optuna.Study:
    return optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))))


def dead_owner() -> str:
    """The owner name of a process of this host that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return f"{socket.gethostname()}/{child.pid}/0"


def test_running_trials_take_places_and_the_next_one_is_surplus(tmp_path: Path) -> None:
    study = journal_study(tmp_path / "j")
    first, second = study.ask(), study.ask()
    claim(first, 2)
    claim(second, 2)
    assert used(study) == 2  # both running, both alive
    third = study.ask()
    with pytest.raises(SurplusTrial):
        claim(third, 2)
    assert study.trials[third.number].user_attrs[SURPLUS_ATTR] is True
    study.tell(first, 0.5)
    study.tell(second, state=TrialState.PRUNED)
    assert used(study, below=third.number) == 2 and used(study) == 3


def test_a_dead_owners_trial_frees_its_place(tmp_path: Path) -> None:
    study = journal_study(tmp_path / "j")
    zombie, live = study.ask(), study.ask()
    zombie.set_user_attr(OWNER_ATTR, dead_owner())
    claim(live, 2)
    assert used(study) == 1  # the zombie does not count
    assert fail_dead_trials(study) == 1
    assert study.trials[zombie.number].state == TrialState.FAIL
    assert study.trials[live.number].state == TrialState.RUNNING
    assert study.trials[live.number].user_attrs[OWNER_ATTR] == worker_id()
    claim(study.ask(), 2)  # the freed place is taken again, within budget


def test_an_owner_on_another_host_is_trusted(tmp_path: Path) -> None:
    study = journal_study(tmp_path / "j")
    remote = study.ask()
    remote.set_user_attr(OWNER_ATTR, f"not-{socket.gethostname()}/1/0")
    assert used(study) == 1 and fail_dead_trials(study) == 0


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize("hide", [False, True])
def test_surplus_trials_are_not_reported_as_failures(tmp_path: Path, hide: bool) -> None:
    study = journal_study(tmp_path / "j")
    records = _Records()
    logger = logging.getLogger("optuna.study._optimize")
    logger.addHandler(records)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with hide_surplus_failures() as hidden:

            def objective(trial: optuna.Trial) -> float:
                try:
                    claim(trial, 0)
                except SurplusTrial:
                    if hide:
                        hidden.numbers.add(trial.number)
                    raise
                return 0.0

            study.optimize(objective, n_trials=1, catch=(SurplusTrial,))
    finally:
        logger.removeHandler(records)
    assert study.trials[0].state == TrialState.FAIL
    failed = [m for m in records.messages if m.startswith("Trial 0 failed")]
    assert failed == [] if hide else failed


def test_a_trial_that_never_got_an_owner_is_abandoned_after_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = journal_study(tmp_path / "j")
    orphan = study.ask()  # its process died before claiming it
    assert used(study) == 1 and fail_dead_trials(study) == 0  # within the grace: alive
    monkeypatch.setattr("tessera_lab.trial_budget.CLAIM_GRACE_S", 0.0)
    assert used(study) == 0 and fail_dead_trials(study) == 1
    assert study.trials[orphan.number].state == TrialState.FAIL
