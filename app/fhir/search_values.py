"""Reading the EPU out of a token search parameter (`requisition`, `group-identifier`,
`entity-identifier`): `system|code`, `|code` or the bare code, typed in any accepted spelling."""

from __future__ import annotations

from app.domain import epu_id
from app.domain.errors import error


def epu_of_token(value: str | None, parameter: str) -> str:
    if not value:
        raise error(
            400,
            "SEARCH_NOT_SUPPORTED",
            f"This search finds one prescription by its EPU: ?{parameter}={epu_id.EPU_SYSTEM}|<EPU>.",
            parameter,
            issue_type="not-supported",
        )
    system, separator, code = value.rpartition("|")
    if separator and system not in ("", epu_id.EPU_SYSTEM):
        raise error(
            400,
            "UNKNOWN_IDENTIFIER_SYSTEM",
            f"{parameter}'s system must be {epu_id.EPU_SYSTEM}.",
            parameter,
        )
    return epu_id.normalise(code, parameter)
