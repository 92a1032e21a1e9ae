"""The change-event stream (Server-Sent Events): files, feeds, jobs, PACS progress.

A client sees an event when it is named in the event's audience or may read the event's
library path. ``Last-Event-ID`` (or ``?since=``) replays what a reconnecting client missed.
The stream starts with a ``: connected, last event id N`` comment once the client is subscribed:
every later event it may see (id > N) reaches it, so clients wait for that line before acting.
"""

from __future__ import annotations

import asyncio
import json

from tornado import iostream

from ..events import Event
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris"
KEEPALIVE_SECONDS = 15.0


class EventsHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        since_raw = self.request.headers.get("Last-Event-ID") or self.get_argument("since", None)
        since = int(since_raw) if since_raw and since_raw.isdigit() else None
        types = [t for t in self.get_argument("types", "").split(",") if t] or None
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        grants = await self.run(self.backend.library.grants, self.principal)
        me = self.principal.username

        def visible(ev: Event) -> bool:
            if self.principal.is_admin or me in ev.users:
                return True
            return ev.path is not None and grants.can_read(ev.path)

        # ": connected" is the readiness signal: the stream replays from the id it names, so an event
        # published before the subscription below takes effect is not lost.
        last_id = self.backend.events.last_id
        self.write(f": connected, last event id {last_id}\n\n")
        await self.flush()
        stream = self.backend.events.subscribe(since=last_id if since is None else since, types=types)
        it = stream.__aiter__()
        try:
            while True:
                try:
                    ev = await asyncio.wait_for(it.__anext__(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    # Shares may have changed: refresh what this client may see.
                    grants = await self.run(self.backend.library.grants, self.principal)
                    continue
                if not visible(ev):
                    continue
                self.write(f"id: {ev.id}\nevent: {ev.type}\ndata: {json.dumps(ev.to_json(), default=str)}\n\n")
                await self.flush()
        except (iostream.StreamClosedError, asyncio.CancelledError):
            pass
        finally:
            await stream.aclose()


default_handlers = [(api_path("events"), EventsHandler)]

openapi_paths = {
    "/events": {"get": {"summary": "Server-Sent Events stream of changes visible to the caller",
                        "parameters": [{"name": "since", "in": "query", "schema": {"type": "integer"}},
                                       {"name": "types", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "text/event-stream"}}}},
}
