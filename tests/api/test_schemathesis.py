"""Property-based run over the whole spec: no 5xx, and every response conforms to the spec.

schemathesis drives the real app (ASGI, real PostgreSQL). Its pytest plugin does not support this
pytest yet, so each operation is a parametrised test that runs schemathesis' hypothesis strategy, with
valid data and, where an operation takes any input, with invalid data too (that is how a JSON body that
is not UTF-8 once got a 500).

Every check runs except `positive_data_acceptance`: the service validates what JSON Schema cannot
express on a percent-encoded path (names with control characters or `..` segments, the `dcp-type`
parameter, opaque cursors) and answers those with a documented 400, which that check counts as a
failure. `negative_data_rejection`, status codes, content types and response schemas all run.
"""

from __future__ import annotations

from importlib.resources import files

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from upload_api.app import SPEC_FILE, create_app
from upload_api.context import ApiContext

API_KEY = "test-api-key"
METHODS = ("get", "put", "post", "patch", "delete", "head")
SPEC = yaml.safe_load((files("upload_api") / "openapi" / SPEC_FILE).read_text(encoding="utf-8"))
OPERATIONS = [
    (method.upper(), path, mode)
    for path, item in SPEC["paths"].items()
    for method in METHODS
    if method in item
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # Invalid data needs something to make invalid: parameters or a body.
    if mode is GenerationMode.POSITIVE
    or item.get("parameters")
    or {"parameters", "requestBody"} & set(item[method])
]


@pytest.mark.parametrize(
    ("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {mode.value}" for m, p, mode in OPERATIONS]
)
def test_operation_conforms(api_context: ApiContext, method: str, path: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", create_app(api_context))
    operation = schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Api-Key": API_KEY}, excluded_checks=[positive_data_acceptance])

    run()
