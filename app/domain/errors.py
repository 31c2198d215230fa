"""Typed domain errors: each carries the HTTP status, the stable machine code and the FHIRPath
of the faulty element, so one handler can turn any of them into an OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR_SYSTEM = "https://epu-gateway/error"


@dataclass(frozen=True)
class Issue:
    """One problem found in a request, as FHIR OperationOutcome.issue needs it."""

    severity: str  # fatal | error | warning | information
    code: str  # FHIR issue-type: invalid, not-found, conflict, security, ...
    diagnostics: str
    expression: tuple[str, ...] = ()
    error_code: str | None = None  # our stable code, e.g. EPU_MALFORMED


@dataclass
class GatewayError(Exception):
    """A request the gateway refuses. `issues` holds every problem found, the first is the main one."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)


def error(
    status: int,
    error_code: str | None,
    diagnostics: str,
    expression: str | None = None,
    issue_type: str = "invalid",
    headers: dict[str, str] | None = None,
) -> GatewayError:
    """Build a GatewayError with a single issue."""
    issue = Issue(
        severity="error",
        code=issue_type,
        diagnostics=diagnostics,
        expression=(expression,) if expression else (),
        error_code=error_code,
    )
    return GatewayError(status=status, issues=[issue], headers=headers or {})


def version_conflict(resource_type: str, resource_id: str, seen_version: int) -> GatewayError:
    """412: the resource moved on since the version the client (or an operation) read."""
    return error(
        412,
        "VERSION_CONFLICT",
        f"{resource_type}/{resource_id[:64]} changed since version {seen_version}: "
        "read it again and retry.",
        f"{resource_type}.meta.versionId",
        issue_type="conflict",
    )
