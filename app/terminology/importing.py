"""Imports a release file into the database and makes it the active one, or refuses it whole."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from app.store.terminology_releases import Activation, NewRelease, store_and_activate
from app.terminology.loader import parse_file
from app.terminology.release import ParsedRelease, Rejection, ReleaseFormatError
from app.terminology.serialised import concepts_to_json, content_hash

SHOWN_REJECTIONS = 20


class ReleaseRefused(ReleaseFormatError):
    """The file was read but is not a release to serve (no valid row, no URL...)."""

    def __init__(self, message: str, rejected: list[Rejection]) -> None:
        super().__init__(message)
        self.rejected = rejected


@dataclass(frozen=True)
class ImportReport:
    url: str
    version: str
    accepted: int
    rejected: list[Rejection]
    release_id: int
    activation: Activation

    def lines(self) -> list[str]:
        """What the command prints: counts, the first rejected rows with why, the outcome."""
        printed = [
            f"{_counted(self.accepted, 'concept')} accepted, "
            f"{_counted(len(self.rejected), 'row')} rejected"
        ]
        printed += describe_rejections(self.rejected)
        name = f"{self.url}|{self.version}"
        printed.append(
            {
                Activation.STORED: f"stored {name} as release {self.release_id}; it is now active",
                Activation.ALREADY_ACTIVE: f"already loaded: {name} is the active release; "
                "nothing changed",
                Activation.REACTIVATED: f"already loaded: {name} (release {self.release_id}) "
                "is active again",
            }[self.activation]
        )
        return printed


def import_file(engine: Engine, path: Path, version: str | None = None) -> ImportReport:
    """Parse `path`, store it and switch to it. Raises ReleaseFormatError (and ReleaseRefused)
    or VersionConflict, leaving the active release as it was."""
    release = parse_file(path)
    if version:
        release = dataclasses.replace(release, version=version)
    _refuse_unservable(release)
    concepts = concepts_to_json(release.concepts)
    release_id, activation = store_and_activate(
        engine,
        NewRelease(
            release.url, release.version, content_hash(concepts), len(release.concepts), concepts
        ),
        datetime.now(UTC),
    )
    return ImportReport(
        release.url,
        release.version,
        len(release.concepts),
        release.rejected,
        release_id,
        activation,
    )


def describe_rejections(rejected: list[Rejection]) -> list[str]:
    shown = [f"  rejected {where}: {why}" for where, why in rejected[:SHOWN_REJECTIONS]]
    if len(rejected) > SHOWN_REJECTIONS:
        shown.append(f"  ... and {len(rejected) - SHOWN_REJECTIONS} more")
    return shown


def _refuse_unservable(release: ParsedRelease) -> None:
    if not release.concepts:
        raise ReleaseRefused(
            f"no valid row ({len(release.rejected)} rejected): the active release is kept",
            release.rejected,
        )
    if not release.url or not release.version:
        # Clients name the value set by its URL, and the version tells releases apart.
        raise ReleaseRefused("the release has no URL or no version", release.rejected)
    # Building the index checks for duplicates the parsers let through, before anything is stored.
    release.terminology()


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
