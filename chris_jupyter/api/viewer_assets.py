"""The viewer's browser bundle (the same files the notebook widget ships): the JupyterLab
extension's viewer tab imports ``viewer/viewer.js`` as an ES module, and so does the notebook
widget's loader (``widgets/static/loader.js``), asking for its kernel's version with ``?v=<hash>``.

Served from the package's ``widgets/static`` folder (``utils/assets.py``); the names are fixed
(no path from the request reaches the disk).
"""

from __future__ import annotations

from tornado import web

from ..utils.assets import asset
from .base import ChrisHandler, api_path, endpoint

AUTH_RESOURCE = "chris:viewer"
ASSETS = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8"}


class ViewerAssetHandler(ChrisHandler):
    @endpoint
    async def get(self, name: str) -> None:
        if name not in ASSETS:
            raise web.HTTPError(404, f"no such viewer asset: {name!r} (there are {', '.join(ASSETS)})")
        data, etag = asset(name)
        version = self.get_query_argument("v", "")
        if version and version != etag:
            # the kernel's chris_jupyter is another version than this server's: it sends its own
            raise web.HTTPError(404, f"this server has {name} version {etag}, not {version}")
        self.set_header("Content-Type", ASSETS[name])
        # A versioned URL always names the same bytes: the browser may keep them (no revalidation).
        self.set_header("Cache-Control", "private, max-age=31536000, immutable" if version
                        else "private, max-age=0, must-revalidate")
        self.set_header("ETag", f'"{etag}"')
        if self.request.headers.get("If-None-Match") == f'"{etag}"':
            self.set_status(304)
            self.finish()
            return
        self.finish(data)


default_handlers = [(api_path(r"viewer/([\w.\-]+)"), ViewerAssetHandler)]
openapi_paths = {
    "/viewer/{name}": {"get": {"summary": "The viewer's bundle (viewer.js, viewer.css) for the lab's tab, the widget",
                               "parameters": [{"name": "name", "in": "path", "required": True,
                                               "schema": {"type": "string", "enum": sorted(ASSETS)}},
                                              {"name": "v", "in": "query", "required": False,
                                               "description": "the version (hash) wanted; another one "
                                               "is a 404", "schema": {"type": "string"}}]}},
}
