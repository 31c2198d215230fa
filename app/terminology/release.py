"""What every import format produces: the concepts it could read and the rows it refused, with why.

A bad row never stops an import: the official release is large, and one typo should cost one line,
reported, not the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from app.terminology import loinc
from app.terminology.concepts import Concept, RequiredContext
from app.terminology.index import Terminology

Rejection = tuple[str, str]
"""(where in the file, why): e.g. ("line 7", "missing label")."""


class ReleaseFormatError(ValueError):
    """The whole file cannot be read (not JSON, no code column...), as opposed to one bad row."""


@dataclass(frozen=True)
class ParsedRelease:
    url: str
    version: str
    concepts: list[Concept]
    rejected: list[Rejection] = field(default_factory=list)

    def terminology(self) -> Terminology:
        return Terminology(self.url, self.version, self.concepts)


class ReleaseBuilder:
    """Collects rows in file order, checking each one, so parsers only have to find the fields."""

    def __init__(self) -> None:
        self._concepts: dict[str, Concept] = {}
        self._rejected: list[Rejection] = []

    def has(self, code: str) -> bool:
        return code.strip() in self._concepts

    def reject(self, ref: str, reason: str) -> None:
        self._rejected.append((ref, reason))

    def add(
        self,
        ref: str,
        code: str | None,
        display: str | None,
        synonyms: Iterable[str] = (),
        required_context: Iterable[RequiredContext] = (),
    ) -> None:
        code = (code or "").strip()
        display = " ".join((display or "").split())
        contexts = tuple(required_context)
        reason = _row_problem(code, display, contexts)
        if reason is None and code in self._concepts:
            reason = f"duplicate code {code}"
        if reason is not None:
            self.reject(ref, reason)
            return
        cleaned = (" ".join(synonym.split()) for synonym in synonyms)
        unique = tuple(dict.fromkeys(s for s in cleaned if s and s != display))
        self._concepts[code] = Concept(code, display, unique, contexts)

    def build(self, url: str, version: str) -> ParsedRelease:
        return ParsedRelease(url, version, list(self._concepts.values()), list(self._rejected))


def _row_problem(code: str, display: str, contexts: tuple[RequiredContext, ...]) -> str | None:
    if not code:
        return "missing code"
    if (problem := loinc.problem(code)) is not None:
        return problem
    if not display:
        return f"missing label for {code}"
    for context in contexts:
        if (problem := loinc.problem(context.code)) is not None:
            return f"required clinical context of {code}: {problem}"
    return None
