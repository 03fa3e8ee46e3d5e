"""``report_run``: the metrics table and the plots, including the tuning history."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from tessera_lab.progress import Progress
from tessera_lab.report import report_run
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_report_of_a_tuned_per_category_run(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    search = {
        "space": {"num_leaves": {"type": "int", "low": 4, "high": 16}},
        "n_trials": 3,
        "pruner": {"type": "none"},
    }
    spec = make_spec(graded_dataset, search=search, protocol={"cells": "per_category"})
    runs = train_run(spec, name="rep", runs_dir=tmp_path / "runs", quiet=True)
    table, paths = report_run(runs[0])
    category = runs[0].name.split("--")[1]
    assert table.splitlines()[0] == f"run {runs[0].name} (cell {category})"
    assert "tuning " in table and "3 trials" in table
    assert "per category (ndcg@10)" in table
    names = sorted(p.name for p in paths)
    assert names == [
        "importance_by_family.png",
        "importance_by_feature.png",
        "learning_curve.png",
        "lift_by_category.png",
        "tuning_history.png",
    ]
    for path in paths:
        assert path.parent == runs[0] / "report"
        assert path.read_bytes()[:8] == PNG_MAGIC
    table_only, none = report_run(runs[1], plots=False)
    assert none == [] and "metric" in table_only


def test_progress_on_a_terminal() -> None:
    terminal = Terminal()
    progress = Progress(stream=terminal, interval=0.0)
    progress.round("train", 3, 10, "ndcg@10", 0.5, (2, 0.6))
    progress.trial(0, 4, "complete", 0.61)
    progress.done()
    text = terminal.getvalue()
    assert "round 3/10" in text and "valid ndcg@10 0.50000 (best 0.60000 @ 2)" in text
    assert "trial 1/4 complete  best 0.61000" in text
    silent = Progress(stream=Terminal(), quiet=True, interval=0.0)
    silent.round("train", 1, 1, None, None, None)
    silent.message("hello")
    assert silent.stream.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_off_a_terminal_writes_log_lines() -> None:
    log = io.StringIO()
    progress = Progress(stream=log, log_interval=3600.0)
    for i in range(1, 40):
        progress.round("train", i, 50, "auc", 0.5 + i / 100, (i, 0.5 + i / 100))
    progress.done()
    progress.trial(0, 4, "pruned", None, "study")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    # Rounds inside the interval are held back; done() writes the latest.
    assert lines == [
        "train: round 39/50  valid auc 0.89000 (best 0.89000 @ 39)",
        "study: trial 1/4 pruned  best -",
    ]
    quiet = io.StringIO()
    Progress(stream=quiet, quiet=True, log_interval=0.0).round("train", 1, 1, None, None, None)
    assert quiet.getvalue() == ""


def test_progress_throttles_but_shows_the_last_update() -> None:
    terminal = Terminal()
    progress = Progress(stream=terminal, interval=3600.0)
    progress.round("train", 1, 50, "auc", 0.7, (1, 0.7))
    progress.round("train", 2, 50, "auc", 0.8, (2, 0.8))  # throttled
    assert "round 2/50" not in terminal.getvalue()
    progress.done()
    assert terminal.getvalue().rstrip().endswith("round 2/50  valid auc 0.80000 (best 0.80000 @ 2)")
