"""Alembic migrations of the state store (shipped so an installed sfsync can migrate)."""
