"""Alembic environment shared by every MIM; the revisions live in each MIM's own folder."""
