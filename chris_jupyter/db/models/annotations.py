"""Annotations made in viewers (points, distances, text), saved with author and time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..base import Base, utcnow
from ..types import UTCDateTime
from .library import User


class Annotation(Base):
    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The volume it belongs to: "series:<uid>" or "path:<library path>".
    volume: Mapped[str] = mapped_column(String(1024), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "point" | "distance" | "roi"
    points: Mapped[list] = mapped_column(JSON)  # [[x, y, z], …] in mm (LPS)
    text: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship(lazy="joined")
