"""The release every request validates against: the active one in the database, else the curated
subset; re-checked at most every few seconds, so several instances follow an import without a
restart while a request costs one clock read."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.store.terminology_releases import active_release_id, read_release
from app.terminology.index import Terminology
from app.terminology.serialised import concepts_from_json

log = logging.getLogger("epu.terminology")


class CurrentTerminology:
    def __init__(
        self,
        engine: Engine,
        default: Terminology,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._default = default
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._release_id: int | None = None
        self._terminology = default
        self._due = clock()

    def get(self) -> Terminology:
        # One thread checks when due; the others go on with the release they have rather than
        # queue behind a database read.
        if self._clock() >= self._due and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        return self._terminology

    def refresh(self) -> Terminology:
        """Check now: for the process that has just imported, and at start."""
        with self._lock:
            self._check()
        return self._terminology

    def _check(self) -> None:
        try:
            release_id = active_release_id(self._engine)
            if release_id != self._release_id:
                self._terminology = self._load(release_id)
                self._release_id = release_id
                log.info(
                    "terminology %s|%s active (%d concepts)",
                    self._terminology.url,
                    self._terminology.version,
                    self._terminology.size,
                )
        except (SQLAlchemyError, LookupError, ValueError):
            # Keep serving the release we have; the next check tries again.
            log.exception("could not check the active terminology release")
        self._due = self._clock() + self._refresh_seconds

    def _load(self, release_id: int | None) -> Terminology:
        if release_id is None:
            return self._default
        row = read_release(self._engine, release_id)
        return Terminology(row.url, row.version, concepts_from_json(row.concepts))
