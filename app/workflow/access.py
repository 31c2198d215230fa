"""Finding a prescription for a caller: the EPU look-up and who may see what."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from app.domain.errors import GatewayError, error
from app.security.caller import Caller, Role
from app.store.tables import Prescription


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def unknown_epu(expression: str = "epu") -> GatewayError:
    return error(
        404,
        "EPU_UNKNOWN",
        "No prescription has this EPU code. Check the code on the paper.",
        expression,
        issue_type="not-found",
    )


def find_for(
    session: Session, caller: Caller, epu: str, expression: str = "epu", for_update: bool = False
) -> Prescription:
    """The prescription if this caller may see it; anyone else learns nothing of it (404).

    A lab may reach any prescription by its EPU (holding the paper is the proof); a prescriber only
    their own; operations staff none."""
    if caller.role is Role.ADMIN:
        raise error(
            403,
            "ROLE_NOT_ALLOWED",
            "Operations accounts have no access to prescriptions.",
            issue_type="forbidden",
        )
    if for_update:
        prescription = session.get(Prescription, epu, with_for_update=True)
    else:
        prescription = session.get(Prescription, epu)
    if prescription is None:
        raise unknown_epu(expression)
    if caller.role is Role.PRESCRIBER and prescription.prescriber_rpps != caller.rpps:
        raise unknown_epu(expression)
    return prescription
