"""Status for the prescriber: the Tasks of one prescription, the list of their prescriptions,
and the audit trail of one prescription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import Engine, Select, select
from sqlmodel import col

from app.domain.errors import error
from app.fhir.identifiers import RPPS_OID, RPPS_URL
from app.fhir.searchset import Hit, searchset
from app.security import audit
from app.security.caller import Caller, Role
from app.store.database import for_reading, orm_session, transaction
from app.store.resources import of_prescription
from app.store.sql import Unit
from app.store.tables import Prescription, StoredResource
from app.workflow.access import find_for, unknown_epu
from app.workflow.audited import audited

MAX_COUNT = 200
DEFAULT_COUNT = 50


def tasks_of_prescription(
    engine: Engine, base_url: str, caller: Caller, epu: str, self_link: str, address: str | None
) -> bytes:
    def work(session: Unit, epu: str) -> bytes:
        find_for(session, caller, epu, "group-identifier")
        rows = of_prescription(session, epu, ["Task"])
        return searchset(base_url, [Hit(r.resource_type, r.id, r.body) for r in rows], self_link)

    return audited(engine, caller, epu, audit.Action.STATUS, address, work)


@dataclass(frozen=True)
class ListQuery:
    statuses: tuple[str, ...] = ()
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    count: int = DEFAULT_COUNT
    offset: int = 0
    requester_is_caller: bool = True


def prescriber_list(
    engine: Engine, base_url: str, caller: Caller, query: ListQuery, page_url: str
) -> bytes:
    """The group Tasks of the caller's prescriptions, most recently changed first."""
    if caller.role is not Role.PRESCRIBER:
        raise error(
            400,
            "SEARCH_NOT_SUPPORTED",
            "Labs search Tasks by group-identifier (the EPU).",
            "group-identifier",
            issue_type="not-supported",
        )
    hits: list[Hit] = []
    has_more = False
    if query.requester_is_caller:
        page = list_statement(caller.rpps, query).subquery()
        tasks = (
            select(col(StoredResource.id), col(StoredResource.body))
            .join_from(
                page,
                StoredResource,
                (col(StoredResource.resource_type) == "Task")
                & (col(StoredResource.id) == page.c.group_task_id),
            )
            .order_by(page.c.last_updated.desc())
        )
        with orm_session(for_reading(engine)) as session:
            found = list(session.execute(tasks))
        has_more = len(found) > query.count
        hits = [Hit("Task", task_id, body) for task_id, body in found[: query.count]]
    links = {}
    if has_more:
        links["next"] = page_url + urlencode({"_offset": query.offset + query.count})
    if query.offset:
        links["previous"] = page_url + urlencode({"_offset": max(0, query.offset - query.count)})
    return searchset(base_url, hits, page_url + urlencode({"_offset": query.offset}),
                     total=None, links=links)  # fmt: skip


def list_statement(rpps: str | None, query: ListQuery) -> Select[str, datetime]:
    """The group Task ids of one page of a prescriber's list, with the time they sort by (one
    more, to tell a next page). ix_prescriptions_prescriber_list holds every column it reads: an
    index-only scan, where reading the table visited one page per prescription of the prescriber.
    The page's Tasks are read in the same statement, which needs no transaction of its own."""
    statement = select(col(Prescription.group_task_id), col(Prescription.last_updated)).where(
        col(Prescription.prescriber_rpps) == rpps
    )
    if query.statuses:
        statement = statement.where(col(Prescription.status).in_(query.statuses))
    if query.updated_after:
        statement = statement.where(col(Prescription.last_updated) > query.updated_after)
    if query.updated_before:
        statement = statement.where(col(Prescription.last_updated) < query.updated_before)
    return (
        statement.order_by(col(Prescription.last_updated).desc())
        .offset(query.offset)
        .limit(query.count + 1)
    )


def parse_list_query(params: dict[str, list[str]], caller: Caller) -> ListQuery:
    statuses: list[str] = []
    for value in params.get("status", []):
        statuses += [s for s in value.split(",") if s]
    after = before = None
    for value in params.get("_lastUpdated", []):
        prefix, moment = value[:2], value[2:]
        if prefix not in ("gt", "ge", "lt", "le"):
            prefix, moment = "eq", value
        parsed = _moment(moment)
        if prefix in ("gt", "ge"):
            after = parsed
        elif prefix in ("lt", "le"):
            before = parsed
        else:
            raise error(
                400, "INVALID_SEARCH", "_lastUpdated takes gt, ge, lt or le.", "_lastUpdated"
            )
    count = _integer(params, "_count", DEFAULT_COUNT)
    if not 1 <= count <= MAX_COUNT:
        raise error(400, "INVALID_SEARCH", f"_count is between 1 and {MAX_COUNT}.", "_count")
    offset = _integer(params, "_offset", 0)
    if offset < 0:
        raise error(400, "INVALID_SEARCH", "_offset cannot be negative.", "_offset")
    requester_is_caller = all(_names_caller(v, caller) for v in params.get("requester", []))
    requester_is_caller &= all(
        _names_caller(v, caller) for v in params.get("requester:identifier", [])
    )
    return ListQuery(tuple(statuses), after, before, count, offset, requester_is_caller)


def _names_caller(value: str, caller: Caller) -> bool:
    if value.startswith("Practitioner/"):
        return True  # one of the caller's own Practitioner resources, or simply nothing found
    system, _, code = value.rpartition("|")
    if system == RPPS_OID:
        return code == f"8{caller.rpps}"
    return code == caller.rpps and system in ("", RPPS_URL)


def _moment(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise error(400, "INVALID_SEARCH", "_lastUpdated needs an ISO 8601 instant.",
                    "_lastUpdated") from None  # fmt: skip
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _integer(params: dict[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise error(400, "INVALID_SEARCH", f"{name} takes a whole number.", name) from None


def audit_trail(engine: Engine, base_url: str, caller: Caller, epu: str, self_link: str) -> bytes:
    """The AuditEvents of one prescription, for its prescriber only (404 for anyone else)."""
    with transaction(engine) as session:
        if caller.role is not Role.PRESCRIBER:
            raise unknown_epu("entity-identifier")
        find_for(session, caller, epu, "entity-identifier")
        rows = of_prescription(session, epu, ["AuditEvent"])
        return searchset(base_url, [Hit(r.resource_type, r.id, r.body) for r in rows], self_link)
