"""Search answers built from stored JSON bytes: the hot read paths never rebuild models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import orjson


class Hit(NamedTuple):
    resource_type: str
    id: str
    body: bytes
    mode: str = "match"  # match | include


def searchset(
    base_url: str,
    hits: Iterable[Hit],
    self_link: str,
    total: int | None = None,
    links: dict[str, str] | None = None,
    bundle_type: str = "searchset",
) -> bytes:
    """A searchset (or history) Bundle; `total` counts the matches (default: the match hits)."""
    hits = list(hits)
    matches = sum(1 for hit in hits if hit.mode == "match") if total is None else total
    all_links = {"self": self_link, **(links or {})}
    head = {
        "resourceType": "Bundle",
        "type": bundle_type,
        "total": matches,
        "link": [{"relation": relation, "url": url} for relation, url in all_links.items()],
    }
    parts = [orjson.dumps(head)[:-1], b',"entry":[']
    for index, hit in enumerate(hits):
        if index:
            parts.append(b",")
        parts += [
            b'{"fullUrl":',
            orjson.dumps(f"{base_url}/fhir/{hit.resource_type}/{hit.id}"),
            b',"resource":',
            hit.body,
            b',"search":{"mode":"' + hit.mode.encode() + b'"}}'
            if bundle_type == "searchset"
            else b"}",
        ]
    parts.append(b"]}")
    return b"".join(parts)
