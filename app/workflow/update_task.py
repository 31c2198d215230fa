"""Update: the lab that holds the prescription reports progress on one line's Task (PUT or JSON
Patch, guarded by If-Match), or takes the line off with a reason."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from app.domain.errors import GatewayError, Issue, error, version_conflict
from app.domain.task_status import Operation, Status
from app.fhir.structure import check_codes, check_resource
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.prescriptions import lock_prescription_of_task
from app.store.sql import Unit
from app.workflow.access import now
from app.workflow.audited import audited
from app.workflow.renew import renew_if_round_done
from app.workflow.state import (
    Held,
    TaskVersion,
    load,
    move,
    record_provenance,
    refuse_unless_holder,
    summarise,
)

# What a lab may change on a line Task; everything else is the gateway's to keep.
LAB_ELEMENTS = {"status", "businessStatus", "statusReason", "note", "output", "executionPeriod"}
SERVER_ELEMENTS = {"meta", "lastModified", "text"}


def update_task(
    database: Database,
    caller: Caller,
    task_id: str,
    if_match: str | None,
    replacement: dict[str, Any] | None = None,
    patch: Any = None,
    address: str | None = None,
) -> TaskVersion:
    """Apply a PUT body (`replacement`) or a JSON Patch (`patch`) to a line Task."""
    seen_version = _version_of(if_match)

    def lock_by_task(session: Unit) -> str:
        prescription = lock_prescription_of_task(session, task_id)
        if prescription is None:
            raise error(404, "RESOURCE_UNKNOWN", f"Task/{task_id[:64]} is not known.", "Task",
                        issue_type="not-found")  # fmt: skip
        return prescription.epu

    def work(session: Unit, epu: str) -> TaskVersion:
        moment = now()
        held = load(session, caller, epu, expression="Task")
        refuse_unless_holder(held, caller)
        task = held.line(task_id)
        if task is None:
            raise error(
                409,
                "GROUP_TASK_READ_ONLY",
                "The group Task summarises its lines: update the line Tasks instead.",
                "Task",
                issue_type="business-rule",
            )
        if task.version != seen_version:
            raise version_conflict("Task", task_id, seen_version)
        wanted = _apply(task.resource, replacement, patch)
        target = Status(wanted["status"])
        reason = _reason(wanted)
        for element in LAB_ELEMENTS - {"status", "statusReason"}:
            if element in wanted:
                task.resource[element] = wanted[element]
            else:
                task.resource.pop(element, None)
        if target is Status.CANCELLED:
            if not reason:
                raise error(
                    422,
                    "REASON_REQUIRED",
                    "Taking a line off needs a reason in Task.statusReason.text.",
                    "Task.statusReason",
                    issue_type="required",
                )
            move(session, task, target, Operation.REMOVE, moment, reason=reason)
        else:
            move(session, task, target, Operation.UPDATE, moment, reason=reason)
        summarise(session, held, moment)
        record_provenance(session, caller, epu, [task.resource], _activity(target), moment, reason)
        renew_if_round_done(session, caller, held, moment)
        return _fresh(held, task_id)

    return audited(database, caller, lock_by_task, audit.Action.UPDATE, address, work)


def _fresh(held: Held, task_id: str) -> TaskVersion:
    task = held.line(task_id)
    assert task is not None
    return task


def _activity(target: Status) -> str:
    return "remove" if target is Status.CANCELLED else "update"


def _version_of(if_match: str | None) -> int:
    if not if_match:
        raise error(
            428,
            "IF_MATCH_REQUIRED",
            'Updating a Task needs If-Match: W/"<versionId>" of the version you read.',
            "Task.meta.versionId",
            issue_type="required",
        )
    text = if_match.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise error(
            400, "INVALID_IF_MATCH", 'If-Match must look like W/"3".', "Task.meta.versionId"
        )
    return int(text)


def _apply(
    stored: dict[str, Any], replacement: dict[str, Any] | None, patch: Any
) -> dict[str, Any]:
    if replacement is not None:
        wanted = replacement
        if wanted.get("id") not in (None, stored["id"]):
            raise error(400, "ID_MISMATCH", "The body's id is not the id in the URL.", "Task.id")
    else:
        try:
            wanted = jsonpatch.apply_patch(copy.deepcopy(stored), patch)
        except (
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            TypeError,
            ValueError,
        ) as exc:
            raise error(
                422, "PATCH_NOT_APPLICABLE", f"The JSON Patch cannot be applied: {str(exc)[:200]}",
                "Task", issue_type="processing",
            ) from None  # fmt: skip
    if not isinstance(wanted, dict) or wanted.get("resourceType") != "Task":
        raise error(400, "WRONG_RESOURCE_TYPE", "The result must be a Task.", "Task.resourceType")
    _check_only_lab_elements_change(stored, wanted)
    # The rest is the stored Task, checked when it was written: only what a lab may change needs
    # checking (a whole Task through fhir.resources cost more than the rest of the update), and
    # when only the status changes, its value set is the whole check (the model's cost 7% of a
    # done's CPU).
    changed = {name for name in LAB_ELEMENTS if wanted.get(name) != stored.get(name)}
    if changed <= {"status"} and isinstance(wanted.get("status"), str):
        issues = check_codes({"resourceType": "Task", "status": wanted["status"]}, "Task")
    else:
        issues = check_resource(_lab_part(stored, wanted), "Task")
    if issues:
        raise GatewayError(400, issues)
    return wanted


def _lab_part(stored: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """`wanted` cut to the elements a lab may change, with what a Task needs to be one."""
    part = {"resourceType": "Task", "intent": stored["intent"]}
    part.update((name, wanted[name]) for name in LAB_ELEMENTS if name in wanted)
    return part


def _check_only_lab_elements_change(stored: dict[str, Any], wanted: dict[str, Any]) -> None:
    changed = sorted(
        name
        for name in set(stored) | set(wanted)
        if name not in LAB_ELEMENTS | SERVER_ELEMENTS and stored.get(name) != wanted.get(name)
    )
    if changed:
        raise GatewayError(422, [_immutable(name) for name in changed])


def _immutable(name: str) -> Issue:
    return Issue(
        severity="error",
        code="business-rule",
        diagnostics=f"Task.{name} is kept by the gateway; a lab may change only "
        f"{', '.join(sorted(LAB_ELEMENTS))}.",
        expression=(f"Task.{name}",),
        error_code="ELEMENT_NOT_CHANGEABLE",
    )


def _reason(wanted: dict[str, Any]) -> str | None:
    reason = wanted.get("statusReason")
    if isinstance(reason, dict):
        text = reason.get("text") or next(
            (c.get("display") or c.get("code") for c in reason.get("coding", [])), None
        )
        return str(text) if text else None
    return None
