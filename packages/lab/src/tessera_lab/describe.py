"""Short human descriptions of a run record's protocol, shared by the CLI lines and the report."""

from __future__ import annotations

from tessera_contracts import RunRecord


def describe_validation(record: RunRecord) -> str:
    """Which validation set early stopping used, its size, the best iteration and rounds run."""
    found = record.validation
    rounds = record.model.rounds
    trained = f"{rounds} rounds" if rounds is not None else f"{record.model.num_trees} trees"
    if found is None:  # a run.json written before the validation record existed
        return f"validation {record.dataset.valid_rows} rows; best iteration " + (
            f"{record.model.best_iteration} of {trained}"
        )
    if found.method == "none":
        return f"validation none (no early stopping); {trained}"
    where = (
        f"snapshot pairs {', '.join(found.snapshot_pairs or [])}"
        if found.method == "snapshot_pairs"
        else f"carve {found.carve:g} of train queries"
    )
    return (
        f"validation {where} ({found.rows} rows, {found.queries} queries); "
        f"best iteration {record.model.best_iteration} of {trained}"
    )


def describe_ndcg(record: RunRecord) -> str | None:
    """The NDCG convention of the run's metrics, or None for records without one."""
    found = record.evaluation
    if found is None:
        return None
    gain = {"exponential": "2^label-1", "linear": "label", "label_gain": "params.label_gain"}
    empty = {"one": "score 1", "zero": "score 0", "exclude": "are excluded"}
    short = {"truncate": "count over the rows they have", "exclude": "are excluded at that k"}
    return (
        f"ndcg: gain {gain[found.ndcg_gain]}; queries without a relevant row "
        f"{empty[found.ndcg_no_relevant]}; queries with fewer than k rows "
        f"{short[found.ndcg_short_queries]}"
    )
