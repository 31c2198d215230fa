"""A prescription loaded with its Tasks under a lock, and the changes every operation shares:
moving lines, summarising the group, checking who holds it, recording provenance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.errors import error
from app.domain.task_status import Operation, Status, check_move, group_status
from app.fhir.identifiers import epu_identifier, lab_identifier, rpps_identifier
from app.security.audit import agent_identifier
from app.security.caller import Caller, Role
from app.store.prescriptions import PrescriptionRecord, locked_tasks, save_prescription
from app.store.resources import (
    insert_resource,
    instant,
    loads,
    new_ids,
    replace_resource,
)
from app.store.sql import Unit
from app.workflow.access import find_for

TASK_INPUT_SYSTEM = "https://epu-gateway/fhir/CodeSystem/task-input"
PROVENANCE_ACTIVITY_SYSTEM = "https://epu-gateway/fhir/CodeSystem/audit-action"


@dataclass
class TaskVersion:
    """A Task as stored, with the version it was read at (the optimistic lock)."""

    resource: dict[str, Any]
    version: int

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def status(self) -> Status:
        return Status(self.resource["status"])

    @property
    def focus(self) -> str | None:
        focus = self.resource.get("focus")
        return str(focus["reference"]) if isinstance(focus, dict) else None


@dataclass
class Held:
    """A prescription as one operation sees it, locked for the length of its transaction."""

    prescription: PrescriptionRecord
    group: TaskVersion
    lines: list[TaskVersion]

    @property
    def epu(self) -> str:
        return self.prescription.epu

    def line(self, task_id: str) -> TaskVersion | None:
        return next((line for line in self.lines if line.id == task_id), None)


def load(session: Unit, caller: Caller, epu: str, expression: str = "epu") -> Held:
    prescription = find_for(session, caller, epu, expression, for_update=True)
    tasks = [TaskVersion(loads(row), row.version_id) for row in locked_tasks(session, epu)]
    group = next(task for task in tasks if task.id == prescription.group_task_id)
    return Held(prescription, group, [task for task in tasks if task.id != group.id])


def refuse_if_closed(held: Held, now: datetime) -> None:
    """410 for a prescription no lab may take any more: cancelled, expired, or fully done."""
    prescription = held.prescription
    if prescription.status == Status.CANCELLED:
        raise error(410, "EPU_CANCELLED", "The prescriber cancelled this prescription.", "epu",
                    issue_type="business-rule")  # fmt: skip
    if prescription.expires_at < now:
        raise error(
            410,
            "EPU_EXPIRED",
            f"This prescription expired on {prescription.expires_at:%d/%m/%Y}.",
            "epu",
            issue_type="business-rule",
        )
    if prescription.status == Status.COMPLETED:
        raise error(
            410,
            "EPU_COMPLETED",
            "Every exam of this prescription has been done"
            + (f" ({prescription.rounds_total} rounds)." if prescription.rounds_total > 1 else "."),
            "epu",
            issue_type="business-rule",
        )


def refuse_unless_holder(held: Held, caller: Caller) -> None:
    if held.prescription.owner_lab != caller.lab:
        raise error(
            409,
            "NOT_LOCK_HOLDER",
            "Only the lab that claimed this prescription may change it; claim it first."
            if held.prescription.owner_lab is None
            else "Another lab holds this prescription.",
            "epu",
            issue_type="lock-error",
        )


def move(
    session: Unit,
    task: TaskVersion,
    target: Status,
    operation: Operation,
    moment: datetime,
    expression: str = "Task.status",
    reason: str | None = None,
    owner: str | None | bool = False,
) -> None:
    """Move one Task (checked against the state machine) and store its new version.

    `owner`: a lab id to set, None to clear, False to leave as it is."""
    check_move(task.status, target, operation, expression)
    task.resource["status"] = target.value
    if reason:
        task.resource["statusReason"] = {"text": reason}
    elif target is not Status.CANCELLED:
        task.resource.pop("statusReason", None)
    if owner is None:
        task.resource.pop("owner", None)
    elif isinstance(owner, str):
        task.resource["owner"] = {"identifier": lab_identifier(owner)}
    save(session, task, moment)


def save(session: Unit, task: TaskVersion, moment: datetime) -> None:
    task.resource["lastModified"] = instant(moment)
    task.version = replace_resource(session, task.resource, task.version, moment)


def summarise(session: Unit, held: Held, moment: datetime) -> None:
    """Bring the group Task and the prescription row in line with the lines."""
    prescription = held.prescription
    status = group_status(
        (line.status for line in held.lines), cancelled=prescription.status == Status.CANCELLED
    )
    group = held.group.resource
    owner = prescription.owner_lab
    owner_value = {"identifier": lab_identifier(owner)} if owner else None
    if group["status"] != status.value or group.get("owner") != owner_value:
        group["status"] = status.value
        if owner_value:
            group["owner"] = owner_value
        else:
            group.pop("owner", None)
        save(session, held.group, moment)
    prescription.status = status.value
    prescription.last_updated = moment
    prescription.version += 1
    save_prescription(session, prescription)


def set_round(held: Held, round_number: int) -> None:
    """Show which round of a renewable prescription the Tasks are in (Task.input 'round')."""
    for task in [held.group, *held.lines]:
        task.resource["input"] = [
            entry
            for entry in task.resource.get("input", [])
            if entry.get("type", {}).get("coding", [{}])[0].get("code") != "round"
        ] + [round_input(round_number)]


def round_input(round_number: int) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": "round"}], "text": "round"},
        "valueUnsignedInt": round_number,
    }


def record_provenance(
    session: Unit,
    caller: Caller,
    epu: str,
    targets: list[dict[str, Any]],
    activity: str,
    moment: datetime,
    reason: str | None = None,
) -> None:
    """A Provenance naming who changed what, when, and why, committed with the change."""
    who = {"identifier": agent_identifier(caller), "display": caller.audit_name}
    agents: list[dict[str, Any]] = [{"who": who}]
    if caller.role is Role.LAB and caller.rpps:
        agents.append(
            {"who": {"identifier": rpps_identifier(caller.rpps)}, "role": [{"text": "biologist"}]}
        )
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": new_ids(1)[0],
        "target": [
            {"reference": f"{t['resourceType']}/{t['id']}/_history/{t['meta']['versionId']}"}
            for t in targets
        ],
        "recorded": instant(moment),
        "activity": {"coding": [{"system": PROVENANCE_ACTIVITY_SYSTEM, "code": activity}]},
        "agent": agents,
        "entity": [{"role": "source", "what": {"identifier": epu_identifier(epu)}}],
    }
    if reason:
        provenance["reason"] = [{"text": reason}]
    insert_resource(session, provenance, epu, moment)
