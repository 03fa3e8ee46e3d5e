"""The report's PNG plots (matplotlib, Agg backend), written atomically under ``report/``.

Gain importance per feature family and per feature (top N), model and baseline values of
the gate metric per category (with the lift), the learning curve on the training and
validation rows, and the tuning history. Legends sit outside the plotted area so they
never cover a bar or a line. Files get the mode the user's umask gives new files.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tessera_contracts import RunRecord
from tessera_lab.describe import describe_validation

TOP_FEATURES = 20
MODEL_COLOR, BASELINE_COLOR = "#4c72b0", "#a0a0a0"


def save(fig: Figure, path: Path) -> Path:
    """Write the figure to ``path`` (a new sibling file, created under the user's umask as
    ``open`` creates files, then renamed); close it."""
    tmp = path.with_name(f".{path.stem}-{secrets.token_hex(6)}.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", metadata={"Software": None})
        tmp.replace(path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def _legend_outside(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def importance_by_family(gains: dict[str, float], record: RunRecord, out: Path) -> Path:
    """Share of total gain per feature family."""
    families = {
        f: sum(gains.get(c, 0.0) for c in cols) for f, cols in record.feature_schema.items()
    }
    total = sum(families.values()) or 1.0
    names = sorted(families, key=lambda f: families[f])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names, [100 * families[f] / total for f in names], color=MODEL_COLOR)
    ax.set_xlabel("share of total gain (%)")
    ax.set_title(f"{record.name}: gain importance per feature family")
    return save(fig, out / "importance_by_family.png")


def importance_by_feature(top: list[tuple[str, str, float]], record: RunRecord, out: Path) -> Path:
    """The top features by share of total gain, labelled with their family."""
    labels = [f"{name} ({family})" for name, family, _ in top][::-1]
    values = [100 * share for _, _, share in top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.5))
    ax.barh(labels, values, color=MODEL_COLOR)
    ax.set_xlabel("share of total gain (%)")
    ax.set_title(f"{record.name}: top {len(labels)} features by gain")
    return save(fig, out / "importance_by_feature.png")


def by_category(record: RunRecord, out: Path) -> Path:
    """Model and baseline values of the gate metric, overall and per category, with the lift."""
    return save(category_figure(record), out / "lift_by_category.png")


def category_figure(record: RunRecord) -> Figure:
    """The figure of :func:`by_category`."""
    metric = record.gate.metric
    triples = [("(all)", record.metrics.eval, record.metrics.baseline)] + [
        (c, m.eval, m.baseline) for c, m in sorted(record.metrics.per_category.items())
    ]
    rows = [(c, e[metric], b[metric]) for c, e, b in triples if metric in e][::-1]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(rows) + 1.5))
    ax.barh(y + 0.2, [m for _, m, _ in rows], height=0.4, color=MODEL_COLOR, label="model")
    ax.barh(y - 0.2, [b for _, _, b in rows], height=0.4, color=BASELINE_COLOR,
            label="base_score ordering")  # fmt: skip
    for i, (_, model, base) in enumerate(rows):
        lift = model - base
        color = "#55a868" if lift >= record.gate.min_lift else "#c44e52"
        ax.text(max(model, base), i, f"  {lift:+.4f}", va="center", color=color, fontsize=9)
    ax.set_yticks(y, [c for c, _, _ in rows])
    ax.set_xlim(0, max(max(m, b) for _, m, b in rows) * 1.25 or 1.0)
    ax.set_xlabel(f"{metric} on eval (text: lift, min_lift {record.gate.min_lift:+.4f})")
    ax.set_title(f"{record.name}: model vs baseline per category (gate {record.gate.verdict})")
    _legend_outside(ax)
    return fig


def learning_curve(history: dict[str, Any], record: RunRecord, out: Path) -> Path | None:
    """The metric per round on the training and validation rows, and the best iteration."""
    fig = curve_figure(history, record)
    return None if fig is None else save(fig, out / "learning_curve.png")


def curve_figure(history: dict[str, Any], record: RunRecord) -> Figure | None:
    """The figure of :func:`learning_curve` (None without recorded curves)."""
    curves: dict[str, list[float]] = history.get("curves") or {}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for label in sorted(curves, key=lambda name: not name.startswith("train")):
        values = curves[label]
        style = "--" if label.startswith("train") else "-"
        ax.plot(range(1, len(values) + 1), values, style, label=label)
    ax.axvline(history["best_iteration"], color="gray", linestyle=":", label="best iteration")
    ax.set_xlabel("boosting round")
    ax.set_ylabel(str(history.get("metric")))
    ax.set_title(f"{record.name}: learning curve\n{describe_validation(record)}", fontsize=10)
    _legend_outside(ax)
    return fig


def tuning_history(study: dict[str, Any], record: RunRecord, out: Path) -> Path:
    """Every trial's value, the pruned trials' last values, and the best so far."""
    trials = study["trials"]
    summary = study["summary"]
    maximize = summary["direction"] == "maximize"
    fig, ax = plt.subplots(figsize=(7.5, 4))
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
    _legend_outside(ax)
    return save(fig, out / "tuning_history.png")
