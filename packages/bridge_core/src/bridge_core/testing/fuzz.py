"""The bounded OpenAPI fuzz run both services' test suites share (schemathesis).

Each service serves itself on 127.0.0.1 (a live uvicorn server on a scratch database),
its own OpenAPI document is loaded from there, and every operation gets a bounded number
of generated requests, checked for server errors and for answers outside the document
(status codes, content types, bodies). Operations that take a URL and connect to it
(APISmith connections, SyncFlow sources and destinations) are left out, so no request
makes a service connect to an address the fuzzer made up: :data:`TAKES_A_URL` is the one
list of them.
"""

import itertools
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode, checks
from schemathesis.core.result import Err
from schemathesis.schemas import BaseSchema

# path patterns of operations that connect to a URL from the request (never fuzzed)
TAKES_A_URL = (
    r"^/api/v1/connections",  # APISmith: an ERP URL
    r"^/api/v1/sources",  # SyncFlow: APISmith's URL
    r"^/api/v1/destinations",  # SyncFlow: ScheduleHub or a webhook URL
)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

# generated requests per operation: the whole run stays within a minute or two
EXAMPLES_PER_OPERATION = 25


def fuzzable(schema: BaseSchema) -> BaseSchema:
    """``schema`` without the operations that take a URL, and without the open
    health/metrics endpoints (nothing to find there)."""
    for pattern in TAKES_A_URL:
        schema = schema.exclude(path_regex=pattern)
    return schema.exclude(path_regex=r"^/api/v1/(health|metadata)|^/metrics")


def fuzz(schema: BaseSchema, *, base_url: str, headers: dict[str, str]) -> list[str]:
    """Run the bounded fuzz over every fuzzable operation, with valid (positive) and
    invalid (negative) data; the failures, each with the operation, the check that
    failed, and a curl line that reproduces it."""
    failures: list[str] = []
    operations = []
    for result in fuzzable(schema).get_all_operations():
        if isinstance(result, Err):  # an operation the document itself gets wrong
            failures.append(f"invalid operation in the document: {result.err()}")
            continue
        operations.append(result.ok())
    for operation, mode in itertools.product(operations, GenerationMode):

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # each failure is reported, the run goes on
            failures.append(f"{operation.label} ({mode.value} data): {str(exc)[:1500]}")
    return failures
