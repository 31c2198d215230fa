"""Reads an IHE SVS RetrieveValueSetResponse, the XML the ANS publishes its JDVs in.

<ValueSet id="OID" displayName="..." version="..."><ConceptList>
  <Concept code="2842-3" displayName="..." codeSystem="2.16.840.1.113883.6.1"/>
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app.terminology.concepts import LOINC_OID
from app.terminology.release import ParsedRelease, ReleaseBuilder, ReleaseFormatError


def parse_svs(data: bytes) -> ParsedRelease:
    # A value set needs no DTD; refusing them closes the door on entity-expansion tricks.
    if b"<!DOCTYPE" in data[:4096].upper():
        raise ReleaseFormatError("SVS file declares a DTD, which is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ReleaseFormatError(f"not XML: {exc}") from exc
    value_set = next((node for node in root.iter() if _local(node.tag) == "ValueSet"), None)
    if value_set is None:
        raise ReleaseFormatError("no SVS ValueSet element")
    builder = ReleaseBuilder()
    concepts = [node for node in value_set.iter() if _local(node.tag) == "Concept"]
    for i, node in enumerate(concepts):
        ref = f"Concept[{i}]"
        system = node.get("codeSystem", LOINC_OID)
        if system != LOINC_OID:
            builder.reject(ref, f"codeSystem is not LOINC: {system!r}")
        else:
            builder.add(ref, node.get("code"), node.get("displayName"))
    oid = value_set.get("id", "").strip()
    return builder.build(f"urn:oid:{oid}" if oid else "", value_set.get("version", "").strip())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
