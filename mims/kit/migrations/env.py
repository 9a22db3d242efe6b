"""Alembic environment shared by every MIM.

``mims.kit.storage.migrate`` supplies an open connection and the MIM's own version table
(``alembic_version_<mim>``), so each MIM keeps a separate revision history even when several
MIMs share one PostgreSQL database. There is no alembic.ini and no offline (SQL script) mode:
migrations always run against the database the MIM is about to serve.
"""

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "OUP migrations run through mims.kit.storage.migrate(), which supplies the database connection"
    )

context.configure(connection=connection, version_table=config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
