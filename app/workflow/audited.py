"""Runs one operation on one prescription in a transaction that also writes its AuditEvent; a
refused attempt on an existing prescription is audited too, in a transaction of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from app.domain.errors import GatewayError
from app.security import audit
from app.security.caller import Caller
from app.store.database import transaction
from app.store.tables import Prescription
from app.workflow.access import now

T = TypeVar("T")


def audited(
    engine: Engine,
    caller: Caller,
    epu: str,
    action: audit.Action,
    address: str | None,
    work: Callable[[Session], T],
) -> T:
    try:
        with transaction(engine) as session:
            result = work(session)
            audit.record(session, caller, epu, action, now(), address=address)
            return result
    except GatewayError as refusal:
        with transaction(engine) as session:
            if session.get(Prescription, epu) is not None:
                audit.record(
                    session,
                    caller,
                    epu,
                    action,
                    now(),
                    audit.REFUSED,
                    description=f"{refusal.status} {_codes(refusal)}",
                    address=address,
                )
        raise


def _codes(refusal: GatewayError) -> str:
    return ",".join(issue.error_code or issue.code for issue in refusal.issues)
