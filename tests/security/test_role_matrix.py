"""Every route in the OpenAPI document, called with no token and with each role's token, answers
what the table below says. A route added without an entry here fails the first test."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.domain import epu_id
from tests.conftest import Tokens

EPU = epu_id.generate()  # well-formed, known to nobody
PARAMETERS = {"resourceType": "Parameters", "parameter": [{"name": "epu", "valueString": EPU},
                                                          {"name": "reason", "valueString": "x"}]}  # fmt: skip
JSON = {"Content-Type": "application/fhir+json"}
PATCH = {"Content-Type": "application/json-patch+json", "If-Match": 'W/"1"'}

# (method, OpenAPI path) -> (request: path, body, headers) and the status per caller.
# "none" is no token. 404 for an allowed role means "allowed, and nothing was found".
ROUTES: dict[tuple[str, str], tuple[tuple[str, Any, dict[str, str]], dict[str, int]]] = {
    ("GET", "/fhir/metadata"): (("/fhir/metadata", None, {}),
                                {"none": 200, "prescriber": 200, "lab": 200, "admin": 200}),
    ("GET", "/health"): (("/health", None, {}),
                         {"none": 200, "prescriber": 200, "lab": 200, "admin": 200}),
    ("POST", "/fhir"): (("/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": []}, JSON),
                        {"none": 401, "prescriber": 400, "lab": 403, "admin": 403}),
    ("GET", "/fhir/ServiceRequest"): ((f"/fhir/ServiceRequest?requisition={EPU}", None, {}),
                                      {"none": 401, "prescriber": 404, "lab": 404, "admin": 403}),
    ("POST", "/fhir/ServiceRequest"): (("/fhir/ServiceRequest", {"resourceType": "ServiceRequest"}, JSON),
                                       {"none": 401, "prescriber": 403, "lab": 400, "admin": 403}),
    ("POST", "/fhir/$scan"): (("/fhir/$scan", EPU, {"Content-Type": "text/plain"}),
                              {"none": 401, "prescriber": 403, "lab": 404, "admin": 403}),
    ("POST", "/fhir/Task/$claim"): (("/fhir/Task/$claim", PARAMETERS, JSON),
                                    {"none": 401, "prescriber": 403, "lab": 404, "admin": 403}),
    ("POST", "/fhir/Task/$release"): (("/fhir/Task/$release", PARAMETERS, JSON),
                                      {"none": 401, "prescriber": 403, "lab": 404, "admin": 403}),
    ("POST", "/fhir/Task/$cancel"): (("/fhir/Task/$cancel", PARAMETERS, JSON),
                                     {"none": 401, "prescriber": 404, "lab": 403, "admin": 403}),
    ("PUT", "/fhir/Task/{task_id}"): (("/fhir/Task/unknown", {"resourceType": "Task"}, {**JSON, "If-Match": 'W/"1"'}),
                                      {"none": 401, "prescriber": 403, "lab": 404, "admin": 403}),
    ("PATCH", "/fhir/Task/{task_id}"): (("/fhir/Task/unknown", [], PATCH),
                                        {"none": 401, "prescriber": 403, "lab": 404, "admin": 403}),
    ("GET", "/epu/{epu}/qr.png"): ((f"/epu/{EPU}/qr.png", None, {}),
                                   {"none": 401, "prescriber": 404, "lab": 404, "admin": 403}),
    ("GET", "/epu/{epu}/qr.svg"): ((f"/epu/{EPU}/qr.svg", None, {}),
                                   {"none": 401, "prescriber": 404, "lab": 404, "admin": 403}),
    ("GET", "/epu/{epu}/ordonnance.pdf"): ((f"/epu/{EPU}/ordonnance.pdf", None, {}),
                                           {"none": 401, "prescriber": 404, "lab": 403, "admin": 403}),
    ("GET", "/fhir/Task"): ((f"/fhir/Task?group-identifier={EPU}", None, {}),
                            {"none": 401, "prescriber": 404, "lab": 404, "admin": 403}),
    ("GET", "/fhir/AuditEvent"): ((f"/fhir/AuditEvent?entity-identifier={EPU}", None, {}),
                                  {"none": 401, "prescriber": 404, "lab": 404, "admin": 404}),
    ("GET", "/fhir/ValueSet/$expand"): (("/fhir/ValueSet/$expand?filter=nfs", None, {}),
                                        {"none": 401, "prescriber": 200, "lab": 200, "admin": 200}),
    ("GET", "/fhir/ValueSet/$validate-code"): (("/fhir/ValueSet/$validate-code?code=2842-3", None, {}),
                                               {"none": 401, "prescriber": 200, "lab": 200, "admin": 200}),
    ("GET", "/fhir/CodeSystem/$lookup"): (("/fhir/CodeSystem/$lookup?system=http://loinc.org&code=2842-3", None, {}),
                                          {"none": 401, "prescriber": 200, "lab": 200, "admin": 200}),
    ("GET", "/fhir/{resource_type}/{resource_id}"): (("/fhir/Task/unknown", None, {}),
                                                     {"none": 401, "prescriber": 404, "lab": 404, "admin": 404}),
    ("GET", "/fhir/{resource_type}/{resource_id}/_history"): (("/fhir/Task/unknown/_history", None, {}),
                                                              {"none": 401, "prescriber": 404, "lab": 404, "admin": 404}),
    ("GET", "/fhir/{resource_type}/{resource_id}/_history/{version_id}"): (
        ("/fhir/Task/unknown/_history/1", None, {}),
        {"none": 401, "prescriber": 404, "lab": 404, "admin": 404}),
}  # fmt: skip


def test_every_route_has_an_entry_in_the_role_table(client: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, methods in client.get("/openapi.json").json()["paths"].items()
        for method in methods
    }
    assert documented == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_caller_gets_what_the_table_says(
    client: TestClient, tokens: Tokens, route: tuple[str, str]
) -> None:
    (path, body, headers), expected = ROUTES[route]
    got = {}
    for who, auth in callers(tokens).items():
        content = body.encode() if isinstance(body, str) else None
        response = client.request(
            route[0], path, headers={**headers, **auth},
            json=body if content is None and body is not None else None, content=content,
        )  # fmt: skip
        got[who] = response.status_code
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"
    assert got == expected


BODY_ROUTES = sorted(route for route, ((_, body, _), _) in ROUTES.items() if body is not None)
BROKEN_JSON = b'{"resourceType": "Bundle", '


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_body_is_read_only_once_its_caller_may_send_it(
    client: TestClient, tokens: Tokens, route: tuple[str, str]
) -> None:
    """No token, or a role the route refuses: 401 or 403 whatever the body holds, since the
    gateway reads no body before it knows who sends it (broken JSON would be a 400)."""
    (path, _, headers), expected = ROUTES[route]
    for who, auth in callers(tokens).items():
        if expected[who] not in (401, 403):
            continue
        response = client.request(route[0], path, content=BROKEN_JSON, headers={**headers, **auth})
        assert (who, response.status_code) == (who, expected[who]), response.text
        assert response.json()["resourceType"] == "OperationOutcome"


def callers(tokens: Tokens) -> dict[str, dict[str, str]]:
    """The Authorization header of each column of the table ("none": no header)."""
    return {
        "none": {},
        "prescriber": tokens.prescriber(),
        "lab": tokens.lab(),
        "admin": tokens.admin(),
    }
