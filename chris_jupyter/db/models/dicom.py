"""The DICOM header index: patients, studies, series and instances found in the library.

One row per SOP instance file (``dicom_instances``), grouped in series, studies and patients.
Rows of the upper levels are keyed by the PACS the data came from (``pacs``; ``NULL`` for files
that were uploaded or produced by plugins), so the same series pulled from two PACS stays two
series — the original ChRIS keeps PACS series unique per (PACS, SeriesInstanceUID). The
uniqueness of the upper levels uses ``coalesce(pacs, '')`` so that ``NULL`` counts as one value
on both SQLite and PostgreSQL. An instance is unique by SOPInstanceUID over the whole index.

Dates are stored as ``YYYYMMDD`` strings, exactly as DICOM writes them: they compare correctly
as text, and a malformed date stays searchable instead of being lost.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..base import Base, utcnow
from ..types import UTCDateTime


class DicomPatient(Base):
    __tablename__ = "dicom_patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pacs: Mapped[str | None] = mapped_column(String(64), nullable=True)
    patient_id: Mapped[str] = mapped_column(String(64), default="")
    patient_name: Mapped[str] = mapped_column(String(324), default="")
    birth_date: Mapped[str] = mapped_column(String(16), default="")
    sex: Mapped[str] = mapped_column(String(16), default="")
    num_studies: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("uq_dicom_patients_key", func.coalesce(pacs, ""), patient_id, unique=True),
        Index("ix_dicom_patients_name", func.lower(patient_name)),
    )


class DicomStudy(Base):
    __tablename__ = "dicom_studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(
        ForeignKey("dicom_patients.id", ondelete="CASCADE"), index=True
    )
    pacs: Mapped[str | None] = mapped_column(String(64), nullable=True)
    study_uid: Mapped[str] = mapped_column(String(64), index=True)
    study_date: Mapped[str] = mapped_column(String(16), default="", index=True)
    accession_number: Mapped[str] = mapped_column(String(64), default="", index=True)
    study_description: Mapped[str] = mapped_column(String(256), default="")
    patient_age: Mapped[str] = mapped_column(String(16), default="")
    num_series: Mapped[int] = mapped_column(Integer, default=0)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    patient: Mapped[DicomPatient] = relationship(lazy="joined")

    __table_args__ = (
        Index("uq_dicom_studies_key", func.coalesce(pacs, ""), study_uid, unique=True),
    )


class DicomSeries(Base):
    __tablename__ = "dicom_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("dicom_studies.id", ondelete="CASCADE"), index=True)
    pacs: Mapped[str | None] = mapped_column(String(64), nullable=True)
    series_uid: Mapped[str] = mapped_column(String(64), index=True)
    series_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    series_description: Mapped[str] = mapped_column(String(256), default="")
    modality: Mapped[str] = mapped_column(String(16), default="", index=True)
    protocol_name: Mapped[str] = mapped_column(String(256), default="")
    #: Library folder of the first instance indexed (the series folder in the PACS layout).
    folder: Mapped[str] = mapped_column(Text, default="")
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    study: Mapped[DicomStudy] = relationship(lazy="joined")

    __table_args__ = (
        Index("uq_dicom_series_key", func.coalesce(pacs, ""), series_uid, unique=True),
    )


class DicomInstance(Base):
    __tablename__ = "dicom_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("dicom_series.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64), default="")
    instance_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    columns: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number_of_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64), default="")
    #: Normalised library path of the file (see ``chris_jupyter.paths``).
    path: Mapped[str] = mapped_column(Text, unique=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    indexed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
