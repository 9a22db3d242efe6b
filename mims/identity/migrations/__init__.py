"""Alembic migrations of the identity MIM (applied by ``mims.kit.storage.migrate``)."""
