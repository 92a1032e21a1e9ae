"""Plugins, plugin instances (jobs), pipelines and pipeline runs.

A :class:`PluginInstance` row is the durable record of one job: its state (changed only through
:func:`chris_jupyter.compute.states.transition`) and its provenance (parameters, argv, image,
resources, timings, exit code, logs, output files) — enough to re-run any result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..base import Base, utcnow
from ..types import UTCDateTime


class Plugin(Base):
    """One registered plugin version. ``descriptor`` holds the validated descriptor as JSON."""

    __tablename__ = "plugins"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_plugins_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(4), default="ds")
    title: Mapped[str] = mapped_column(String(400), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    dock_image: Mapped[str] = mapped_column(String(500))
    # "image": runs in a container; "local": an installed executable for the local runner
    source: Mapped[str] = mapped_column(String(20), default="image")
    descriptor: Mapped[dict[str, Any]] = mapped_column(JSON)
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PluginInstance(Base):
    """One run of a plugin: a node of a feed's DAG and a job of the compute coordinator."""

    __tablename__ = "plugin_instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), index=True, nullable=True
    )
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("plugin_instances.id", ondelete="CASCADE"), index=True, nullable=True
    )
    plugin_id: Mapped[int] = mapped_column(ForeignKey("plugins.id", ondelete="RESTRICT"), index=True)
    owner: Mapped[str] = mapped_column(String(150), index=True)
    title: Mapped[str] = mapped_column(String(400), default="")
    state: Mapped[str] = mapped_column(String(30), default="created", index=True)
    # explicit parameter values of the request; ts parents in "plugininstances" too
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # ids of the extra parents of a ts instance (besides previous_id)
    joins: Mapped[list[int]] = mapped_column(JSON, default=list)
    argv: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    image: Mapped[str] = mapped_column(String(500), default="")
    resources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    timeout_s: Mapped[float | None] = mapped_column(nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    logs: Mapped[str] = mapped_column(Text, default="")
    logs_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    output_path: Mapped[str] = mapped_column(Text, default="")  # library path of .../data
    output_files: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    output_count: Mapped[int] = mapped_column(Integer, default=0)
    outputs_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    runner: Mapped[str] = mapped_column(String(30), default="")
    runner_job_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pipeline_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL"), index=True, nullable=True
    )
    piping_title: Mapped[str | None] = mapped_column(String(400), nullable=True)

    plugin: Mapped[Plugin] = relationship(lazy="joined")


class Pipeline(Base):
    """A saved pipeline: the parsed tree of pipings (see :mod:`chris_jupyter.compute.pipelines`)."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("name", "owner", name="uq_pipelines_name_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(150), index=True)
    authors: Mapped[str] = mapped_column(String(400), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    locked: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text, default="")  # the YAML/JSON text as uploaded
    pipings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PipelineRun(Base):
    """One run of a pipeline on a plugin instance (a workflow, in ChRIS terms)."""

    __tablename__ = "pipeline_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="SET NULL"), index=True, nullable=True
    )
    pipeline_name: Mapped[str] = mapped_column(String(200), default="")
    owner: Mapped[str] = mapped_column(String(150), index=True)
    title: Mapped[str] = mapped_column(String(400), default="")
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("plugin_instances.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ComputeResource(Base):
    """A named place where plugin jobs run (as in ChRIS): a runner kind and its settings.

    ``settings`` are the trait values of the kind's runner class (``{"pids_limit": 256}`` for a
    ``docker`` resource, ``{"partition": "gpu"}`` for ``slurm``…); ``max_job_time`` caps every
    job's run time there (seconds, ``None``: no cap). A plugin instance names its resource in
    ``PluginInstance.runner``.
    """

    __tablename__ = "compute_resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    max_job_time: Mapped[float | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PluginComputeResource(Base):
    """A plugin registered for a compute resource; the lowest ``position`` is its default."""

    __tablename__ = "plugin_compute_resources"

    plugin_id: Mapped[int] = mapped_column(ForeignKey("plugins.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("compute_resources.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
