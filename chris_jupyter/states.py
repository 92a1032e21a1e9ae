"""The job states of a plugin instance: their names and the one table of allowed transitions.

A foundation module (standard library only), so the server's state machine
(:mod:`chris_jupyter.compute.states`, which writes the transitions), the Python client and the
widgets, which must not import the server core, all read the same names.
"""

from __future__ import annotations

CREATED = "created"
WAITING = "waiting"
SCHEDULED = "scheduled"
COPYING = "copying"  # the inputs travel to a compute resource (remote runners: the PUSH)
STARTED = "started"
UPLOADING = "uploading"  # the outputs travel back from it (remote runners: the PULL)
REGISTERING = "registeringFiles"
SUCCESS = "finishedSuccessfully"
ERROR = "finishedWithError"
CANCELLED = "cancelled"

#: The one table of allowed transitions (from -> set of to).
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({WAITING, SCHEDULED, ERROR, CANCELLED}),
    WAITING: frozenset({SCHEDULED, CANCELLED}),
    SCHEDULED: frozenset({COPYING, STARTED, ERROR, CANCELLED}),
    COPYING: frozenset({STARTED, ERROR, CANCELLED}),
    STARTED: frozenset({UPLOADING, REGISTERING, ERROR, CANCELLED}),
    UPLOADING: frozenset({REGISTERING, ERROR, CANCELLED}),
    REGISTERING: frozenset({SUCCESS, ERROR, CANCELLED}),
    SUCCESS: frozenset(),
    ERROR: frozenset(),
    CANCELLED: frozenset(),
}
#: States a job never leaves.
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
ACTIVE = frozenset(TRANSITIONS) - FINAL
#: Handed to a runner, not yet running (``copying`` only where the inputs must travel).
LAUNCHING = frozenset({SCHEDULED, COPYING})
#: Running on the runner, or its outputs coming back (``uploading``).
RUNNING = frozenset({STARTED, UPLOADING})
#: The states a job passes through before a final one, in order (for progress displays).
ORDER = (CREATED, WAITING, SCHEDULED, COPYING, STARTED, UPLOADING, REGISTERING)

#: Event type published on every transition.
EVENT_TYPE = "plugin_instance.state"
