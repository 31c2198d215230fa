"""Finding a prescription for a caller: the EPU look-up and who may see what."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.errors import GatewayError, error
from app.security.caller import Caller, Role
from app.store.prescriptions import PrescriptionRecord, read_prescription
from app.store.sql import Unit


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
    session: Unit, caller: Caller, epu: str, expression: str = "epu", for_update: bool = False
) -> PrescriptionRecord:
    """The prescription if this caller may see it; anyone else learns nothing of it (404)."""
    refuse_operations_staff(caller)
    prescription = read_prescription(session, epu, for_update)
    if prescription is None:
        raise unknown_epu(expression)
    refuse_unless_visible(caller, prescription.prescriber_rpps, expression)
    return prescription


def refuse_operations_staff(caller: Caller) -> None:
    if caller.role is Role.ADMIN:
        raise error(
            403,
            "ROLE_NOT_ALLOWED",
            "Operations accounts have no access to prescriptions.",
            issue_type="forbidden",
        )


def refuse_unless_visible(caller: Caller, prescriber_rpps: str, expression: str = "epu") -> None:
    """A lab may reach any prescription by its EPU (holding the paper is the proof); a prescriber
    only their own. Another prescriber's gets the same 404 as an unknown EPU."""
    if caller.role is Role.PRESCRIBER and prescriber_rpps != caller.rpps:
        raise unknown_epu(expression)
