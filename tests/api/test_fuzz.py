"""Schema-driven fuzzing of the OpenAPI document (schemathesis strategies run by hypothesis):
whatever the generated request, valid by the document or deliberately not, the server never
answers 5xx, and its answers match the document (status codes, content types, response schemas)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from recommender.api import create_app
from recommender.api.settings import ApiSettings
from tests.api.support import ApiServer

# The operations, from the application's own document (no server needed to collect the tests).
DOCUMENT = create_app(ApiSettings(api_variants=None, api_key=None)).openapi()
OPERATIONS = [f"{method.upper()} {path}" for path, methods in DOCUMENT["paths"].items() for method in methods]
WITH_INPUT = {f"{method.upper()} {path}" for path, methods in DOCUMENT["paths"].items()
              for method, op in methods.items() if op.get("parameters") or op.get("requestBody")}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_schema(server: ApiServer):
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


CASES = [pytest.param(label, GenerationMode.POSITIVE, id=f"{label} valid") for label in OPERATIONS] + [
    pytest.param(label, GenerationMode.NEGATIVE, id=f"{label} invalid") for label in OPERATIONS if label in WITH_INPUT]


@pytest.mark.slow
@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_server_errors_and_answers_match_the_document(label: str, mode, server: ApiServer, live_schema) -> None:
    operation = live_schema.find_operation_by_label(label)

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(case) -> None:
        case.call_and_validate(base_url=server.url, checks=CHECKS)

    fuzz()
