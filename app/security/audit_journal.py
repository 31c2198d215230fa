"""AuditEvents of reads, committed in batches: a read writes nothing else, and a commit of its own
per pull cost more than the pull. Each caller still waits until its event is committed, so no
answer leaves before its audit trail is on disk; the batch is whatever queued up while the previous
one was committing (group commit), so an idle gateway writes at once and a busy one in bulk."""

from __future__ import annotations

import queue
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.store.database import transaction
from app.store.resources import insert_resource_rows, resource_row

MAX_BATCH = 500


@dataclass
class _Entry:
    event: dict[str, Any]
    epu: str
    moment: datetime
    written: Future[None] = field(default_factory=Future)


class AuditJournal:
    """One writer thread per engine; the future `submit` returns is done once the event is
    committed (or failed): wait for it before answering."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_batches, name="audit-journal")
        self._writer.daemon = True
        self._writer.start()

    def submit(self, event: dict[str, Any], epu: str, moment: datetime) -> Future[None]:
        entry = _Entry(event, epu, moment)
        self._queue.put(entry)
        return entry.written

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._queue.put(None)
        self._writer.join()

    def _write_batches(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    closing = True
                    break
                batch.append(entry)
            self._commit(batch)

    def _commit(self, batch: list[_Entry]) -> None:
        try:
            with transaction(self._engine) as session:
                insert_resource_rows(
                    session, [resource_row(e.event, e.epu, e.moment) for e in batch]
                )
        except Exception as failure:  # every waiting request fails, none answers unaudited
            for entry in batch:
                entry.written.set_exception(failure)
        else:
            for entry in batch:
                entry.written.set_result(None)


_journals: weakref.WeakKeyDictionary[Engine, AuditJournal] = weakref.WeakKeyDictionary()
_journals_lock = threading.Lock()


def journal_for(engine: Engine) -> AuditJournal:
    """The engine's journal, started on first use."""
    with _journals_lock:
        journal = _journals.get(engine)
        if journal is None:
            journal = _journals[engine] = AuditJournal(engine)
        return journal


def close_journal(engine: Engine) -> None:
    with _journals_lock:
        journal = _journals.pop(engine, None)
    if journal is not None:
        journal.close()
