"""Who is calling: the verified identity a request acts for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    LAB = "lab"
    ADMIN = "admin"


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    rpps: str | None = None
    lab: str | None = None

    @property
    def audit_name(self) -> str:
        """How audit records name the caller."""
        if self.role is Role.LAB:
            return f"lab {self.lab}" + (f" (biologist RPPS {self.rpps})" if self.rpps else "")
        if self.role is Role.PRESCRIBER:
            return f"prescriber RPPS {self.rpps}"
        return f"admin {self.subject}"
