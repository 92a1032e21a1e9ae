"""Metadata database: SQLAlchemy models, sessions and Alembic migrations."""

from .base import Base, utcnow
from .session import Database

__all__ = ["Base", "Database", "utcnow"]
