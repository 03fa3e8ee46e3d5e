"""``report_run``: a run's metrics as text and plots under ``runs/<name>/report/``.

The text: the protocol (validation set, best iteration and rounds, the NDCG convention
and the queries it touches per split), model vs baseline for every metric, the gate
metric per category, the top features by gain. A per-category run set gets one table
across its cells first. Plots (``tessera_lab.plots``; ``tessera_lab.configure`` picks the
headless Agg backend): gain per family and per feature, model vs baseline per category,
the learning curve on training and validation rows (``report/history.json``), the tuning
history (``report/study.json``). Registration ignores ``report/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb

from tessera_contracts import RunRecord
from tessera_lab import plots as charts
from tessera_lab.describe import describe_ndcg, describe_validation
from tessera_lab.plots import TOP_FEATURES
from tessera_lab.runs import HISTORY_FILE, REPORT_DIR, STUDY_FILE, load_run, run_set


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
        describe_validation(record),
        *filter(None, [describe_ndcg(record), _counts_line(record)]),
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


def _counts_line(record: RunRecord) -> str | None:
    if record.evaluation is None:
        return None
    parts = []
    for split, c in sorted(record.evaluation.splits.items()):
        by_k = sorted((int(k.partition("@")[2]), n) for k, n in c.fewer_than_k.items())
        short = ", ".join(f"k={k} {n}" for k, n in by_k)
        parts.append(
            f"{split} {c.queries} ({c.no_relevant} without a relevant row; fewer than k rows: "
            f"{short})"
        )
    return "queries: " + "; ".join(parts)


def feature_gains(run_dir: Path, record: RunRecord) -> dict[str, float]:
    """Total split gain per feature, from the run's own model.txt."""
    booster = lgb.Booster(model_file=str(run_dir / record.model.file))
    gains = booster.feature_importance("gain")
    return {n: float(g) for n, g in zip(booster.feature_name(), gains, strict=True)}


def top_features(
    gains: dict[str, float], record: RunRecord, n: int = TOP_FEATURES
) -> list[tuple[str, str, float]]:
    """The ``n`` features with most gain: (name, family, share of total gain)."""
    family = {c: f for f, cols in record.feature_schema.items() for c in cols}
    total = sum(gains.values()) or 1.0
    ranked = sorted(gains.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [(name, family.get(name, "?"), gain / total) for name, gain in ranked if gain > 0]


def features_table(top: list[tuple[str, str, float]]) -> str:
    """The top features by gain as a text table."""
    rows = [[name, family, f"{100 * share:.1f}%"] for name, family, share in top]
    if not rows:
        return "no feature was used by a split"
    return f"top {len(rows)} features by gain\n" + _table(["feature", "family", "gain"], rows)


def write_plots(run_dir: str | Path, record: RunRecord) -> list[Path]:
    """Write every plot the run's files allow; return their paths."""
    root = Path(run_dir)
    out = root / REPORT_DIR
    out.mkdir(exist_ok=True)
    gains = feature_gains(root, record)
    paths = [
        charts.importance_by_family(gains, record, out),
        charts.importance_by_feature(top_features(gains, record), record, out),
        charts.by_category(record, out),
    ]
    history_path = out / HISTORY_FILE
    if history_path.is_file():
        curve = charts.learning_curve(json.loads(history_path.read_text("utf-8")), record, out)
        if curve is not None:
            paths.append(curve)
    study_path = out / STUDY_FILE
    if study_path.is_file():
        paths.append(charts.tuning_history(json.loads(study_path.read_text("utf-8")), record, out))
    return paths


def cells_table(records: list[RunRecord]) -> str:
    """One table across the cells of a per-category run set: the gate metric and protocol."""
    metric = records[0].gate.metric
    rows = []
    for r in records:
        v = r.validation
        rows.append([
            str(r.cell), str(r.dataset.train_rows),
            "-" if v is None else f"{v.rows}/{v.queries}",
            f"{r.model.best_iteration}/{r.model.rounds if r.model.rounds is not None else '?'}",
            f"{r.gate.model_value:.4f}", f"{r.gate.baseline_value:.4f}", f"{r.gate.lift:+.4f}",
            r.gate.verdict,
        ])  # fmt: skip
    headers = ["cell", "train rows", "valid rows/queries", "best/rounds",
               f"model {metric}", "baseline", "lift", "gate"]  # fmt: skip
    return _table(headers, rows)


def report_run(run_dir: str | Path, *, plots: bool = True) -> tuple[str, list[Path]]:
    """The metrics text and (unless ``plots`` is False) the plots written.

    ``run_dir`` is a run directory, or ``runs/<name>`` of a per-category spec: then one
    table across its cells comes first, each cell's report follows, and every cell gets
    its plots.
    """
    members = run_set(run_dir)
    texts, written = [], []
    records = [load_run(path) for path in members]
    for path, record in zip(members, records, strict=True):
        gains = feature_gains(path, record)
        texts.append(
            metrics_table(record) + "\n\n" + features_table(top_features(gains, record, 10))
        )
        if plots:
            written += write_plots(path, record)
    if members != [Path(run_dir)]:  # runs/<name> of a per-category spec
        head = f"run set {Path(run_dir).name}: {len(records)} cells\n" + cells_table(records)
        texts.insert(0, head)
    return "\n\n".join(texts), written
