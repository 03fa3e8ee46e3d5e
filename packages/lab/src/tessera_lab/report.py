"""``report_run``: a run's metrics as a text table and plots under ``runs/<name>/report/``.

Plots (matplotlib, PNG; ``tessera_lab.configure`` picks the headless Agg backend): gain
importance per feature family, lift over the ``base_score`` ordering per category, the
validation learning curve (from ``report/history.json``), and the tuning history when there
was a study (``report/study.json``). Registration ignores ``report/``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from tessera_contracts import RunRecord
from tessera_lab.runs import HISTORY_FILE, REPORT_DIR, STUDY_FILE, load_run


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


def _metric_order(name: str) -> tuple[str, int]:
    base, _, cutoff = name.partition("@")
    return base, int(cutoff or 0)


def metrics_table(record: RunRecord) -> str:
    """Header lines, model vs baseline for every metric, then the gate metric per category."""
    gate, metrics = record.gate, record.metrics
    lines = [
        f"run {record.name}" + (f" (cell {record.cell})" if record.cell else ""),
        f"dataset {record.dataset.name}: train {record.dataset.train_rows}, valid "
        f"{record.dataset.valid_rows}, eval {record.dataset.eval_rows} rows",
        f"{record.objective}, {record.model.num_trees} trees, smoke={str(record.smoke).lower()}",
        f"gate {gate.metric}: lift {gate.lift:+.4f} (min {gate.min_lift:+.4f}) -> {gate.verdict}",
    ]
    if record.tuning is not None:
        t = record.tuning
        lines.append(
            f"tuning {t.study_name}: {t.n_trials} trials ({t.n_pruned} pruned), best "
            f"{t.metric} {t.best_value:.4f} at trial {t.best_trial}"
        )
    rows = [
        [name, f"{metrics.eval[name]:.4f}", f"{metrics.baseline[name]:.4f}",
         f"{metrics.eval[name] - metrics.baseline[name]:+.4f}"]
        for name in sorted(metrics.eval, key=_metric_order)
    ]  # fmt: skip
    lines += ["", _table(["metric", "model", "baseline", "lift"], rows)]
    per = []
    for category, cm in sorted(metrics.per_category.items()):
        if gate.metric in cm.eval:
            model, base = cm.eval[gate.metric], cm.baseline[gate.metric]
            per.append([category, str(cm.rows), str(cm.queries), f"{model:.4f}", f"{base:.4f}",
                        f"{model - base:+.4f}"])  # fmt: skip
    if per:
        headers = ["category", "rows", "queries", "model", "baseline", "lift"]
        lines += ["", f"per category ({gate.metric})", _table(headers, per)]
    return "\n".join(lines)


def _save(fig: Figure, path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", metadata={"Software": None})
        Path(tmp).replace(path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path


def _importance(run_dir: Path, record: RunRecord, out: Path) -> Path:
    booster = lgb.Booster(model_file=str(run_dir / record.model.file))
    gains = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    families = {
        f: sum(gains.get(c, 0.0) for c in cols) for f, cols in record.feature_schema.items()
    }
    total = sum(families.values()) or 1.0
    names = sorted(families, key=lambda f: families[f])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names, [100 * families[f] / total for f in names], color="#4c72b0")
    ax.set_xlabel("share of total gain (%)")
    ax.set_title(f"{record.name}: gain importance per feature family")
    return _save(fig, out / "importance_by_family.png")


def _lift(record: RunRecord, out: Path) -> Path:
    metric = record.gate.metric
    triples = [("(all)", record.metrics.eval, record.metrics.baseline)] + [
        (c, m.eval, m.baseline) for c, m in sorted(record.metrics.per_category.items())
    ]
    labels = [c for c, e, _ in triples if metric in e]
    values = [e[metric] - b[metric] for _, e, b in triples if metric in e]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(labels) + 1.5))
    colors = ["#55a868" if v >= record.gate.min_lift else "#c44e52" for v in values]
    ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    ax.axvline(record.gate.min_lift, color="black", linestyle="--", linewidth=1, label="min_lift")
    ax.set_xlabel(f"{metric}: model - base_score ordering (eval)")
    ax.set_title(f"{record.name}: lift per category (gate {record.gate.verdict})")
    ax.legend(loc="best")
    return _save(fig, out / "lift_by_category.png")


def _learning_curve(history: dict[str, Any], record: RunRecord, out: Path) -> Path | None:
    curves: dict[str, list[float]] = history.get("curves") or {}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label)
    ax.axvline(history["best_iteration"], color="gray", linestyle="--", label="best iteration")
    ax.set_xlabel("boosting round")
    ax.set_ylabel(str(history.get("metric")))
    ax.set_title(f"{record.name}: learning curve (validation split carved from train)")
    ax.legend(loc="best")
    return _save(fig, out / "learning_curve.png")


def _tuning(study: dict[str, Any], record: RunRecord, out: Path) -> Path:
    trials = study["trials"]
    summary = study["summary"]
    maximize = summary["direction"] == "maximize"
    fig, ax = plt.subplots(figsize=(7, 4))
    done = [t for t in trials if t["state"] == "COMPLETE"]
    pruned = [t for t in trials if t["state"] == "PRUNED"]
    ax.scatter([t["number"] for t in done], [t["value"] for t in done], label="complete")
    last = [
        (t["number"], list(t["intermediate"].values())[-1]) for t in pruned if t["intermediate"]
    ]
    if last:
        ax.scatter(*zip(*last, strict=True), marker="x", color="#c44e52", label="pruned (last)")
    best: list[float] = []
    for t in sorted(done, key=lambda t: t["number"]):
        value = float(t["value"])
        best.append(value if not best else (max if maximize else min)(best[-1], value))
    if done:
        xs = sorted(t["number"] for t in done)
        end = max(t["number"] for t in trials)
        ax.step([*xs, end], [*best, best[-1]], where="post", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(summary["metric"])
    ax.set_title(f"{record.name}: tuning history ({summary['study_name']})")
    ax.legend(loc="best")
    return _save(fig, out / "tuning_history.png")


def write_plots(run_dir: str | Path, record: RunRecord) -> list[Path]:
    """Write every plot the run's files allow; return their paths."""
    root = Path(run_dir)
    out = root / REPORT_DIR
    out.mkdir(exist_ok=True)
    paths = [_importance(root, record, out), _lift(record, out)]
    history_path = out / HISTORY_FILE
    if history_path.is_file():
        curve = _learning_curve(json.loads(history_path.read_text("utf-8")), record, out)
        if curve is not None:
            paths.append(curve)
    study_path = out / STUDY_FILE
    if study_path.is_file():
        paths.append(_tuning(json.loads(study_path.read_text("utf-8")), record, out))
    return paths


def report_run(run_dir: str | Path, *, plots: bool = True) -> tuple[str, list[Path]]:
    """The metrics table and (unless ``plots`` is False) the plots written."""
    record = load_run(run_dir)
    return metrics_table(record), write_plots(run_dir, record) if plots else []
