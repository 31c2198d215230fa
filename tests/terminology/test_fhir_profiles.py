"""Every conformance resource under fhir_profiles/ is valid FHIR and the pieces fit together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from app.terminology.loader import PROFILES_DIR

OURS = "https://epu-gateway/fhir/"
FILES = sorted(PROFILES_DIR.rglob("*.json"))


def load(path: Path) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return resource


def conformance() -> list[dict[str, Any]]:
    return [r for r in map(load, FILES) if r["resourceType"] != "Bundle" and "url" in r]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_each_file_is_a_valid_r4_resource(path: Path) -> None:
    resource = load(path)
    # fhir.resources 8 has no plain R4 package; R4B shares R4's conformance resources.
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_canonical_urls_are_unique() -> None:
    urls = [resource["url"] for resource in conformance()]
    assert len(urls) == len(set(urls))


def test_extensions_live_under_our_base_and_are_named_after_their_id() -> None:
    extensions = [r for r in conformance() if r.get("type") == "Extension"]
    assert {r["id"] for r in extensions} >= {
        "epu-ald",
        "epu-atmp",
        "epu-prevention",
        "epu-non-reimbursable",
        "epu-out-of-nomenclature",
        "epu-result-copy-to",
        "epu-result-channel",
        "epu-required-clinical-context",
    }
    for extension in extensions:
        assert extension["url"] == f"{OURS}StructureDefinition/{extension['id']}"


def test_everything_we_reference_is_shipped() -> None:
    shipped = {resource["url"] for resource in conformance()}
    referenced = set()
    for resource in conformance():
        for element in resource.get("differential", {}).get("element", []):
            for kind in element.get("type", []):
                referenced.update(kind.get("profile", []) + kind.get("targetProfile", []))
            referenced.add(element.get("binding", {}).get("valueSet", ""))
        for include in resource.get("compose", {}).get("include", []):
            referenced.add(include.get("system", ""))
    ours = {url for url in referenced if url.startswith(OURS)}
    assert ours <= shipped, ours - shipped
