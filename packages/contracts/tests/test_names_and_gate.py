"""The contracts own two small rules the lab and serving share: names and the gate."""

from __future__ import annotations

import pytest

from tessera_contracts import (
    NAME_MAX_LENGTH,
    ContractError,
    Metrics,
    check_name,
    decide_gate,
    gate_verdict,
)


@pytest.mark.parametrize("name", ["rr", "a", "Run-1.2_x", "rr--bp", "9" * NAME_MAX_LENGTH])
def test_valid_names_pass_unchanged(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("with space", "contains ' '"),
        ("a#1", "contains '#'"),
        ("a@production", "contains '@'"),
        ("", "is empty"),
        ("x" * 1000, "is 1000 characters long"),
        ("x" * (NAME_MAX_LENGTH + 1), f"is {NAME_MAX_LENGTH + 1} characters long"),
        ("-lead", "starts with '-'"),
        ("trailing\n", "contains '\\n'"),
        ("../x", "contains '/'"),
    ],
)
def test_invalid_names_are_one_line_errors(name: str, problem: str) -> None:
    with pytest.raises(ContractError) as caught:
        check_name(name, "model name")
    message = str(caught.value)
    assert message.startswith("model name ") and problem in message
    assert "\n" not in message and len(message) < 300


def test_the_gate_rule_and_its_recomputation() -> None:
    assert gate_verdict(0.07, 0.05) == "PROMOTE"
    assert gate_verdict(0.05, 0.05) == "PROMOTE"
    assert gate_verdict(0.07, 0.5) == "HOLD"
    metrics = Metrics(eval={"ndcg@10": 0.71}, baseline={"ndcg@10": 0.64}, per_category={})
    gate = decide_gate("ndcg@10", 0.5, metrics)
    assert (gate.verdict, gate.model_value, gate.baseline_value) == ("HOLD", 0.71, 0.64)
    assert decide_gate("ndcg@10", -1, metrics).verdict == "PROMOTE"
    with pytest.raises(ContractError, match="gate metric 'map' was not computed"):
        decide_gate("map", 0.0, metrics)
