"""Contract testing of the OpenAPI document with schemathesis against the real server:
bounded generated requests (valid and invalid) to every operation, authenticated, on
loopback; none gets a 500, and every error is a problem document."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from server_harness import TOKEN, Server

EXAMPLES_PER_OPERATION = 8


def _check(case: Any, server: Server) -> None:
    response = case.call(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"})
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code != 500, f"{where}: {response.text}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type")  # a list in schemathesis 4
        if isinstance(content_type, list):
            content_type = content_type[0]
        assert content_type == "application/problem+json", where
        assert "Traceback" not in response.text, where


def test_no_generated_request_gets_a_server_error(shared_server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{shared_server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # every route of the contract is in the document
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                _check(case, shared_server)

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body): positive cases cover it.
                assert mode is GenerationMode.NEGATIVE, operation.label
