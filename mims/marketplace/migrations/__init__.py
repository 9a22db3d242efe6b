"""Alembic migrations of the marketplace MIM (applied by ``mims.kit.storage.migrate``)."""
