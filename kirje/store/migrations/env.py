"""Alembic environment: runs migrations on the connection kirje.store.migrate hands over."""

from alembic import context

from kirje.store.migrate import is_ours
from kirje.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    include_name=is_ours,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
