"""What the library browser shows: a lazily loaded, paginated folder tree and search results.

Pure Python over :class:`chris_jupyter.Client` (no widgets), so it is tested without a browser.
A folder's children are fetched only when it is first expanded, one page (``page_size``
entries, from the server's DB index) at a time: a 300,000-file folder costs one small request
until someone asks for more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: File name endings the viewer opens as one volume.
VOLUME_SUFFIXES = (".nii", ".nii.gz", ".dcm")


@dataclass
class Node:
    """One library entry in the tree. ``children is None`` means "not loaded yet"."""

    path: str
    name: str
    kind: str  # "folder" | "file"
    size: int = 0
    children: list[Node] | None = None
    total: int = 0  # number of children on the server (known once loaded)
    expanded: bool = False

    @property
    def is_folder(self) -> bool:
        return self.kind == "folder"

    @property
    def loaded(self) -> int:
        return len(self.children or [])

    @property
    def has_more(self) -> bool:
        """More children on the server than loaded so far."""
        return self.children is not None and self.loaded < self.total


@dataclass(frozen=True)
class Row:
    """One visible line of the flattened tree: an entry, or a "load more" line of a folder."""

    node: Node
    depth: int
    more: bool = False  # the "load N more" line below ``node``'s loaded children


@dataclass
class SearchResults:
    """Files whose name matches, and DICOM studies (with their series) that match."""

    text: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    files_total: int = 0
    studies: list[dict[str, Any]] = field(default_factory=list)


def volume_id_for(path: str, kind: str, children: list[Node] | None = None) -> str | None:
    """The viewer's volume id for a library entry, or None if it is not viewable.

    A file when it is NIfTI or DICOM; a folder only once it is known to hold DICOM files
    itself (its loaded ``children``: the server reads the one series in it), so ``feeds/``,
    ``uploads/`` and other containers of folders are not offered.
    """
    if kind == "folder":
        holds_series = any(c.kind == "file" and c.name.lower().endswith(".dcm") for c in children or [])
        return f"path:{path}" if path and holds_series else None
    return f"path:{path}" if path.lower().endswith(VOLUME_SUFFIXES) else None


def series_volume_id(series_uid: str) -> str:
    return f"series:{series_uid}"


class LibraryModel:
    """The tree and the search of one browser.

    Parameters
    ----------
    client
        A :class:`chris_jupyter.Client` (``ls``, ``search``, ``studies``).
    root
        Library path shown at the top ("" = the whole library the user may see).
    page_size
        Children fetched per request when a folder is expanded or "more" is asked for.
    """

    def __init__(self, client: Any, root: str = "", *, page_size: int = 100) -> None:
        self.client = client
        self.page_size = page_size
        name = root.rstrip("/").rsplit("/", 1)[-1] if root else "library"
        self.root = Node(path=root.strip("/"), name=name, kind="folder")
        self._index: dict[str, Node] = {self.root.path: self.root}
        self.search_results = SearchResults()

    # -- tree -----------------------------------------------------------------------------------
    def node(self, path: str) -> Node:
        try:
            return self._index[path.strip("/")]
        except KeyError:
            raise KeyError(f"{path!r} is not loaded in this browser") from None

    def _fetch(self, node: Node) -> int:
        page = self.client.ls(node.path, limit=self.page_size, offset=node.loaded)
        node.total = int(page["total"])
        if node.children is None:
            node.children = []
        known = {c.path for c in node.children}
        new = [Node(e["path"], e["name"], e["kind"], int(e.get("size") or 0))
               for e in page["items"] if e["path"] not in known]
        node.children.extend(new)
        for c in new:
            self._index[c.path] = c
        return len(new)

    def expand(self, path: str) -> Node:
        """Open a folder; its first page is fetched the first time only."""
        node = self.node(path)
        if not node.is_folder:
            raise ValueError(f"{path!r} is a file, not a folder")
        if node.children is None:
            self._fetch(node)
        node.expanded = True
        return node

    def collapse(self, path: str) -> Node:
        node = self.node(path)
        node.expanded = False
        return node

    def toggle(self, path: str) -> Node:
        node = self.node(path)
        return self.collapse(path) if node.expanded else self.expand(path)

    def load_more(self, path: str) -> int:
        """Fetch the next page of a folder's children; returns how many arrived."""
        node = self.node(path)
        if node.children is None:
            self.expand(path)
            return node.loaded
        return self._fetch(node) if node.has_more else 0

    def refresh(self, path: str) -> Node:
        """Forget a folder's loaded children (and their subtrees) and fetch its first page again."""
        node = self.node(path)
        prefix = node.path + "/" if node.path else ""
        for p in [p for p in self._index if p.startswith(prefix) and p != node.path]:
            del self._index[p]
        node.children = None
        node.total = 0
        return self.expand(path)

    def rows(self) -> list[Row]:
        """The visible lines, depth-first: what the widget draws."""
        out: list[Row] = []

        def walk(node: Node, depth: int) -> None:
            for child in node.children or []:
                out.append(Row(child, depth))
                if child.expanded:
                    walk(child, depth + 1)
            if node.has_more:
                out.append(Row(node, depth, more=True))

        if self.root.children is None:
            self.expand(self.root.path)
        walk(self.root, 0)
        return out

    # -- search ---------------------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 50) -> SearchResults:
        """Files whose name contains ``text`` (``GET search/files``) and DICOM studies whose
        patient name, patient id or description match (``GET dicom/studies``)."""
        text = text.strip()
        res = SearchResults(text=text)
        if text:
            page = self.client.search(name=text, limit=limit)
            res.files, res.files_total = list(page["items"]), int(page["total"])
            pattern = f"*{text}*"
            seen: dict[str, dict[str, Any]] = {}
            for filters in ({"patient_name": pattern}, {"patient_id": pattern}, {"description": text}):
                for study in self.client.studies(limit=limit, **filters)["items"]:
                    seen.setdefault(study["study_uid"], study)
            res.studies = list(seen.values())
        self.search_results = res
        return res
