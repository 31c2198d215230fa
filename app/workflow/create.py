"""Create: a prescriber's transaction Bundle becomes a stored prescription with its EPU ID."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.config import Settings
from app.domain import epu_id
from app.domain.errors import Issue, error
from app.fhir.identifiers import (
    PROFILE_SERVICE_REQUEST,
    PROFILE_TASK,
    epu_identifier,
)
from app.fhir.prescription_bundle import Entry, PrescriptionDraft, read_prescription_bundle
from app.fhir.transaction_response import transaction_response
from app.security import audit
from app.security.caller import Caller
from app.store.changes import Database
from app.store.database import transaction
from app.store.prescriptions import (
    PrescriptionRecord,
    insert_idempotency_record,
    insert_prescription,
    read_idempotency_record,
)
from app.store.resources import insert_resources, instant, new_ids
from app.store.sql import DuplicateKey, Unit
from app.terminology.index import Terminology
from app.workflow.state import round_input

TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"


@dataclass(frozen=True)
class Created:
    epu: str
    response: dict[str, Any]
    replayed: bool


def create_prescription(
    database: Database,
    settings: Settings,
    terminology: Terminology,
    caller: Caller,
    bundle: dict[str, Any],
    idempotency_key: str | None,
    address: str | None,
) -> Created:
    key = _idempotency_key(caller, bundle, idempotency_key)
    content_hash = hashlib.sha256(orjson.dumps(bundle, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if key:
        with transaction(database) as session:
            earlier = _replay(session, key, content_hash)
        if earlier:
            return earlier
    draft = read_prescription_bundle(bundle, caller, terminology)
    try:
        with transaction(database) as session:
            return _store(session, settings, caller, draft, key, content_hash, address)
    except DuplicateKey:
        # The same request, sent twice at once, was stored by the other one first.
        if key is None:
            raise
        with transaction(database) as session:
            earlier = _replay(session, key, content_hash)
        if earlier is None:
            raise
        return earlier


def _idempotency_key(caller: Caller, bundle: dict[str, Any], header: str | None) -> str | None:
    identifier = bundle.get("identifier") if isinstance(bundle, dict) else None
    if header:
        return f"{caller.rpps}|header|{header[:300]}"
    if isinstance(identifier, dict) and identifier.get("value"):
        return (
            f"{caller.rpps}|{str(identifier.get('system'))[:150]}|{str(identifier['value'])[:150]}"
        )
    return None


def _replay(session: Unit, key: str, content_hash: str) -> Created | None:
    record = read_idempotency_record(session, key)
    if record is None:
        return None
    stored_hash, epu, response = record
    if stored_hash != content_hash:
        raise error(
            409,
            "IDEMPOTENCY_CONFLICT",
            "This Bundle.identifier (or Idempotency-Key) was already used for a different "
            "prescription; use a new identifier for a new prescription.",
            "Bundle.identifier",
            issue_type="duplicate",
        )
    return Created(epu=epu, response=orjson.loads(response), replayed=True)


def _store(
    session: Unit,
    settings: Settings,
    caller: Caller,
    draft: PrescriptionDraft,
    key: str | None,
    content_hash: str,
    address: str | None,
) -> Created:
    moment = datetime.now(UTC)
    epu = epu_id.generate()
    lines = draft.of_type("ServiceRequest")
    ids = new_ids(len(draft.entries) + 1 + len(lines))
    local_refs = {
        entry.full_url: f"{entry.resource_type}/{ids[entry.index]}" for entry in draft.entries
    }
    created: list[tuple[dict[str, Any], list[Issue]]] = []
    for entry in draft.entries:
        resource = _as_stored(entry, ids[entry.index], epu, local_refs)
        created.append(
            (resource, [i for i in draft.issues if i.expression[0].startswith(entry.path)])
        )

    group_id = ids[len(draft.entries)]
    patient_ref = local_refs[draft.patient.full_url]
    requester_ref = local_refs[draft.practitioner.full_url]
    group = _task(group_id, epu, draft, requester_ref, patient_ref, moment)
    created.append((group, []))
    for offset, line in enumerate(lines):
        task = _task(
            ids[len(draft.entries) + 1 + offset], epu, draft, requester_ref, patient_ref, moment
        )
        task["focus"] = {"reference": local_refs[line.full_url]}
        task["partOf"] = [{"reference": f"Task/{group_id}"}]
        created.append((task, []))
    insert_resources(session, [resource for resource, _ in created], epu, moment)

    insert_prescription(
        session,
        PrescriptionRecord(
            epu=epu,
            prescriber_rpps=str(caller.rpps),
            status="requested",
            owner_lab=None,
            group_task_id=group_id,
            authored_on=draft.authored_on,
            expires_at=draft.authored_on + timedelta(days=settings.prescription_validity_days),
            rounds_total=draft.rounds_total,
            round=1,
            last_updated=moment,
            version=1,
        ),
    )
    audit.record(session, caller, epu, audit.Action.CREATE, moment, address=address)
    base = settings.public_base_url.rstrip("/")
    response = transaction_response(epu, base, created, document_links(base, epu))
    if key:
        insert_idempotency_record(session, key, content_hash, epu, orjson.dumps(response), moment)
    return Created(epu=epu, response=response, replayed=False)


def document_links(base: str, epu: str) -> dict[str, str]:
    return {
        "https://epu-gateway/link/qr-png": f"{base}/epu/{epu}/qr.png",
        "https://epu-gateway/link/qr-svg": f"{base}/epu/{epu}/qr.svg",
        "https://epu-gateway/link/ordonnance": f"{base}/epu/{epu}/ordonnance.pdf",
    }


def _as_stored(
    entry: Entry, resource_id: str, epu: str, local_refs: dict[str, str]
) -> dict[str, Any]:
    resource = _rewrite_references(entry.resource, local_refs)
    resource["id"] = resource_id
    resource.pop("meta", None)
    if entry.resource_type == "ServiceRequest":
        resource["requisition"] = epu_identifier(epu)
        resource["meta"] = {"profile": [PROFILE_SERVICE_REQUEST]}
    assert isinstance(resource, dict)
    return resource


def _rewrite_references(node: Any, local_refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        rewritten = {key: _rewrite_references(value, local_refs) for key, value in node.items()}
        reference = node.get("reference")
        if isinstance(reference, str) and reference in local_refs:
            rewritten["reference"] = local_refs[reference]
        return rewritten
    if isinstance(node, list):
        return [_rewrite_references(item, local_refs) for item in node]
    return node


def task_resource(
    task_id: str,
    epu: str,
    authored_on: str,
    requester: dict[str, Any],
    patient_ref: str,
    moment: datetime,
) -> dict[str, Any]:
    """A `requested` Task of this prescription; lines add focus and partOf."""
    return {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"profile": [PROFILE_TASK]},
        "groupIdentifier": epu_identifier(epu),
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]},
        "authoredOn": authored_on,
        "lastModified": instant(moment),
        "requester": requester,
        "for": {"reference": patient_ref},
    }


def _task(
    task_id: str,
    epu: str,
    draft: PrescriptionDraft,
    requester_ref: str,
    patient_ref: str,
    moment: datetime,
) -> dict[str, Any]:
    task = task_resource(
        task_id, epu, instant(draft.authored_on), {"reference": requester_ref}, patient_ref, moment
    )
    if draft.rounds_total > 1:
        task["restriction"] = {"repetitions": draft.rounds_total}
        task["input"] = [round_input(1)]
    return task
