"""The promotion gate: the model must beat the ``base_score`` ordering by ``min_lift``."""

from __future__ import annotations

from tessera_contracts import Gate, Metrics, decide_gate
from tessera_lab.errors import TrainingError
from tessera_lab.spec import GateRule


def decide(rule: GateRule, metrics: Metrics, where: str) -> Gate:
    """PROMOTE when ``metric(model) - metric(baseline) >= min_lift`` on eval, else HOLD.

    The rule itself is the contracts' (serving recomputes it at registration).
    """
    if rule.metric not in metrics.eval:
        raise TrainingError(
            f"{where}: gate.metric {rule.metric!r} was not computed on this eval split "
            f"(available: {sorted(metrics.eval)}; roc_auc/pr_auc need binary labels, "
            "fmax_weighted a weight column)"
        )
    return decide_gate(rule.metric, rule.min_lift, metrics)
