"""The change-event stream (Server-Sent Events): files, feeds, jobs, PACS progress.

A client sees an event when it is named in the event's audience or may read the event's
library path (the rule is :meth:`~chris_jupyter.library.permissions.Grants.can_see`).
``Last-Event-ID`` (or ``?since=``) replays what a reconnecting client missed.

A stream never outlives its credential: a stream opened with an API token checks the token
at least every :data:`CREDENTIAL_CHECK_SECONDS`, busy or idle, and ends
(with a last ``event: closed`` saying why) once the token is revoked or expired or its user is
no longer served. A client that reconnects then gets the 401 or 403 itself.

The stream starts with a ``: connected, last event id N`` comment once the client is subscribed:
every later event it may see (id > N) reaches it, so clients wait for that line before acting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from tornado import iostream

from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:events"
KEEPALIVE_SECONDS = 15.0
CREDENTIAL_CHECK_SECONDS = 2.0


class EventsHandler(ChrisHandler):
    """``GET events?since=&types=``: the change events the caller may see, as Server-Sent Events."""

    @endpoint
    async def get(self) -> None:
        """Stream the events the caller may see until the client goes or its credential ends."""
        since_raw = self.request.headers.get("Last-Event-ID") or self.get_argument("since", None)
        since = int(since_raw) if since_raw and since_raw.isdigit() else None
        types = [t for t in self.get_argument("types", "").split(",") if t] or None
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        grants = await self.run(self.backend.library.grants, self.principal)
        # ": connected" is the readiness signal: the stream replays from the id it names, so an event
        # published between reading that id and the subscription taking effect is not lost.
        last_id = self.backend.events.last_id
        stream = self.backend.events.subscribe(since=last_id if since is None else since, types=types)
        it = stream.__aiter__()
        next_event: asyncio.Future | None = None
        checked = last_write = time.monotonic()
        try:
            # Subscribed before the first line goes out: an event published after a client has
            # read ": connected" reaches it (clients and tests may take that line as "ready").
            next_event = asyncio.ensure_future(it.__anext__())
            await asyncio.sleep(0)  # let it run up to its first wait: the subscription exists
            self.write(f": connected, last event id {last_id}\n\n")
            await self.flush()
            while True:
                wait = max(0.0, checked + CREDENTIAL_CHECK_SECONDS - time.monotonic())
                done, _ = await asyncio.wait({next_event}, timeout=wait)
                now = time.monotonic()
                if now - checked >= CREDENTIAL_CHECK_SECONDS:  # also between events of a busy stream
                    checked = now
                    why = await self.credential_error()
                    if why is not None:
                        self.write(f"event: closed\ndata: {json.dumps({'reason': why})}\n\n")
                        return
                if not done:
                    if now - last_write >= KEEPALIVE_SECONDS:
                        self.write(": keep-alive\n\n")
                        await self.flush()
                        last_write = now
                        # Shares may have changed: refresh what this client may see.
                        grants = await self.run(self.backend.library.grants, self.principal)
                    continue
                ev = next_event.result()
                next_event = asyncio.ensure_future(it.__anext__())
                # a share that names this client (or a public one) may have changed what it may read;
                # other streams keep their grants (no database read per stream for every share made)
                if ev.type.startswith("share.") and (ev.path is not None or self.principal.username in ev.users):
                    grants = await self.run(self.backend.library.grants, self.principal)
                if not grants.can_see(ev):
                    continue
                self.write(f"id: {ev.id}\nevent: {ev.type}\ndata: {json.dumps(ev.to_json(), default=str)}\n\n")
                await self.flush()
                last_write = now
        except (iostream.StreamClosedError, asyncio.CancelledError):
            pass
        finally:
            if next_event is not None and not next_event.done():
                next_event.cancel()  # ends the generator from inside (it cannot be closed while waiting)
                with contextlib.suppress(asyncio.CancelledError):
                    await next_event
            await stream.aclose()


default_handlers = [(api_path("events"), EventsHandler)]

openapi_paths = {
    "/events": {"get": {"summary": "Server-Sent Events stream of changes visible to the caller",
                        "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer"}},
                                       {"name": "types", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "text/event-stream"}}}},
}
