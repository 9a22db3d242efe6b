"""Alembic revisions of the context MIM's schema."""
