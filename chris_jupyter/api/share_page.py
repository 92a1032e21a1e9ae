"""The HTML page a private share link shows in a browser (API clients get JSON instead).

Pure functions, no tornado: :func:`wants_html` reads an ``Accept`` header, :func:`render`
builds a self-contained page (inline CSS, no script, no CDN). Every value is escaped; links are
relative to ``links/<token>/files`` so the token never needs to be written into the page.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any
from urllib.parse import quote

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".bmp": "image/bmp"}  # never SVG: it could carry script

# What a browser may load from the page: its own images, its inline style, nothing else.
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'"

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.4rem;margin-bottom:.2rem} .meta{color:#555;margin-top:0}
a.button{display:inline-block;padding:.4rem .9rem;border-radius:4px;background:#1565c0;color:#fff;
text-decoration:none;margin:.2rem 0} table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd} .viewer{margin-top:1rem}
.viewer img{max-width:100%;max-height:70vh;border:1px solid #ccc;background:#000}
"""


def _q(accept: str, kind: str) -> float | None:
    """The quality the Accept header gives ``kind`` (exact, then ``type/*``, then ``*/*``)."""
    best: tuple[int, float] | None = None
    major = kind.split("/")[0]
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        rank = 3 if media == kind else 2 if media == f"{major}/*" else 1 if media == "*/*" else 0
        if not rank:
            continue
        q = 1.0
        for p in params:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        if best is None or rank > best[0]:
            best = (rank, q)
    return None if best is None else best[1]


def wants_html(accept: str | None) -> bool:
    """True when the client asks for HTML before JSON (a browser's navigation does)."""
    if not accept:
        return False
    html_q = _q(accept, "text/html")
    if not html_q or "text/html" not in accept:
        return False
    return html_q > (_q(accept, "application/json") or 0)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return t.strftime("%Y-%m-%d %H:%M UTC")


def _rel(target: str, path: str) -> str:
    """``path`` relative to the link's target (what ``?path=`` takes)."""
    target = target.rstrip("/")
    return path[len(target):].lstrip("/") if path.startswith(target) else path


def _url(endpoint: str, rel: str) -> str:
    return endpoint + (f"?path={quote(rel)}" if rel else "")


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def render(info: dict[str, Any], target: str, rel: str, listing: dict[str, Any]) -> str:
    """The page for one link: what is shared, by whom, until when, downloads and an image viewer.

    ``listing`` is the JSON the API would send: ``{"entry": …}`` for a file, a page of entries
    (``{"items", "total", …}``) for a folder.
    """
    e = html.escape
    title = _name(target) + (f" / {rel}" if rel else "")
    parts = [f"<h1>Shared with you: {e(title)}</h1>",
             f'<p class="meta">Shared by <b>{e(str(info.get("shared_by", "")))}</b> · '
             f'link valid until <b>{e(_when(info.get("expires_at")))}</b> · read only</p>']
    if rel:
        up = rel.rsplit("/", 1)[0] if "/" in rel else ""
        parts.append(f'<p><a href="{e(_url("files", up))}">↑ up</a></p>')
    if "entry" in listing:
        entry = listing["entry"]
        name = str(entry.get("name", ""))
        parts.append(f"<p>File <b>{e(name)}</b>, {e(_size(int(entry.get('size') or 0)))}</p>")
        parts.append(f'<a class="button" id="download" href="{e(_url("content", rel))}" '
                     f'download="{e(name)}">Download</a>')
        ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext in IMAGE_TYPES:
            parts.append(f'<div class="viewer"><img id="image" alt="{e(name)}" '
                         f'src="{e(_url("content", rel))}"></div>')
    else:
        items = listing.get("items", [])
        total = int(listing.get("total", len(items)))
        zip_name = _name(rel or target) + ".zip"
        parts.append(f'<p>Folder, {total} entr{"y" if total == 1 else "ies"}'
                     f'{f" (first {len(items)} shown)" if len(items) < total else ""}</p>')
        parts.append(f'<a class="button" id="download" href="{e(_url("zip", rel))}" '
                     f'download="{e(zip_name)}">Download all (zip)</a>')
        rows = []
        for it in items:
            sub = _rel(target, str(it.get("path", "")))
            name = str(it.get("name", ""))
            if it.get("kind") == "folder":
                link = f'<a href="{e(_url("files", sub))}">{e(name)}/</a>'
                action = f'<a href="{e(_url("zip", sub))}" download="{e(name)}.zip">zip</a>'
                size = ""
            else:
                link = f'<a href="{e(_url("files", sub))}">{e(name)}</a>'
                action = f'<a href="{e(_url("content", sub))}" download="{e(name)}">download</a>'
                size = _size(int(it.get("size") or 0))
            rows.append(f"<tr><td>{link}</td><td>{e(size)}</td><td>{action}</td></tr>")
        parts.append("<table><thead><tr><th>Name</th><th>Size</th><th></th></tr></thead>"
                     f"<tbody>{''.join(rows)}</tbody></table>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} — ChRIS share'
            f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def render_error(status: int, message: str) -> str:
    """The page for a link that opens nothing: unknown, expired or revoked (the server does not say
    which, so a guessed token learns nothing), or a path the link does not hold."""
    e = html.escape
    if status == 404 and "link" in message:
        head = "This share link does not work any more"
        hint = ("It may have expired, been revoked by the person who shared it, or been copied "
                "incompletely. Ask them for a new link.")
    else:
        head = "This shared item cannot be shown"
        hint = "The link works, but not for this item. Go back to the shared folder and pick another."
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(head)} — ChRIS share'
            f'</title><style>{STYLE}</style></head><body><h1 id="error">{e(head)}</h1>'
            f'<p class="meta">{e(hint)}</p><p>The server said: {e(message)} (HTTP {int(status)})</p>'
            "</body></html>")
