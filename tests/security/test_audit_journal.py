"""The audit journal of reads: every event is committed before its read answers, and a read
whose client went away does not keep the others from theirs."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app.config import Settings
from app.security import audit
from app.security.audit_journal import LoopJournal
from app.security.caller import Caller, Role
from app.store.async_reads import PostgresReader, open_reader
from app.store.database import create_database_engine
from app.store.migrate import migrate
from app.store.tables import StoredResource
from app.workflow.access import now

EPU = "01S2TBPZ2JCNZZYGHD"
LAB = Caller(subject="lab-750000001", role=Role.LAB, lab="750000001")


def stored_audit_events(settings: Settings) -> int:
    engine = create_database_engine(settings)
    with Session(engine) as session:
        count = session.execute(
            select(func.count()).where(StoredResource.resource_type == "AuditEvent")
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_a_cancelled_read_does_not_keep_the_others_from_their_audit(settings: Settings) -> None:
    if settings.database_url is None:
        pytest.skip("the journal runs on the event loop on PostgreSQL only")

    async def two_pulls_one_cancelled() -> None:
        engine = create_database_engine(settings)
        migrate(engine)
        reader = await open_reader(engine)
        assert isinstance(reader, PostgresReader)
        journal = LoopJournal(reader, asyncio.get_running_loop())
        moment = now()
        events = [audit.audit_event(LAB, EPU, audit.Action.PULL, moment) for _ in range(2)]
        gone = asyncio.create_task(journal.write(events[0], EPU, moment))
        waiting = asyncio.create_task(journal.write(events[1], EPU, moment))
        await asyncio.sleep(0)  # both queued, and the writer scheduled behind them
        gone.cancel()
        await asyncio.wait_for(waiting, timeout=30)  # a stuck journal fails here, not hangs
        await reader.close()
        engine.dispose()

    asyncio.run(two_pulls_one_cancelled())

    assert stored_audit_events(settings) == 2
