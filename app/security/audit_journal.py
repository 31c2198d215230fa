"""AuditEvents of reads, committed in batches: a read writes nothing else, and a commit of its own
per pull cost more than the pull. Each caller still waits until its event is committed, so no
answer leaves before its audit trail is on disk; the batch is whatever queued up while the previous
one was committing (group commit), so an idle gateway writes at once and a busy one in bulk.

On PostgreSQL the journal runs on the event loop and writes each batch as one statement on the
async pool (`LoopJournal`); elsewhere a writer thread commits through a session (`AuditJournal`).
Both take events from any thread (`submit`) or from the loop (`write`)."""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from app.store.async_reads import PostgresReader
from app.store.database import transaction
from app.store.pending import write_statement
from app.store.resources import insert_resource_rows, resource_row

MAX_BATCH = 500


@dataclass
class _Entry:
    event: dict[str, Any]
    epu: str
    moment: datetime
    written: Future[None] = field(default_factory=Future)


class Journal(Protocol):
    def submit(self, event: dict[str, Any], epu: str, moment: datetime) -> Future[None]:
        """From any thread: a future done once the event is committed (or failed)."""

    async def write(self, event: dict[str, Any], epu: str, moment: datetime) -> None:
        """From the event loop: returns once the event is committed."""

    def close(self) -> None: ...


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

    async def write(self, event: dict[str, Any], epu: str, moment: datetime) -> None:
        await asyncio.wrap_future(self.submit(event, epu, moment))

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


class LoopJournal:
    """The journal on the event loop: batches go out as one statement (resources and their
    version-1 rows together) on the async pool, no thread and no session in between."""

    def __init__(self, reader: PostgresReader, loop: asyncio.AbstractEventLoop) -> None:
        self._reader = reader
        self._loop = loop
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def submit(self, event: dict[str, Any], epu: str, moment: datetime) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(self.write(event, epu, moment), self._loop)

    async def write(self, event: dict[str, Any], epu: str, moment: datetime) -> None:
        written = self._loop.create_future()
        self._waiting.append((resource_row(event, epu, moment), written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        await written

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            statement, values = write_statement([], [], [row for row, _ in batch], [])
            try:
                await self._reader.execute(statement, values)
            except Exception as failure:  # every waiting request fails, none answers unaudited
                for _, written in batch:
                    if not written.done():  # a request whose client went away was cancelled
                        written.set_exception(failure)
            else:
                for _, written in batch:
                    if not written.done():
                        written.set_result(None)

    def close(self) -> None:
        """Nothing to do: a request waits for its own batch, so none is left once all answered."""


_journals: weakref.WeakKeyDictionary[Engine, Journal] = weakref.WeakKeyDictionary()
_journals_lock = threading.Lock()


def use_loop_journal(engine: Engine, reader: PostgresReader) -> None:
    """Run the engine's journal on the running event loop (PostgreSQL)."""
    with _journals_lock:
        _journals[engine] = LoopJournal(reader, asyncio.get_running_loop())


def journal_for(engine: Engine) -> Journal:
    """The engine's journal: the loop's if one was set up, else a writer thread started now."""
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
