"""Runs one operation on one prescription and leaves its AuditEvent: a change writes it in its own
transaction; a read, which changes nothing, hands it to the audit journal and answers once it is
committed. A refused attempt on an existing prescription is audited too, in a transaction of its
own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine

from app.domain.errors import GatewayError
from app.security import audit
from app.security.audit_journal import journal_for
from app.security.caller import Caller
from app.store.changes import Database
from app.store.database import for_reading, transaction
from app.store.prescriptions import read_prescription
from app.store.sql import Unit
from app.workflow.access import now

T = TypeVar("T")


def audited(
    database: Database,
    caller: Caller,
    epu: str | Callable[[Unit], str],
    action: audit.Action,
    address: str | None,
    work: Callable[[Unit, str], T],
) -> T:
    """`work(session, epu)` in one transaction, audited. `epu` is the prescription's code, or
    a function that finds it in that transaction (a Task's update knows only the Task)."""
    found = epu if isinstance(epu, str) else None
    try:
        if action in audit.READS:
            if not isinstance(database, Engine):
                raise TypeError("a read waits for the audit journal: not in a change on the loop")
            with transaction(for_reading(database)) as session:
                found = _find(epu, session)
                result = work(session, found)
            moment = now()
            event = audit.audit_event(caller, found, action, moment, address=address)
            journal_for(database).submit(event, found, moment).result()
            return result
        with transaction(database) as session:
            found = _find(epu, session)
            result = work(session, found)
            audit.record(session, caller, found, action, now(), address=address)
            return result
    except GatewayError as refusal:
        if found is None:
            raise
        with transaction(database) as session:
            if read_prescription(session, found) is not None:
                audit.record(
                    session,
                    caller,
                    found,
                    action,
                    now(),
                    audit.REFUSED,
                    description=_refused(refusal),
                    address=address,
                )
        raise


def _find(epu: str | Callable[[Unit], str], session: Unit) -> str:
    return epu if isinstance(epu, str) else epu(session)


async def audit_read(
    engine: Engine,
    caller: Caller,
    epu: str,
    action: audit.Action,
    address: str | None,
    refusal: GatewayError | None = None,
) -> None:
    """For async readers: the AuditEvent of a read of an existing prescription (or of its
    refusal), committed through the journal."""
    moment = now()
    outcome, description = (
        (audit.SUCCESS, None) if refusal is None else (audit.REFUSED, _refused(refusal))
    )
    event = audit.audit_event(caller, epu, action, moment, outcome, description, address)
    await journal_for(engine).write(event, epu, moment)


def _refused(refusal: GatewayError) -> str:
    return f"{refusal.status} {_codes(refusal)}"


def _codes(refusal: GatewayError) -> str:
    return ",".join(issue.error_code or issue.code for issue in refusal.issues)
