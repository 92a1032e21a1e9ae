"""The offline volume viewer widget (anywidget + a bundled niivue build).

The widget state holds only what a person (or a collaborator) changes: the
crosshair position, window/level, layout, tool, overlay style, annotations and
peers' cursors. The pixels never travel through the widget comm: the browser
GETs the volume once, as an uncompressed NIfTI-1 file, from ``source_url`` or
from the backend route ``<base_url>chris/api/v1/volumes/<volume_id>``.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from ..utils.assets import asset
from .sources import check_volume, itkwidgets_view, source_kwargs, volume_id_of

_STATIC = Path(__file__).parent / "static"

#: Fixed window/level presets: name -> (window, level), Hounsfield units.
PRESETS: dict[str, tuple[float, float]] = {
    "ct-brain": (80.0, 40.0),
    "ct-lung": (1500.0, -600.0),
    "ct-bone": (1800.0, 400.0),
    "ct-abdomen": (400.0, 40.0),
}
#: Presets computed in the browser from the data ("mr-auto": 1st-99th percentile).
DATA_PRESETS = ("mr-auto",)

LAYOUTS = ("mpr", "mpr3d", "axial", "coronal", "sagittal", "3d")
TOOLS = ("crosshair", "window", "pan", "measure", "point")
ANNOTATION_KINDS = ("point", "distance")

def _loader() -> str:
    """The widget's ES module: a loader of the bundle (``static/loader.js``), a few kB. The
    server extension serves the bundle under the same version (``utils/assets.py``)."""
    return (_STATIC / "loader.js").read_text().replace("__BUNDLE__", asset("viewer.js")[1])


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Viewer(anywidget.AnyWidget):
    """Axial/coronal/sagittal + 3-D viewer of one volume and an optional label overlay.

    Parameters are the traits below, e.g.
    ``Viewer(source_url="/files/ct.nii", window=80, level=40, layout="mpr")``.
    Give either ``source_url`` (any URL the browser can GET, same-origin
    recommended) or ``volume_id`` (served by the chris backend).
    """

    # Not the 2 MB bundle: a loader that imports it from the page's server, cached by the
    # browser, or asks this kernel for it (``_send_bundle``) when the server has no such version.
    _esm = _loader()
    _css = _STATIC / "viewer.css"

    source_url = t.Unicode(
        "",
        help="URL of the NIfTI-1 volume (the browser GETs it). Relative URLs such as "
        "'files/ct.nii' are relative to Jupyter's base URL (works behind JupyterHub).",
    ).tag(sync=True)
    volume_id = t.Unicode("", help="Backend volume id (used when source_url is empty)").tag(sync=True)
    overlay_url = t.Unicode("", allow_none=True, help="URL of a label volume (NIfTI-1)").tag(sync=True)
    overlay_volume_id = t.Unicode("", help="Backend volume id of the label overlay").tag(sync=True)

    position_mm = t.List(t.Float(), help="Crosshair in world (scanner) mm, [x, y, z]").tag(sync=True)
    ijk = t.List(t.Int(), help="Crosshair as native voxel indices [i, j, k] of the file").tag(sync=True)
    window = t.Float(0.0, help="Window width (0 = automatic on load)").tag(sync=True)
    level = t.Float(0.0, help="Window centre").tag(sync=True)
    preset = t.Unicode("", help=f"'' or one of {sorted(PRESETS) + list(DATA_PRESETS)}").tag(sync=True)
    view_layout = t.Enum(
        LAYOUTS,
        default_value="mpr",
        help="Panels: mpr (3 planes), mpr3d (+3-D), axial, coronal, sagittal, 3d. "
        "`Viewer(layout='axial')` is accepted too (ipywidgets owns the `layout` trait).",
    ).tag(sync=True)
    tool = t.Enum(TOOLS, default_value="crosshair", help="What a left-drag does").tag(sync=True)
    zoom = t.Float(1.0, help="2-D zoom factor").tag(sync=True)
    interpolation = t.Enum(
        ("linear", "nearest"),
        default_value="linear",
        help="2-D resampling: linear, or nearest (shows the voxels; also cheaper on software GL)",
    ).tag(sync=True)
    crosshair = t.Bool(True, help="Show the crosshair").tag(sync=True)
    radiological = t.Bool(True, help="Radiological convention (patient's right on screen left) in 2-D views").tag(
        sync=True
    )
    show_info = t.Bool(
        True,
        help="On-image information: value under the cursor, slice, position, W/L, zoom, orientation "
        "markers, series description (the I key toggles it in the browser)",
    ).tag(sync=True)
    height = t.Int(420, help="Height of the image area in pixels").tag(sync=True)

    overlay_opacity = t.Float(0.5, min=0.0, max=1.0, help="Opacity of the label overlay").tag(sync=True)
    label_colors = t.Dict(t.Unicode(), help="Label value (as a string) -> '#rrggbb'; others get a palette colour").tag(
        sync=True
    )
    label_names = t.Dict(t.Unicode(), help="Label value (as a string) -> name").tag(sync=True)
    hidden_labels = t.List(t.Int(), help="Label values not drawn (the legend's checkboxes)").tag(sync=True)

    annotations = t.List(
        t.Dict(),
        help="[{id, kind: 'point'|'distance', points: [[x,y,z] mm, ...], text, author, created}]",
    ).tag(sync=True)
    peers = t.List(t.Dict(), help="Other viewer sessions' cursors, one per page view: [{user, session, n, label, "
                   "color, position: [x,y,z] mm}]; label is 'alice', 'alice · 2' (several views of alice) "
                   "or 'you (other view)'").tag(sync=True)
    user = t.Unicode("", help="Author name stamped on annotations made in this view").tag(sync=True)
    status = t.Unicode("", help="Set by the browser: loading | ready | error: ...").tag(sync=True)

    # ---- live collaboration (js/src/collab.js: browser <-> backend, no kernel round trip) ----
    collab = t.Bool(
        True,
        help="Join the volume's collaboration session when `volume_id` names a backend volume: "
        "saved annotations load, others' annotations and cursors appear live, local edits are saved.",
    ).tag(sync=True)
    api_token = t.Unicode(
        "",
        help="Credential for the browser's REST calls (a ChRIS API token, 'chris_…'). Empty: the "
        "Jupyter cookie (+ the _xsrf cookie as X-XSRFToken), which is right inside JupyterLab. "
        "Widget-state saving would store it in the notebook: set it only when needed, e.g. with "
        "`use_client(client)`.",
    ).tag(sync=True)
    api_base = t.Unicode(
        "",
        help="Absolute URL of the backend (a server URL or its 'chris/api/v1/' root), e.g. for a page "
        "served from another origin. Empty: '<Jupyter base URL>chris/api/v1/' on the page's origin.",
    ).tag(sync=True)
    session_id = t.Unicode(
        "", help="Set by the browser: this view's random collaboration session id (own events are ignored)"
    ).tag(sync=True)

    def __init__(self, source: str | None = None, **kwargs: Any) -> None:
        if source is not None:
            kwargs.update(source_kwargs(source))
        if isinstance(kwargs.get("layout"), str):
            kwargs["view_layout"] = kwargs.pop("layout")
        super().__init__(**kwargs)
        self.on_msg(self._send_bundle)

    def _send_bundle(self, _widget: Any, content: dict, _buffers: list) -> None:
        """The page's server could not give the bundle (static/loader.js): send this kernel's copy."""
        if isinstance(content, dict) and content.get("type") == "chris-viewer-bundle":
            data, version = asset("viewer.js")
            self.send({"type": "chris-viewer-bundle", "version": version}, buffers=[data])

    @t.validate("preset")
    def _check_preset(self, proposal: t.Bunch) -> str:
        name = proposal["value"]
        if name and name not in PRESETS and name not in DATA_PRESETS:
            raise t.TraitError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
        return name

    @t.observe("preset")
    def _apply_preset(self, change: t.Bunch) -> None:
        # Fixed presets are applied here too, so the kernel sees window/level at once.
        if change["new"] in PRESETS:
            self.window, self.level = PRESETS[change["new"]]

    @t.validate("annotations")
    def _check_annotations(self, proposal: t.Bunch) -> list[dict]:
        return [_normalize_annotation(a) for a in proposal["value"]]

    # ---- convenience API -------------------------------------------------------------------
    def add_annotation(self, kind: str, points: list[list[float]], text: str = "", author: str | None = None) -> dict:
        """Append a point or distance annotation (points in world mm) and return it."""
        ann = {
            "id": secrets.token_hex(8),
            "kind": kind,
            "points": points,
            "text": text,
            "author": self.user if author is None else author,
            "created": _now(),
        }
        self.annotations = [*self.annotations, ann]
        return self.annotations[-1]

    def remove_annotation(self, ann_id: str) -> None:
        """Delete the annotation with this id (no error if absent)."""
        self.annotations = [a for a in self.annotations if a["id"] != ann_id]

    def use_client(self, client: Any, *, api_base: bool = False) -> Viewer:
        """Let the browser call the backend with ``client``'s token (a :class:`chris_jupyter.Client`).

        Only for pages that cannot use the Jupyter cookie. ``api_base=True`` also points the
        browser at ``client.url`` (another origin: the server must allow it, ``allow_origin``).
        The token becomes widget state: saving widget state in the notebook would store it.
        """
        auth = client.http.headers.get("Authorization", "")
        self.api_token = auth.split(" ", 1)[1] if " " in auth else ""
        if api_base:
            self.api_base = client.url
        return self

    def distance_mm(self, ann_id: str) -> float:
        """Length in mm of a distance annotation."""
        ann = next(a for a in self.annotations if a["id"] == ann_id)
        (x0, y0, z0), (x1, y1, z1) = ann["points"]
        return float(((x1 - x0) ** 2 + (y1 - y0) ** 2 + (z1 - z0) ** 2) ** 0.5)


def _normalize_annotation(a: dict) -> dict:
    kind = a.get("kind")
    if kind not in ANNOTATION_KINDS:
        raise t.TraitError(f"annotation kind must be one of {ANNOTATION_KINDS}, not {kind!r}")
    points = [[float(v) for v in p] for p in a.get("points", [])]
    if any(len(p) != 3 for p in points) or len(points) != (1 if kind == "point" else 2):
        raise t.TraitError(f"a {kind} annotation needs {1 if kind == 'point' else 2} [x,y,z] points")
    return {
        **a,
        "id": str(a.get("id") or secrets.token_hex(8)),
        "points": points,
        "text": str(a.get("text", "")),
        "author": str(a.get("author", "")),
        "created": str(a.get("created") or _now()),
    }


def view(obj: Any, *, overlay: Any = None, backend: str = "chris", client: Any = None, **kwargs: Any) -> Viewer:
    """Show a volume in the offline viewer.

    ``obj`` may be a volume id (``series:<uid>``, ``path:<library path>``), a library path, a study
    or series from ``Client.studies()``, a URL of a NIfTI file, a numpy array (z, y, x), a
    :class:`~chris_jupyter.nifti.Volume` or an ``itk.Image``; ``overlay`` a label volume of
    the same kinds (a plugin's segmentation). Keyword arguments are :class:`Viewer` traits, e.g.
    ``view(study, preset="ct-brain")``. ``backend="itkwidgets"`` uses itkwidgets where it works.
    """
    if backend == "itkwidgets":
        return itkwidgets_view(obj, client)
    if backend != "chris":
        raise ValueError("backend is 'chris' (the built-in viewer) or 'itkwidgets'")
    kwargs.update(volume_id_of(obj, client))
    if overlay is not None:
        ov = volume_id_of(overlay, client)
        kwargs.update({"overlay_volume_id": ov["volume_id"]} if "volume_id" in ov
                      else {"overlay_url": ov["source_url"]})
    # A missing path or a file that is no image fails here, in the notebook, with the server's
    # reason, before a viewer is drawn (a header-sized request; the server caches the volume).
    for key in ("volume_id", "overlay_volume_id"):
        if kwargs.get(key):
            check_volume(kwargs[key], client)
    v = Viewer(**kwargs)
    if client is not None and "Bearer chris_" in client.http.headers.get("Authorization", ""):
        v.use_client(client)  # this view acts as that client's user (e.g. a colleague's token)
    return v
