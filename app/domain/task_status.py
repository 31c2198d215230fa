"""The prescription's state machine: which Task status moves each operation may make, in one table,
and how the group Task summarises its lines."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.errors import error


class Status(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Operation(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    UPDATE = "update"  # the lab reports progress on a line (PUT/PATCH)
    REMOVE = "remove"  # the biologist takes a line off (with a reason)
    CANCEL = "cancel"  # the prescriber withdraws the whole prescription
    RENEW = "renew"  # a renewable prescription starts its next round


S, Op = Status, Operation
LINE_MOVES: dict[tuple[Status, Status], frozenset[Operation]] = {
    (S.REQUESTED, S.ACCEPTED): frozenset({Op.CLAIM}),
    (S.ACCEPTED, S.REQUESTED): frozenset({Op.RELEASE}),
    (S.ACCEPTED, S.ACCEPTED): frozenset({Op.UPDATE}),
    (S.ACCEPTED, S.IN_PROGRESS): frozenset({Op.UPDATE}),
    (S.ACCEPTED, S.COMPLETED): frozenset({Op.UPDATE}),
    (S.IN_PROGRESS, S.IN_PROGRESS): frozenset({Op.UPDATE}),
    (S.IN_PROGRESS, S.COMPLETED): frozenset({Op.UPDATE}),
    (S.ACCEPTED, S.REJECTED): frozenset({Op.UPDATE}),
    (S.REQUESTED, S.CANCELLED): frozenset({Op.CANCEL}),
    (S.ACCEPTED, S.CANCELLED): frozenset({Op.CANCEL, Op.REMOVE}),
    (S.IN_PROGRESS, S.CANCELLED): frozenset({Op.CANCEL, Op.REMOVE}),
    (S.COMPLETED, S.REQUESTED): frozenset({Op.RENEW}),
    (S.REJECTED, S.REQUESTED): frozenset({Op.RENEW}),
}


def may_move(current: Status, target: Status, operation: Operation) -> bool:
    return operation in LINE_MOVES.get((current, target), frozenset())


def allowed_targets(current: Status, operation: Operation) -> list[str]:
    return sorted(
        target.value
        for (source, target), operations in LINE_MOVES.items()
        if source is current and operation in operations
    )


def check_move(current: Status, target: Status, operation: Operation, expression: str) -> None:
    """409 unless `operation` may move a line from `current` to `target`."""
    if may_move(current, target, operation):
        return
    allowed = allowed_targets(current, operation)
    raise error(
        409,
        "ILLEGAL_TRANSITION",
        f"A line cannot go from '{current}' to '{target}' by {operation}. "
        + (
            f"Allowed from '{current}': {', '.join(allowed)}."
            if allowed
            else "No move is allowed from here."
        ),
        expression,
        issue_type="business-rule",
    )


def group_status(lines: Iterable[Status], cancelled: bool = False) -> Status:
    """What the group Task shows for its lines' statuses."""
    statuses = list(lines)
    if cancelled or not statuses or all(s is S.CANCELLED for s in statuses):
        return S.CANCELLED
    live = [s for s in statuses if s is not S.CANCELLED]
    if all(s in (S.COMPLETED, S.REJECTED) for s in live):
        return S.COMPLETED
    if any(s in (S.IN_PROGRESS, S.COMPLETED, S.REJECTED) for s in live):
        return S.IN_PROGRESS
    if any(s is S.ACCEPTED for s in live):
        return S.ACCEPTED
    return S.REQUESTED
