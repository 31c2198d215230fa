"""The base is anonymous: a patient's name, INS-NIR, address and phone, wherever a prescriber's
software puts them, end up in no table and no log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select

from tests.conftest import Tokens, create, created_epu, example

FAMILY, GIVEN = "Zorbalinsky", "Philomene-Quitterie"
INS_NIR = "284077512398765"
STREET, CITY, POSTCODE = "42 impasse des Hirondelles Mauves", "Plouzevedec", "29440"
PHONE, EMAIL = "0698765432", "philomene.zorbalinsky@example.org"
XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
SECRETS = (FAMILY, GIVEN, INS_NIR, STREET, CITY, POSTCODE, PHONE, EMAIL)


def identifying_bundle() -> dict[str, Any]:
    bundle = example("prescription-prolactine")
    entries = {entry["resource"]["resourceType"]: entry for entry in bundle["entry"]}
    patient_url = entries["Patient"]["fullUrl"]
    entries["Patient"]["resource"].update(
        {
            "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": INS_NIR}],
            "name": [{"family": FAMILY, "given": [GIVEN], "text": f"{GIVEN} {FAMILY}"}],
            "telecom": [{"system": "phone", "value": PHONE}, {"system": "email", "value": EMAIL}],
            "address": [{"line": [STREET], "city": CITY, "postalCode": POSTCODE}],
            "text": {"status": "generated", "div": f"<div {XHTML}>{FAMILY}</div>"},
        }
    )
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] in ("ServiceRequest", "Observation"):
            named = {"reference": patient_url, "display": f"{GIVEN} {FAMILY} ({INS_NIR})"}
            resource["subject"] = named
            resource["contained"] = [
                {"resourceType": "Patient", "id": "same", "name": [{"family": FAMILY}]}
            ]
            resource["text"] = {
                "status": "generated",
                "div": f"<div {XHTML}>Pour {GIVEN} {FAMILY}, {PHONE}</div>",
            }
    return bundle


def every_stored_value(engine: Engine) -> str:
    """Every row of every table, bytes decoded, as one text."""
    tables = MetaData()
    tables.reflect(engine)
    found: list[str] = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            for row in connection.execute(select(table)):
                found += [_text(value) for value in row]
    return "\n".join(found)


def _text(value: object) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def test_no_patient_detail_reaches_the_database_or_the_logs(
    client: TestClient, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        created = create(client, tokens, identifying_bundle(), Prefer="return=representation")
        epu = created_epu(created)
        pulled = client.get(
            "/fhir/ServiceRequest",
            params={"requisition": epu, "_include": "*", "_revinclude": "Task:focus"},
            headers=tokens.lab(),
        )
    assert pulled.status_code == 200

    stored = every_stored_value(client.app.state.engine)  # type: ignore[attr-defined]
    assert epu in stored, "the dump did read the tables"
    logged = caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    for secret in SECRETS:
        assert secret not in stored, secret
        assert secret not in logged, secret
        assert secret not in pulled.text and secret not in created.text, secret
