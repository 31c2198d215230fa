"""Schema-driven fuzzing of the gateway in-process: every operation of its OpenAPI document gets
generated requests with real tokens; no answer may be a 5xx, and every error is an
OperationOutcome. `python scripts/fuzz.py [examples per operation]` for a long run."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.python import asgi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.security.local_issuer import issue_token  # noqa: E402


@dataclass
class Counts:
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)
    not_outcomes: list[str] = field(default_factory=list)


@contextmanager
def gateway(data_dir: Path) -> Iterator[tuple[Settings, object]]:
    gateway_settings = Settings(
        data_dir=data_dir,
        public_base_url="http://testserver",
        # The fuzzer guesses EPUs by the thousand: let it keep reaching the code behind the limit.
        failed_lookup_limit=10**9,
        token_request_budget_per_minute=10**9,
    )
    app = create_app(gateway_settings)
    with asgi.get_client(app) as session:
        yield gateway_settings, (app, session)


def fuzz(examples_per_operation: int, data_dir: Path) -> Counts:
    counts = Counts()
    with gateway(data_dir) as (gateway_settings, (app, session)):
        headers = {
            "prescriber": issue_token(gateway_settings, "prescriber", rpps="10101201234"),
            "lab": issue_token(gateway_settings, "lab", lab="750000001"),
        }
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            role = "lab" if operation.path == "/fhir/ServiceRequest" else "prescriber"
            _fuzz_operation(operation, examples_per_operation, session, headers[role], counts)
    return counts


def _fuzz_operation(
    operation: Any, examples: int, session: Any, token: str, counts: Counts
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def send(case: schemathesis.Case) -> None:
        response = case.call(session=session, headers={"Authorization": f"Bearer {token}"})
        counts.cases += 1
        where = f"{case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            counts.server_errors.append(where)
        elif response.status_code >= 400 and not _is_outcome(response.content):
            counts.not_outcomes.append(where)

    send()


def _is_outcome(body: bytes) -> bool:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, dict) and document.get("resourceType") == "OperationOutcome"


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as data_dir:
        counts = fuzz(examples, Path(data_dir))
    print(f"cases run: {counts.cases}")
    print(f"5xx found: {len(counts.server_errors)}")
    print(f"errors that are not an OperationOutcome: {len(counts.not_outcomes)}")
    for where in counts.server_errors + counts.not_outcomes:
        print(f"  {where}")
    return 1 if counts.server_errors or counts.not_outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
