"""Adapt: the biologist of the lab holding the prescription adds an exam, or replaces one
(`basedOn` the line it replaces, whose Task is cancelled with the reason)."""

from __future__ import annotations

from typing import Any

from app.domain import epu_id
from app.domain.errors import GatewayError, Issue, error
from app.domain.task_status import Operation, Status
from app.fhir.identifiers import (
    LOINC,
    PROFILE_SERVICE_REQUEST,
    epu_identifier,
    lab_identifier,
    rpps_identifier,
)
from app.fhir.structure import check_resource
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.resources import current, insert_resource, loads, new_ids
from app.store.sql import Unit
from app.terminology.index import Terminology
from app.workflow.access import now
from app.workflow.audited import audited
from app.workflow.create import task_resource
from app.workflow.state import (
    Held,
    TaskVersion,
    load,
    move,
    record_provenance,
    refuse_if_closed,
    refuse_unless_holder,
    round_input,
    summarise,
)


def adapt(
    database: Database,
    terminology: Terminology,
    caller: Caller,
    request: dict[str, Any],
    reason: str | None,
    address: str | None,
) -> dict[str, Any]:
    """Store the biologist's ServiceRequest with its Task; returns the stored ServiceRequest."""
    _check_shape(request, terminology)
    epu = _requisition(request)

    def work(session: Unit, epu: str) -> dict[str, Any]:
        moment = now()
        held = load(session, caller, epu, expression="ServiceRequest.requisition")
        refuse_if_closed(held, moment)
        refuse_unless_holder(held, caller)
        replaced = _replaced_line(session, held, request)
        if replaced is not None and not reason:
            raise error(
                422,
                "REASON_REQUIRED",
                "Replacing a line needs a reason: send it as the X-Provenance header's "
                "reason[0].text.",
                "ServiceRequest.basedOn",
                issue_type="required",
            )
        line_id, task_id = new_ids(2)
        service_request = _as_stored(session, held, request, line_id, caller)
        insert_resource(session, service_request, epu, moment)
        task = task_resource(
            task_id, epu, held.group.resource["authoredOn"],
            service_request["requester"], held.group.resource["for"]["reference"], moment,
        )  # fmt: skip
        task["focus"] = {"reference": f"ServiceRequest/{line_id}"}
        task["partOf"] = [{"reference": f"Task/{held.group.id}"}]
        task["status"] = Status.ACCEPTED.value
        task["owner"] = {"identifier": lab_identifier(str(caller.lab))}
        if held.prescription.rounds_total > 1:
            task["input"] = [round_input(held.prescription.round)]
        insert_resource(session, task, epu, moment)
        held.lines.append(TaskVersion(task, 1))
        targets = [service_request, task]
        if replaced is not None:
            move(session, replaced, Status.CANCELLED, Operation.REMOVE, moment, reason=reason)
            targets.append(replaced.resource)
        summarise(session, held, moment)
        record_provenance(session, caller, epu, targets, "adapt", moment, reason)
        return service_request

    return audited(database, caller, epu, audit.Action.ADAPT, address, work)


def _check_shape(request: Any, terminology: Terminology) -> None:
    issues = check_resource(request, "ServiceRequest")
    if issues:
        raise GatewayError(400, issues)
    problems: list[Issue] = []
    if request.get("intent") != "filler-order":
        problems.append(
            _rule("ServiceRequest.intent", "A biologist's line has intent 'filler-order'.")
        )
    if request.get("status", "active") != "active":
        problems.append(_rule("ServiceRequest.status", "A new line has status 'active'."))
    code = request.get("code") or {}
    loinc = [c for c in code.get("coding", []) if c.get("system") == LOINC]
    for index, coding in enumerate(code.get("coding", [])):
        if coding.get("system") == LOINC and terminology.lookup(str(coding.get("code"))) is None:
            problems.append(
                _rule(
                    f"ServiceRequest.code.coding[{index}].code",
                    f"LOINC {str(coding.get('code'))[:20]} is not in the value set {terminology.url}.",
                    "CODE_NOT_IN_VALUESET",
                )
            )
    if not loinc and not str(code.get("text") or "").strip():
        problems.append(_rule("ServiceRequest.code", "A line needs a LOINC coding or code.text."))
    if problems:
        raise GatewayError(422, problems)


def _requisition(request: dict[str, Any]) -> str:
    requisition = request.get("requisition") or {}
    if requisition.get("system") != epu_id.EPU_SYSTEM or not requisition.get("value"):
        raise error(
            422,
            "REQUISITION_REQUIRED",
            f"A biologist's line names the prescription in requisition ({epu_id.EPU_SYSTEM}).",
            "ServiceRequest.requisition",
        )
    return epu_id.normalise(str(requisition["value"]), "ServiceRequest.requisition.value")


def _replaced_line(session: Unit, held: Held, request: dict[str, Any]) -> TaskVersion | None:
    based_on = request.get("basedOn") or []
    if not based_on:
        return None
    if len(based_on) > 1:
        raise error(422, "ONE_LINE_AT_A_TIME", "A new line replaces at most one line.",
                    "ServiceRequest.basedOn")  # fmt: skip
    reference = str(based_on[0].get("reference") or "")
    line = next((task for task in held.lines if task.focus == reference), None)
    row = current(session, "ServiceRequest", reference.removeprefix("ServiceRequest/"))
    if line is None or row is None or row.epu != held.epu:
        raise error(
            422,
            "UNKNOWN_LINE",
            "basedOn must reference a line (ServiceRequest/<id>) of this prescription.",
            "ServiceRequest.basedOn[0].reference",
        )
    return line


def _as_stored(
    session: Unit, held: Held, request: dict[str, Any], line_id: str, caller: Caller
) -> dict[str, Any]:
    stored = {k: v for k, v in request.items() if k not in ("meta", "text", "contained")}
    first_line = next(task for task in held.lines if task.focus)
    original = current(
        session, "ServiceRequest", str(first_line.focus).removeprefix("ServiceRequest/")
    )
    assert original is not None
    stored.update(
        {
            "id": line_id,
            "meta": {"profile": [PROFILE_SERVICE_REQUEST]},
            "status": "active",
            "requisition": epu_identifier(held.epu),
            "subject": loads(original)["subject"],
            "requester": {"identifier": rpps_identifier(caller.rpps)}
            if caller.rpps
            else {"identifier": lab_identifier(str(caller.lab))},
        }
    )
    stored.setdefault(
        "category",
        [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "laboratory"}]}],
    )  # fmt: skip
    return stored


def _rule(expression: str, diagnostics: str, code: str = "INVALID_RESOURCE") -> Issue:
    return Issue("error", "invariant", diagnostics, (expression,), code)
