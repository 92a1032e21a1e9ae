"""Helpers to drive the viewer harness page from Playwright."""

from __future__ import annotations

import json
from urllib.parse import urlencode

PROBE_JS = """() => {
window.probe = (points) => {
  const v = el.chrisViewer;
  v.nv.drawScene();
  const gl = v.nv.canvas;
  const c = document.createElement("canvas");
  c.width = gl.width;
  c.height = gl.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(gl, 0, 0);
  ctx.drawImage(v.overlay.canvas, 0, 0);
  return points.map(([x, y]) => Array.from(ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data));
};
window.screenOf = (mm) => el.chrisViewer.mmToScreen(mm);
}"""


def open_viewer(page, base_url: str, **state) -> None:
    """Open the harness with trait overrides and wait until the volume is shown."""
    query = urlencode({k: json.dumps(v) for k, v in state.items()})
    page.goto(f"{base_url}index.html?{query}")
    page.wait_for_function(
        "window.model && ['ready'].includes(model.get('status')) || "
        "(window.model && String(model.get('status')).startsWith('error'))",
        timeout=60_000,
    )
    status = page.evaluate("model.get('status')")
    assert status == "ready", (status, page.console)
    page.evaluate(PROBE_JS)


def set_traits(page, **traits) -> None:
    """Change traits as the kernel would (model.set fires the change handlers)."""
    for k, v in traits.items():
        page.evaluate("([k, v]) => model.set(k, v)", [k, v])
    # some changes are applied on the next animation frame (coalesced GPU work)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r()))")


def get(page, name: str):
    return page.evaluate("(k) => model.get(k)", name)


def screen(page, mm, view: int) -> tuple[float, float]:
    """Canvas (device-pixel) position of world ``mm`` in the tile showing ``view``
    (0 axial, 1 coronal, 2 sagittal)."""
    hits = [h for h in page.evaluate("(mm) => screenOf(mm)", list(mm)) if h["axCorSag"] == view]
    assert hits, f"{mm} not visible in view {view}"
    return hits[0]["x"], hits[0]["y"]


def pixels(page, points) -> list[list[int]]:
    return page.evaluate("(p) => probe(p)", [list(p) for p in points])


def gray(page, mm, view: int = 0) -> int:
    ((r, g, b, _a),) = pixels(page, [screen(page, mm, view)])
    return round((r + g + b) / 3)


def page_xy(page, xy) -> tuple[float, float]:
    """Page (CSS) coordinates of a canvas device-pixel position, for mouse events."""
    box = page.evaluate(
        "() => { const r = el.chrisViewer.nv.canvas.getBoundingClientRect();"
        " return [r.left, r.top, el.chrisViewer.nv.canvas.width / r.width]; }"
    )
    return box[0] + xy[0] / box[2], box[1] + xy[1] / box[2]
