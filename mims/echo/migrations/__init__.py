"""Alembic migrations of the echo MIM (applied by ``mims.kit.storage.migrate``)."""
