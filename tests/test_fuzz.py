"""Property-based fuzzing of the whole OpenAPI document over real HTTP, on PostgreSQL.

Every operation is sent valid and invalid requests generated from the published schema, once with a
merchant key and once with the operator key, against the test world. No answer may be a server error,
and every answer must be what the document says: a documented status code, content type, headers and
body schema. The run is bounded (examples per operation) and deterministic (derandomised), so that it
takes about two minutes of the suite and fails the same way every time.

    ORDERMESH_TEST_PG_URL=... CI=true .venv/bin/pytest tests/test_fuzz.py -q -s
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import LiveServer
from tests.world import World

# Examples per operation, per key and per generation mode (valid and invalid input).
EXAMPLES = int(os.environ.get("ORDERMESH_FUZZ_EXAMPLES", "15"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Tally:
    requests: int = 0
    server_errors: int = 0
    violations: int = 0
    per_operation: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)

    def record(self, operation: str, failures: FailureGroup) -> None:
        for failure in failures.exceptions:
            if isinstance(failure, AssertionError) and "server error" in str(failure).lower():
                kind = "5xx"
            else:
                kind = type(failure).__name__
            if kind == "5xx" or "ServerError" in kind:
                self.server_errors += 1
                kind = "5xx"
            else:
                self.violations += 1
            self.findings[f"{operation}: {kind}: {_first_line(failure)}"] += 1


def _first_line(failure: BaseException) -> str:
    title = getattr(failure, "title", None) or str(failure)
    return title.splitlines()[0][:160] if title else type(failure).__name__


def _fuzz(operation: schemathesis.APIOperation, url: str, auth: dict[str, str], tally: Tally) -> None:
    http = requests.Session()  # keep-alive: an answer that breaks the connection fails the next request
    label = operation.label
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            tally.requests += 1
            tally.per_operation[label] += 1
            try:
                response = case.call(base_url=url, session=http, headers=auth, timeout=30)
            except requests.RequestException as error:
                tally.server_errors += 1
                tally.findings[f"{label}: connection: {type(error).__name__}"] += 1
                return
            try:
                case.validate_response(response, checks=CHECKS, headers=auth)
            except FailureGroup as failures:
                tally.record(label, failures)

        if mode is GenerationMode.POSITIVE:
            run()
            continue
        with contextlib.suppress(Unsatisfiable):  # no invalid request can be made of this operation
            run()
    http.close()


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_server_error_and_every_answer_as_documented(live_server: LiveServer, world: World) -> None:
    document = requests.get(f"{live_server.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    started = time.monotonic()
    with _quiet("ordermesh", "uvicorn.error"):  # the tracebacks of 5xx answers would flood the output
        for operation in operations:
            for key in (world.acme, world.operator):
                _fuzz(operation, live_server.url, key, tally)
    elapsed = time.monotonic() - started
    summary = (
        f"fuzz: {len(operations)} operations, {tally.requests} requests in {elapsed:.0f} s, "
        f"{tally.server_errors} server errors, {tally.violations} schema violations"
    )
    print("\n" + summary)
    for finding, count in sorted(tally.findings.items()):
        print(f"  {count:4d} x {finding}")
    assert all(tally.per_operation[operation.label] > 0 for operation in operations), (
        "an operation was not sent"
    )
    assert tally.server_errors == 0 and tally.violations == 0, summary
