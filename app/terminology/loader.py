"""Picks the parser for a release file, and loads the curated subset the repository ships."""

from __future__ import annotations

from pathlib import Path

from app.terminology.fhir_json import parse_fhir_json
from app.terminology.index import Terminology
from app.terminology.release import ParsedRelease, ReleaseFormatError
from app.terminology.svs import parse_svs
from app.terminology.tabular import parse_csv, parse_xlsx

PROFILES_DIR = Path(__file__).resolve().parents[2] / "fhir_profiles"
DEFAULT_VALUE_SET = PROFILES_DIR / "terminology" / "ValueSet-jdv-loinc-circuit-biologie.json"


def parse_file(path: Path) -> ParsedRelease:
    """Reads a release by its extension: .json (FHIR), .xml (SVS), .csv or .xlsx.

    Tables carry no version, so theirs is the file name (the ANS dates its file names).
    """
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".json":
        return parse_fhir_json(data)
    if suffix == ".xml":
        return parse_svs(data)
    if suffix == ".csv":
        return parse_csv(data, version=path.stem)
    if suffix == ".xlsx":
        return parse_xlsx(data, version=path.stem)
    raise ReleaseFormatError(f"unsupported release format: {path.name}")


def load_default() -> Terminology:
    """The curated subset; any row it would refuse is a bug in the repository, so it raises."""
    release = parse_fhir_json(DEFAULT_VALUE_SET.read_bytes())
    if release.rejected:
        raise ReleaseFormatError(f"{DEFAULT_VALUE_SET.name} has bad rows: {release.rejected}")
    return release.terminology()
