"""Pull: the lab (or the author) gets a prescription by its EPU as a searchset Bundle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from app.domain.errors import GatewayError
from app.fhir.searchset import Hit, searchset
from app.security import audit
from app.security.caller import Caller
from app.security.rate_limit import Client, LookupLimiter
from app.store.async_reads import Reader
from app.store.resources import (
    ResourceRow,
    prescriber_and_resources,
    prescription_resources,
    prescription_resources_and_failures_statement,
    prescription_resources_statement,
    refusal_and_resources,
)
from app.store.sql import Unit
from app.workflow.access import refuse_operations_staff, refuse_unless_visible, unknown_epu
from app.workflow.audited import audit_read

MATCHED = "ServiceRequest"
CONTEXT_TYPES = ("Observation", "Condition")


@dataclass(frozen=True)
class Includes:
    """Which related resources the search asked for; clinical context always comes along, since a
    lab cannot run some exams without it."""

    requester: bool = True
    subject: bool = True
    tasks: bool = True
    provenance: bool = True

    def resource_types(self) -> list[str]:
        types = [MATCHED, *CONTEXT_TYPES]
        if self.requester:
            types += ["Practitioner", "PractitionerRole", "Organization"]
        if self.subject:
            types.append("Patient")
        if self.tasks:
            types.append("Task")
        if self.provenance:
            types.append("Provenance")
        return types


EVERYTHING = Includes()


@dataclass(frozen=True)
class Guard:
    """The anti-guessing check of a route that leaves it to the pull: with failures counted in
    the database, the pull's own statement counts them (one round trip instead of two)."""

    limiter: LookupLimiter
    client: Client


def prescription_bundle(
    session: Unit,
    base_url: str,
    caller: Caller,
    epu: str,
    includes: Includes,
    self_link: str,
    expression: str = "epu",
) -> bytes:
    """The prescription as a searchset, read in the session's transaction (claim and release
    answer with what they just wrote)."""
    found = prescription_resources(session, epu, includes.resource_types())
    return _visible_bundle(found, caller, base_url, self_link, expression)


async def pull(
    reader: Reader,
    engine: Engine,
    base_url: str,
    caller: Caller,
    epu: str,
    includes: Includes,
    self_link: str,
    address: str | None,
    expression: str = "epu",
    guard: Guard | None = None,
) -> bytes:
    """The pull, the hottest path of the gateway: one statement reads the prescription and its
    resources as stored bytes (on the async reader: no thread hop), and the AuditEvent is
    committed through the journal before the answer leaves. With a `guard`, 429 first for a
    client with too many failed look-ups."""
    found = await _read(reader, epu, includes, guard)
    try:
        bundle = _visible_bundle(found, caller, base_url, self_link, expression)
    except GatewayError as refusal:
        if found is not None:
            await audit_read(engine, caller, epu, audit.Action.PULL, address, refusal)
        raise
    await audit_read(engine, caller, epu, audit.Action.PULL, address)
    return bundle


async def _read(
    reader: Reader, epu: str, includes: Includes, guard: Guard | None
) -> tuple[str, list[ResourceRow]] | None:
    types = includes.resource_types()
    if guard is None or not guard.limiter.counts_in_database:
        if guard is not None:
            await guard.limiter.guard(guard.client)
        return prescriber_and_resources(
            await reader.rows(prescription_resources_statement(types), epu=epu)
        )
    window = guard.limiter.window(guard.client)
    rows = await reader.rows(
        prescription_resources_and_failures_statement(types),
        epu=epu,
        first=window.keys[0],
        second=window.keys[-1],
        since=datetime.fromtimestamp(window.since, UTC),
        limit=window.limit,
    )
    refused, found = refusal_and_resources(rows)
    if refused:
        await guard.limiter.guard(guard.client)  # refuses, with the Retry-After it works out
    return found


def _visible_bundle(
    found: tuple[str, list[ResourceRow]] | None,
    caller: Caller,
    base_url: str,
    self_link: str,
    expression: str,
) -> bytes:
    """Its lines as matches, the rest as includes; 403/404 for those who may not see it."""
    refuse_operations_staff(caller)
    if found is None:
        raise unknown_epu(expression)
    prescriber_rpps, rows = found
    refuse_unless_visible(caller, prescriber_rpps, expression)
    hits = [
        Hit(row.resource_type, row.id, row.body) for row in rows if row.resource_type == MATCHED
    ]
    hits += [
        Hit(row.resource_type, row.id, row.body, "include")
        for row in rows
        if row.resource_type != MATCHED
    ]
    return searchset(base_url, hits, self_link)
