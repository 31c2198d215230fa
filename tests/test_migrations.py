"""The migrations make the schema the models describe: nothing a model declares (an index the
purge relies on, say) is missing from a database the gateway migrated."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.store.tables  # noqa: F401  (the models register their tables)
from app.config import Settings
from app.store.database import create_database_engine
from app.store.migrate import migrate


def test_a_migrated_database_has_every_table_and_index_of_the_models(settings: Settings) -> None:
    engine = create_database_engine(settings)
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    missing = [d for d in differences if d[0] in ("add_table", "add_index", "add_column")]
    assert missing == []
