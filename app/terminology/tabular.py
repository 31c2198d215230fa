"""Reads the JDV as a table: CSV (separator `;`, `,` or tab, found from the header) or XLSX.

Columns are recognised by name, whatever the case or accents: code, libellé, synonymes and
contexte_clinique_requis (and their usual English spellings). Lists inside a cell are separated by
`|` or `;`; a context is a LOINC code optionally followed by its label ("8665-2 Date des règles").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from app.terminology.concepts import JDV_URL, RequiredContext
from app.terminology.index import search_key
from app.terminology.release import ParsedRelease, ReleaseBuilder, ReleaseFormatError

_COLUMNS = {
    "code": {"code", "code_loinc", "loinc", "loinc_code", "loinc_num"},
    "display": {"libelle", "libelle_fr", "libelle_francais", "display", "label", "designation"},
    "synonyms": {"synonymes", "synonyme", "synonyms", "synonym"},
    "context": {
        "contexte_clinique_requis",
        "contexte_clinique",
        "information_clinique_requise",
        "required_context",
        "required_clinical_context",
    },
}
_LIST_SEPARATOR = re.compile(r"[|;]")
_CONTEXT = re.compile(r"^(\S+?)(?:\s*[:\s]\s*(.*))?$")
_NO_CONTEXT = {"", "non", "no", "false", "0", "aucun", "aucune"}

Cell = str | int | float | None


def parse_csv(data: bytes, *, version: str, url: str = JDV_URL) -> ParsedRelease:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    separator = max(";,\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header = next(reader, None)
    if header is None:
        raise ReleaseFormatError("empty CSV file")
    rows = ((f"line {reader.line_num}", row) for row in reader)
    return _read(header, rows, url, version)


def parse_xlsx(data: bytes, *, version: str, url: str = JDV_URL) -> ParsedRelease:
    # openpyxl is only needed by this format; importing it here keeps the package light.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError or its own errors alike
        raise ReleaseFormatError(f"not an XLSX workbook: {exc}") from exc
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise ReleaseFormatError("empty XLSX sheet")
        rows = ((f"{sheet.title}!{n}", row) for n, row in enumerate(values, start=2))
        return _read(header, rows, url, version)
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheets saved "as CSV" on French Windows write Windows-1252.
        return data.decode("cp1252")


def _read(
    header: Sequence[Cell],
    rows: Iterable[tuple[str, Sequence[Cell]]],
    url: str,
    version: str,
) -> ParsedRelease:
    columns = _locate(header)
    builder = ReleaseBuilder()
    for ref, row in rows:
        cells = {name: _cell(row, index) for name, index in columns.items()}
        if not any(_cell(row, index) for index in range(len(row))):
            continue
        contexts = _contexts(cells.get("context", ""))
        if contexts is None:
            builder.reject(ref, f"unreadable clinical context: {cells.get('context')!r}")
            continue
        synonyms = _split(cells.get("synonyms", ""))
        builder.add(ref, cells["code"], cells["display"], synonyms, contexts)
    return builder.build(url, version)


def _locate(header: Sequence[Cell]) -> dict[str, int]:
    names = [search_key(str(cell or "")).replace(" ", "_") for cell in header]
    columns: dict[str, int] = {}
    for field, aliases in _COLUMNS.items():
        index = next((i for i, name in enumerate(names) if name in aliases), None)
        if index is not None:
            columns[field] = index
    missing = {"code", "display"} - columns.keys()
    if missing:
        raise ReleaseFormatError(f"no {' or '.join(sorted(missing))} column in header {header!r}")
    return columns


def _cell(row: Sequence[Cell], index: int) -> str:
    value = row[index] if index < len(row) else None
    return "" if value is None else str(value).strip()


def _split(cell: str) -> list[str]:
    return [part.strip() for part in _LIST_SEPARATOR.split(cell) if part.strip()]


def _contexts(cell: str) -> list[RequiredContext] | None:
    """The contexts listed in `cell`, or None when it says something other than codes or "non"."""
    if cell.lower() in _NO_CONTEXT:
        return []
    contexts = []
    for part in _split(cell):
        match = _CONTEXT.match(part)
        if match is None or not match.group(1)[0].isdigit():
            return None
        code, display = match.group(1), match.group(2) or ""
        contexts.append(RequiredContext(code, display.strip() or code))
    return contexts
