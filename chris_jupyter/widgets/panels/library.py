"""``LibraryBrowser``: the library as a folder tree with search, in a notebook.

Folders load lazily and page by page (:class:`LibraryModel`); the search box asks
``GET search/files`` and ``GET dicom/studies``. "View" on a DICOM series, a NIfTI/DICOM file or a
folder opens it in :func:`chris_jupyter.widgets.view` below the browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ._common import get_client, human_size, message, row_layout
from .library_model import LibraryModel, Node, Row, series_volume_id, volume_id_for


class LibraryBrowser(W.VBox):
    """Browse and search the library; open volumes in the viewer.

    Parameters
    ----------
    client
        A :class:`chris_jupyter.Client`; by default ``Client()`` (finds its server in a kernel).
    root
        Library folder at the top of the tree ("" = everything the user may see).
    page_size
        Entries fetched per folder page.
    viewer_kwargs
        Extra :class:`~chris_jupyter.widgets.Viewer` traits for opened volumes.
    """

    def __init__(self, client: Any | None = None, root: str = "", *, page_size: int = 100,
                 viewer_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self.client = get_client(client)
        self.model = LibraryModel(self.client, root, page_size=page_size)
        self.viewer_kwargs = dict(viewer_kwargs or {})
        self.viewer: Any = None
        self._open_callbacks: list[Callable[[str, Any], None]] = []
        self._rows: dict[tuple, W.HBox] = {}

        self.search_box = W.Text(placeholder="search file names, patients, descriptions",
                                 layout=W.Layout(flex="1"), continuous_update=False)
        self.search_button = W.Button(description="Search", icon="search")
        self.clear_button = W.Button(description="Clear")
        self.status = W.HTML()
        self.tree = W.VBox(layout=W.Layout(max_height="360px", overflow_y="auto"))
        self.results = W.VBox()
        self.viewer_box = W.VBox()
        self.search_button.on_click(lambda _: self.search(self.search_box.value))
        self.search_box.observe(lambda ch: self.search(ch["new"]), names="value")
        self.clear_button.on_click(lambda _: self.clear_search())
        for w in (self.search_box, self.search_button, self.clear_button):
            w.add_class("chris-search")
        header = W.HTML(f"<b>ChRIS library</b> {html.escape(self.model.root.path or '/')}")
        super().__init__([header, W.HBox([self.search_box, self.search_button, self.clear_button]),
                          self.status, self.results, self.tree, self.viewer_box], **kwargs)
        self.add_class("chris-library-browser")
        self._guard(self.render)

    # -- actions --------------------------------------------------------------------------------
    def _guard(self, action: Callable[[], Any]) -> Any:
        """Run an action; a refused request shows its message instead of raising in a callback."""
        try:
            self.status.value = ""
            return action()
        except Exception as e:
            self.status.value = message(str(e) or type(e).__name__, "error")
            return None

    def toggle(self, path: str) -> None:
        self._guard(lambda: (self.model.toggle(path), self.render()))

    def load_more(self, path: str) -> None:
        self._guard(lambda: (self.model.load_more(path), self.render()))

    def refresh(self, path: str | None = None) -> None:
        self._guard(lambda: (self.model.refresh(self.model.root.path if path is None else path),
                             self._rows.clear(), self.render()))

    def on_open(self, callback: Callable[[str, Any], None]) -> None:
        """Call ``callback(volume_id, viewer)`` whenever a volume is opened."""
        self._open_callbacks.append(callback)

    def open_volume(self, volume_id: str) -> Any:
        """Show ``volume_id`` (``series:<uid>`` or ``path:<library path>``) in a viewer."""
        from ..viewer import Viewer

        def make() -> Any:
            old = self.viewer
            # explicit trait: a volume id ("series:…", "path:…") must never be taken for a URL
            self.viewer = Viewer(volume_id=volume_id, **self.viewer_kwargs)
            self.viewer_box.children = [W.HTML(f"<b>Viewing</b> {html.escape(volume_id)}"), self.viewer]
            if old is not None:
                old.close()
            for cb in self._open_callbacks:
                cb(volume_id, self.viewer)
            return self.viewer

        return self._guard(make)

    def search(self, text: str) -> None:
        def run() -> None:
            res = self.model.search(text)
            self._render_results()
            if res.text:
                self.status.value = message(
                    f"{res.files_total} file(s), {len(res.studies)} study(ies) match {res.text!r}")

        self._guard(run)

    def clear_search(self) -> None:
        self.search_box.value = ""
        self.model.search("")
        self._render_results()

    # -- drawing --------------------------------------------------------------------------------
    def render(self) -> None:
        rows = self.model.rows()
        self.tree.children = [self._row(r) for r in rows]

    def _row(self, row: Row) -> W.HBox:
        n = row.node
        key = (n.path, row.more, n.expanded, n.loaded, n.total)
        if key in self._rows:
            return self._rows[key]
        indent = W.Layout(margin=f"0 0 0 {row.depth * 18}px")
        if row.more:
            left = n.total - n.loaded
            more = W.Button(description=f"Load {min(left, self.model.page_size)} more ({left} not shown)",
                            layout=W.Layout(width="auto"))
            more.on_click(lambda _, p=n.path: self.load_more(p))
            more.add_class("chris-more")
            box = W.HBox([more], layout=row_layout(margin=indent.margin))
        else:
            box = self._entry_row(n, indent)
        box.add_class("chris-row")
        box.path = n.path  # type: ignore[attr-defined]
        self._rows[key] = box
        return box

    def _entry_row(self, n: Node, indent: W.Layout) -> W.HBox:
        parts: list[W.Widget] = []
        if n.is_folder:
            toggle = W.Button(icon="caret-down" if n.expanded else "caret-right",
                              tooltip=("collapse " if n.expanded else "expand ") + n.path,
                              layout=W.Layout(width="32px"))
            toggle.on_click(lambda _, p=n.path: self.toggle(p))
            toggle.add_class("chris-toggle")
            parts.append(toggle)
            count = f" <small>({n.total})</small>" if n.children is not None else ""
            label = f'<i class="fa fa-folder" style="color:#b45309"></i> {html.escape(n.name)}{count}'
        else:
            parts.append(W.HTML(layout=W.Layout(width="32px")))
            label = f"{html.escape(n.name)} <small>{human_size(n.size)}</small>"
        parts.append(W.HTML(label, layout=W.Layout(min_width="200px")))
        vid = volume_id_for(n.path, n.kind, n.children)
        if vid is not None:
            parts.append(self._view_button(vid))
        return W.HBox(parts, layout=row_layout(margin=indent.margin))

    def _view_button(self, volume_id: str) -> W.Button:
        b = W.Button(description="View", icon="eye", tooltip=f"open {volume_id} in the viewer",
                     layout=W.Layout(width="auto"))
        b.on_click(lambda _: self.open_volume(volume_id))
        b.add_class("chris-view")
        b.volume_id = volume_id  # type: ignore[attr-defined]
        return b

    def _render_results(self) -> None:
        res = self.model.search_results
        if not res.text:
            self.results.children = []
            return
        items: list[W.Widget] = []
        if res.studies:
            items.append(W.HTML("<b>DICOM studies</b>"))
        for st in res.studies:
            items.append(W.HTML(
                f"{html.escape(st.get('patient_name') or '?')} ({html.escape(st.get('patient_id') or '')}) · "
                f"{html.escape(st.get('study_date') or '')} · {html.escape(st.get('study_description') or '')}"))
            for se in st.get("series", []):
                text = (f"{html.escape(se.get('modality') or '')} #{se.get('series_number') or ''} "
                        f"{html.escape(se.get('series_description') or '')} "
                        f"<small>{se.get('num_instances', 0)} images · {html.escape(se.get('folder') or '')}</small>")
                row = W.HBox([W.HTML(text, layout=W.Layout(margin="0 0 0 18px", min_width="300px")),
                              self._view_button(series_volume_id(se["series_uid"]))], layout=row_layout())
                row.add_class("chris-series")
                items.append(row)
        if res.files:
            items.append(W.HTML(f"<b>Files</b> ({len(res.files)} of {res.files_total})"))
        for f in res.files:
            parts: list[W.Widget] = [W.HTML(f"{html.escape(f['path'])} <small>{human_size(f.get('size') or 0)}</small>",
                                            layout=W.Layout(min_width="300px"))]
            vid = volume_id_for(f["path"], f["kind"])
            if vid is not None:
                parts.append(self._view_button(vid))
            row = W.HBox(parts, layout=row_layout())
            row.add_class("chris-hit")
            items.append(row)
        if not items:
            items.append(W.HTML("<i>nothing found</i>"))
        self.results.children = items

    # -- for tests and scripts ------------------------------------------------------------------
    def row(self, path: str, *, more: bool = False) -> W.HBox:
        """The drawn row of ``path`` (``more=True``: its "load more" line)."""
        for box in self.tree.children:
            if box.path == path and ("chris-more" in box.children[0]._dom_classes) == more:
                return box
        raise KeyError(f"no row for {path!r} (more={more})")

    def view_buttons(self, where: str = "results") -> list[W.Button]:
        """The "View" buttons of the search results (or of the tree: ``where="tree"``)."""
        boxes = self.results.children if where == "results" else self.tree.children
        return [w for b in boxes if isinstance(b, W.HBox) for w in b.children
                if isinstance(w, W.Button) and "chris-view" in w._dom_classes]
