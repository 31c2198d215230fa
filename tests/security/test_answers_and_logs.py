"""Every answer carries the security headers and a request id; each request leaves one JSON log
line naming its route template, never its path, query, body or token; an unexpected failure is a
bare OperationOutcome."""

from __future__ import annotations

import json
import logging
import math
import random
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from app.domain import epu_id
from app.logs import JsonFormatter, utc_milliseconds
from tests.conftest import FHIR_JSON, Tokens, create, created_epu, example, issue_codes


def log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name.startswith("epu")
    ]


def test_every_answer_carries_the_security_headers(client: TestClient, tokens: Tokens) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))
    answers = {
        "metadata": client.get("/fhir/metadata"),
        "health": client.get("/health"),
        "no token": client.get(f"/epu/{epu}/qr.svg"),
        "unknown route": client.get("/nowhere"),
        "qr": client.get(f"/epu/{epu}/qr.png", headers=tokens.prescriber()),
        "create": create(client, tokens, example("prescription-prolactine")),
        "pull": client.get(
            "/fhir/ServiceRequest",
            params={"requisition": epu},
            headers=tokens.lab(),
        ),
    }

    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["x-frame-options"] == "DENY", name
        assert answer.headers["referrer-policy"] == "no-referrer", name
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, name
        assert answer.headers["x-request-id"], name
        if name not in ("health", "unknown route"):
            assert answer.headers["cache-control"] == "no-store", name


def test_a_sane_request_id_is_kept_and_any_other_replaced(client: TestClient) -> None:
    kept = client.get("/health", headers={"X-Request-ID": "lgc-42.retry_1"})
    replaced = client.get("/health", headers={"X-Request-ID": "x" * 65})
    hostile = client.get("/health", headers={"X-Request-ID": '{"level":"fake"}'})

    assert kept.headers["x-request-id"] == "lgc-42.retry_1"
    assert replaced.headers["x-request-id"] != "x" * 65
    assert hostile.headers["x-request-id"].isalnum()
    for made in (replaced, hostile, client.get("/health")):
        as_uuid = uuid.UUID(hex=made.headers["x-request-id"])
        assert made.headers["x-request-id"] == as_uuid.hex  # as uuid.uuid4().hex writes it
        assert (as_uuid.version, as_uuid.variant) == (4, uuid.RFC_4122)


def test_each_request_logs_one_json_line_by_route_template(
    client: TestClient, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    epu = created_epu(create(client, tokens, example("prescription-prolactine")))
    lab = tokens.lab()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="epu"):
        pulled = client.get(
            f"/fhir/ServiceRequest?requisition={epu_id.EPU_SYSTEM}|{epu}&_include=*",
            headers={**lab, "X-Request-ID": "pull-1"},
        )
        qr = client.get(f"/epu/{epu_id.grouped(epu)}/qr.png", headers=tokens.prescriber())

    lines = log_lines(caplog)
    assert [line["route"] for line in lines] == ["/fhir/ServiceRequest", "/epu/{epu}/qr.png"]
    first, second = lines
    assert first["request_id"] == "pull-1" == pulled.headers["x-request-id"]
    assert second["request_id"] == qr.headers["x-request-id"]
    assert first["method"] == "GET" and first["status"] == 200 and first["role"] == "lab"
    assert second["role"] == "prescriber"
    assert isinstance(first["duration_ms"], float)
    assert {"time", "level"} <= first.keys()
    text = json.dumps(lines) + caplog.text
    for secret in (epu, epu_id.grouped(epu), "requisition", "_include", lab["Authorization"][7:]):
        assert secret not in text


def test_an_unexpected_failure_is_a_bare_operation_outcome(
    client: TestClient,
    tokens: Tokens,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = "psycopg 3.2.1 at /srv/app/secret.py line 12: Dupont Jean"

    def broken(*_: object) -> None:
        raise RuntimeError(canary)

    monkeypatch.setattr("app.api.prescriber.create_prescription", broken)
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/fhir",
            json=example("prescription-prolactine"),
            headers={**tokens.prescriber(), **FHIR_JSON},
        )

    assert response.status_code == 500
    assert response.json() == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "fatal",
                "code": "exception",
                "diagnostics": "The gateway could not complete this request. Nothing was changed.",
                "details": {
                    "coding": [{"system": "https://epu-gateway/error", "code": "INTERNAL_ERROR"}],
                    "text": "The gateway could not complete this request. Nothing was changed.",
                },
            }
        ],
    }
    assert issue_codes(response) == ["INTERNAL_ERROR"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "Traceback" not in response.text and "server" not in response.headers
    failure = [line for line in log_lines(caplog) if line["level"] == "error"]
    assert failure == [failure[0]] and failure[0]["error_type"] == "RuntimeError"
    assert failure[0]["request_id"] == response.headers["x-request-id"]
    assert canary not in caplog.text and "Traceback" not in caplog.text


def test_a_log_lines_time_is_what_datetime_writes() -> None:
    edges = [
        1796400000.0,
        1796400000.0005,
        1796400000.9995,
        1796400000.9999994,
        1796400000.9999995,  # rounds up into the next second, as datetime carries it
        1796400001.0000005,
        math.nextafter(1796400001.0, 0),
    ]
    drawn = random.Random(7)
    for created in edges + [drawn.uniform(1.7e9, 2.1e9) for _ in range(20_000)]:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert utc_milliseconds(created) == expected, created
