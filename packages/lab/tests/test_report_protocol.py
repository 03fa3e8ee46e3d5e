"""``report``: what a researcher reads — the protocol (validation, rounds, NDCG convention
and the queries it touches), per-feature gain, model and baseline per category with the
legend off the bars, one table across a per-category run set, and files that respect the
user's umask (real CLI subprocesses)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tessera_contracts import load_run_record
from tessera_lab.plots import category_figure, curve_figure
from tessera_lab.training import train_run

SpecFactory = Callable[..., Path]
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
CLI = Path(sys.executable).parent / "tessera-lab"


def test_report_says_how_the_numbers_were_made(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    newest = "2024-01..2024-07"
    spec = make_spec(
        graded_dataset,
        early_stopping={"rounds": 5, "metric": "ndcg@10"},
        validation={"snapshot_pairs": [newest]},
        evaluation={"ndcg": {"no_relevant": "zero"}},
    )
    runs = tmp_path / "runs"
    assert run_cli("train", spec, "--name", "r", "--runs-dir", runs).returncode == 0
    record = load_run_record(runs / "r" / "run.json")
    result = run_cli("report", runs / "r")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert record.validation is not None and record.evaluation is not None
    assert (
        f"validation snapshot pairs {newest} ({record.validation.rows} rows, "
        f"{record.validation.queries} queries); best iteration {record.model.best_iteration} "
        f"of {record.model.rounds} rounds"
    ) in text
    assert "ndcg: gain 2^label-1; queries without a relevant row score 0;" in text
    counts = record.evaluation.splits["eval"]
    assert f"eval {counts.queries} ({counts.no_relevant} without a relevant row; " in text
    assert "top 10 features by gain" in text
    first_feature = text.split("top 10 features by gain")[1].splitlines()[3].split()[0]
    assert first_feature in record.feature_names
    for png in ("importance_by_feature", "importance_by_family", "lift_by_category",
                "learning_curve"):  # fmt: skip
        assert (runs / "r" / "report" / f"{png}.png").is_file(), png


def test_report_on_a_per_category_run_set_has_one_table_across_cells(
    graded_dataset: Path, make_spec: SpecFactory, run_cli: CliRunner, tmp_path: Path
) -> None:
    spec = make_spec(graded_dataset, protocol={"cells": "per_category"})
    runs = tmp_path / "runs"
    assert run_cli("train", spec, "--name", "set", "--runs-dir", runs).returncode == 0
    cells = sorted(p for p in runs.iterdir() if p.name.startswith("set--"))
    result = run_cli("report", runs / "set")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"run set set: {len(cells)} cells"
    assert lines[1].split()[:4] == ["cell", "train", "rows", "valid"]
    for offset, cell in enumerate(cells):
        record = load_run_record(cell / "run.json")
        row = lines[3 + offset].split()
        assert row[0] == record.cell and row[-1] == record.gate.verdict
        assert row[-2] == f"{record.gate.lift:+.4f}"
        assert f"run {cell.name} (cell {record.cell})" in result.stdout
        assert (cell / "report" / "lift_by_category.png").is_file()
    missing = run_cli("report", runs / "nothing")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"tessera-lab: error: {runs / 'nothing'}: no run.json and no per-category runs "
        "nothing--<category> beside it (expected a run directory or the run name of a "
        "per_category spec)"
    )


def _legend_is_right_of_the_axes(fig: plt.Figure) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    [ax] = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    plt.close(fig)


def test_legends_never_cover_bars_or_curves(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    [run] = train_run(make_spec(graded_dataset), name="l", runs_dir=tmp_path / "runs",
                      quiet=True)  # fmt: skip
    record = load_run_record(run / "run.json")
    figure = category_figure(record)
    [ax] = figure.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["model", "base_score ordering"]
    bars = [b.get_width() for b in ax.patches]
    expected = [record.metrics.eval["ndcg@10"], record.metrics.baseline["ndcg@10"]]
    assert bars[len(bars) // 2 - 1] == pytest.approx(expected[0])  # "(all)" is drawn last
    assert bars[-1] == pytest.approx(expected[1])
    _legend_is_right_of_the_axes(figure)
    history = json.loads((run / "report" / "history.json").read_text("utf-8"))
    curve = curve_figure(history, record)
    assert curve is not None
    names = [t.get_text() for t in curve.axes[0].get_legend().get_texts()]
    assert names == ["train ndcg@10", "valid ndcg@10", "best iteration"]
    _legend_is_right_of_the_axes(curve)


@pytest.mark.parametrize(
    ("umask", "directory", "file"), [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)]
)
def test_run_directories_and_plots_respect_the_umask(
    graded_dataset: Path, make_spec: SpecFactory, tmp_path: Path,
    umask: int, directory: int, file: int,
) -> None:  # fmt: skip
    spec = make_spec(graded_dataset, num_boost_round=3)
    runs = tmp_path / "runs"
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    for args in (["train", spec, "--name", "u", "--runs-dir", runs], ["report", runs / "u"]):
        result = subprocess.run(
            ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", str(CLI), *map(str, args)],
            capture_output=True, text=True, env=env, check=False, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    run = runs / "u"
    paths = [run, *run.rglob("*")]
    assert {p.name for p in paths} >= {"model.txt", "report", "lift_by_category.png"}
    for path in paths:
        expected = directory if path.is_dir() else file
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
