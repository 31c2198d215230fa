"""OperationOutcome: how every refusal, warning and note reaches a client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.domain.errors import ERROR_SYSTEM, Issue


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [outcome_issue(i) for i in issues]}


def outcome_issue(issue: Issue) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue.code,
        "diagnostics": issue.diagnostics,
    }
    if issue.error_code:
        entry["details"] = {
            "coding": [{"system": ERROR_SYSTEM, "code": issue.error_code}],
            "text": issue.diagnostics,
        }
    if issue.expression:
        entry["expression"] = list(issue.expression)
    return entry
