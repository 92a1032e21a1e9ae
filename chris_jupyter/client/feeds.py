"""Client methods for feeds: their notes, comments and tags."""

from __future__ import annotations

from typing import Any

from .http import Connection
from .results import Rows


class FeedsClient(Connection):
    """Feeds (the outputs of a job tree) with their notes, comments and tags."""

    # -- feeds ------------------------------------------------------------------------------------
    def feeds(self, **filters: Any) -> Rows:
        return Rows(self.paginate("feeds", page_size=200, **filters), "feeds")

    def create_feed(self, name: str = "") -> dict[str, Any]:
        return self.post("feeds", {"name": name})

    def feed(self, feed_id: int) -> dict[str, Any]:
        return self.get(f"feeds/{feed_id}")

    def update_feed(self, feed_id: int, *, name: str | None = None, note: str | None = None) -> dict:
        body = {k: v for k, v in {"name": name, "note": note}.items() if v is not None}
        return self.request("PATCH", f"feeds/{feed_id}", json=body)

    def delete_feed(self, feed_id: int) -> None:
        """Delete a feed with its jobs' outputs."""
        self.request("DELETE", f"feeds/{feed_id}")

    def comment(self, feed_id: int, content: str, title: str = "") -> dict[str, Any]:
        return self.post(f"feeds/{feed_id}/comments", {"content": content, "title": title})

    def tag_feed(self, feed_id: int, tags: list[str]) -> dict[str, Any]:
        return self.request("PUT", f"feeds/{feed_id}/tags", json={"tags": tags})
