"""Reads a FHIR R4 ValueSet (compose.include.concept and/or expansion.contains) or CodeSystem JSON.

French labels may sit in `display` or in a French designation; synonyms are designations whose use
is SNOMED CT "Synonym" (the code FHIR's designation-use value set offers) or plainly `synonym`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.terminology.concepts import LOINC_SYSTEM, REQUIRED_CONTEXT_EXTENSION, RequiredContext
from app.terminology.release import ParsedRelease, ReleaseBuilder, ReleaseFormatError

SYNONYM_USES = frozenset({"900000000000013009", "synonym"})

Json = dict[str, Any]


def parse_fhir_json(data: bytes) -> ParsedRelease:
    try:
        resource = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseFormatError(f"not JSON: {exc}") from exc
    if not isinstance(resource, dict):
        raise ReleaseFormatError("not a FHIR resource: the JSON is not an object")
    kind = resource.get("resourceType")
    if kind == "ValueSet":
        return parse_value_set(resource)
    if kind == "CodeSystem":
        return parse_code_system(resource)
    raise ReleaseFormatError(f"expected a ValueSet or CodeSystem, got {kind!r}")


def parse_value_set(resource: Json) -> ParsedRelease:
    builder = ReleaseBuilder()
    for i, include in enumerate(_objects(resource.get("compose", {}), "include")):
        ref = f"compose.include[{i}]"
        concepts = list(_objects(include, "concept"))
        if not concepts:
            builder.reject(ref, "no enumerated concepts (filters are not supported)")
        system = include.get("system")
        for j, concept in enumerate(concepts):
            if system != LOINC_SYSTEM:
                builder.reject(f"{ref}.concept[{j}]", f"system is not LOINC: {system!r}")
            else:
                _add(builder, f"{ref}.concept[{j}]", concept)
    for ref, entry in _contains(resource.get("expansion", {}), "expansion"):
        code = entry.get("code")
        # A release may list the same concepts in compose and in expansion: read them once.
        if isinstance(code, str) and builder.has(code):
            continue
        if entry.get("system") != LOINC_SYSTEM:
            builder.reject(ref, f"system is not LOINC: {entry.get('system')!r}")
        else:
            _add(builder, ref, entry)
    return builder.build(_text(resource.get("url")), _text(resource.get("version")))


def parse_code_system(resource: Json) -> ParsedRelease:
    builder = ReleaseBuilder()
    for ref, concept in _nested(resource, "concept", "concept"):
        _add(builder, ref, concept)
    return builder.build(_text(resource.get("url")), _text(resource.get("version")))


def _add(builder: ReleaseBuilder, ref: str, concept: Json) -> None:
    label = _text(concept.get("display"))
    synonyms: list[str] = []
    for designation in _objects(concept, "designation"):
        value = _text(designation.get("value"))
        if not _is_french(designation.get("language")):
            continue
        use = designation.get("use")
        if isinstance(use, dict) and use.get("code") in SYNONYM_USES:
            synonyms.append(value)
        elif value and use is None:
            # A French designation without a use is the French label; prefer it to `display`,
            # which some publishers leave in English.
            label = value
    contexts = [
        RequiredContext(_text(coding.get("code")), _text(coding.get("display")))
        for extension in _objects(concept, "extension")
        if extension.get("url") == REQUIRED_CONTEXT_EXTENSION
        and isinstance(coding := extension.get("valueCoding"), dict)
    ]
    builder.add(ref, _text(concept.get("code")), label, synonyms, contexts)


def _is_french(language: object) -> bool:
    return language is None or (isinstance(language, str) and language.lower().startswith("fr"))


def _objects(parent: object, key: str) -> Iterator[Json]:
    items = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, dict))


def _nested(parent: Json, key: str, path: str) -> Iterator[tuple[str, Json]]:
    """Every concept of a hierarchy (CodeSystem.concept.concept...), depth first, with its path."""
    for i, child in enumerate(_objects(parent, key)):
        ref = f"{path}[{i}]"
        yield ref, child
        yield from _nested(child, key, f"{ref}.{key}")


def _contains(expansion: object, path: str) -> Iterator[tuple[str, Json]]:
    if not isinstance(expansion, dict):
        return
    for ref, entry in _nested(expansion, "contains", f"{path}.contains"):
        # Abstract entries group others and cannot be requested.
        if not entry.get("abstract", False):
            yield ref, entry


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
