"""The job state machine of a plugin instance: one table, one function.

The state names and the table of allowed transitions are in :mod:`chris_jupyter.states` (a
foundation module, so the client and the widgets read the same names); this module applies it.

Every state change goes through :func:`transition`, which writes the row with a compare-and-set
(``UPDATE … WHERE state = <old>``, so a cancel racing a finish has exactly one winner) and then
publishes one event. Nothing else assigns ``PluginInstance.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from ..db import Database, utcnow
from ..db.models.compute import PluginInstance
from ..states import (  # noqa: F401  (the state names, re-exported for the compute modules)
    ACTIVE,
    CANCELLED,
    COPYING,
    CREATED,
    ERROR,
    EVENT_TYPE,
    FINAL,
    LAUNCHING,
    REGISTERING,
    RUNNING,
    SCHEDULED,
    STARTED,
    SUCCESS,
    TRANSITIONS,
    UPLOADING,
    WAITING,
)

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]


class IllegalTransition(RuntimeError):
    """Raised when code asks for a transition the table does not allow."""


def allowed(src: str, dst: str) -> bool:
    return dst in TRANSITIONS.get(src, frozenset())


def event_payload(inst: PluginInstance, previous_state: str | None = None) -> dict[str, Any]:
    """What clients receive about an instance (includes ``owner`` and ``feed_id`` for routing)."""
    return {
        "id": inst.id,
        "owner": inst.owner,
        "feed_id": inst.feed_id,
        "previous_id": inst.previous_id,
        "plugin": inst.plugin.name if inst.plugin is not None else None,
        "plugin_version": inst.plugin.version if inst.plugin is not None else None,
        "title": inst.title,
        "state": inst.state,
        "previous_state": previous_state,
        "exit_code": inst.exit_code,
        "error": inst.error,
        "output_path": inst.output_path,
        "output_count": inst.output_count,
        "pipeline_run_id": inst.pipeline_run_id,
    }


def _current_state(s: Any, instance_id: int) -> str | None:
    return s.execute(
        select(PluginInstance.state).where(PluginInstance.id == instance_id)
    ).scalar_one_or_none()


def transition(
    db: Database,
    instance_id: int,
    dst: str,
    *,
    publish: Publish | None = None,
    expect: str | frozenset[str] | None = None,
    **fields: Any,
) -> bool:
    """Move an instance to ``dst``, writing ``fields`` in the same UPDATE, then publish an event.

    Parameters
    ----------
    db
        The database.
    instance_id
        The plugin instance.
    dst
        The new state.
    publish
        ``publish(event_type, payload)``; errors in it are logged, never raised.
    expect
        Only move from this state (or these states); default: any state that allows ``dst``.
    **fields
        Other columns to set with the change (``error``, ``exit_code``…). Timestamps of
        ``scheduled``/``started``/final states are set here.

    Returns
    -------
    bool
        ``False`` when the instance is (no longer) in a state that may move to ``dst`` — a
        concurrent transition won — or does not exist.

    Raises
    ------
    IllegalTransition
        If ``dst`` is not a state, or ``expect`` names a state that may never move to ``dst``.
    """
    if dst not in TRANSITIONS:
        raise IllegalTransition(f"unknown state {dst!r}")
    sources = [s for s, nxt in TRANSITIONS.items() if dst in nxt]
    if expect is not None:
        wanted = {expect} if isinstance(expect, str) else set(expect)
        bad = [s for s in wanted if s not in sources]
        if bad:
            raise IllegalTransition(f"{bad[0]} -> {dst} is not an allowed transition")
        sources = [s for s in sources if s in wanted]
    now = utcnow()
    if dst == SCHEDULED:
        fields.setdefault("scheduled_at", now)
    elif dst == STARTED:
        fields.setdefault("started_at", now)
    elif dst in FINAL:
        fields.setdefault("ended_at", now)
    # Compare-and-set, retried while the state keeps moving among allowed sources: a cancel
    # racing the scheduler's created -> waiting must still win, not give up on a stale read.
    for _attempt in range(len(TRANSITIONS)):
        with db.session() as s:
            prev = _current_state(s, instance_id)
            if prev is None or prev not in sources:
                return False
            res = s.execute(
                update(PluginInstance)
                .where(PluginInstance.id == instance_id, PluginInstance.state == prev)
                .values(state=dst, **fields)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount == 1:
                break
    else:
        return False
    if publish is not None:
        with db.session() as s:
            inst = s.get(PluginInstance, instance_id)
            payload = event_payload(inst, prev) if inst is not None else None
        if payload is not None:
            try:
                publish(EVENT_TYPE, payload)
            except Exception:  # a broken client channel must not break the job machine
                log.exception("publishing %s for instance %s failed", dst, instance_id)
    return True
