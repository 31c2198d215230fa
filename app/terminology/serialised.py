"""A release's concepts as JSON bytes, the form the database keeps them in, and back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

from app.terminology.concepts import Concept, RequiredContext


def concepts_to_json(concepts: Iterable[Concept]) -> bytes:
    return orjson.dumps([_concept_object(concept) for concept in concepts])


def concepts_from_json(data: bytes) -> list[Concept]:
    """The concepts stored by concepts_to_json; ValueError when the bytes are not that."""
    try:
        return [
            Concept(
                item["code"],
                item["display"],
                tuple(item["synonyms"]),
                tuple(RequiredContext(c["code"], c["display"]) for c in item["required_context"]),
            )
            for item in orjson.loads(data)
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"stored concepts are not in the expected shape: {exc!r}") from exc


def content_hash(concepts_json: bytes) -> str:
    return hashlib.sha256(concepts_json).hexdigest()


def _concept_object(concept: Concept) -> dict[str, Any]:
    return {
        "code": concept.code,
        "display": concept.display,
        "synonyms": list(concept.synonyms),
        "required_context": [
            {"code": context.code, "display": context.display}
            for context in concept.required_context
        ],
    }
