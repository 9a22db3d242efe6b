"""Alembic migrations of the gateway (applied by ``mims.kit.storage.migrate``)."""
