"""The library over REST: list, stat, upload (streamed), download (ranges), zip, move, delete."""

from __future__ import annotations

import copy

from tornado import web

from ..errors import ChrisError
from ..library import paths
from .base import ChrisHandler, api_path, endpoint
from .transfer import send_file, send_zip

AUTH_RESOURCE = "chris"


class FilesHandler(ChrisHandler):
    """``GET files?path=`` lists a folder (paginated); ``DELETE files?path=`` removes a path."""

    @endpoint
    async def get(self) -> None:
        limit, offset = self.page_args()
        page = await self.run(
            self.backend.library.list, self.principal, self.get_argument("path", ""),
            limit=limit, offset=offset, name_contains=self.get_argument("name", None),
        )
        self.reply(page.to_json())

    @endpoint
    async def delete(self) -> None:
        await self.run(self.backend.library.delete, self.principal, self.required_arg("path"))
        self.set_status(204)
        await self.finish()


class StatHandler(ChrisHandler):
    @endpoint
    async def get(self) -> None:
        entry = await self.run(self.backend.library.stat, self.principal, self.get_argument("path", ""))
        self.reply(entry.to_json())


UPLOAD_READ_SIZE = 4 * 1024 * 1024


def _widen_reads(conn: object) -> None:
    """Read upload bodies in 4 MiB pieces instead of tornado's 64 KiB (less per-chunk overhead).

    Only this connection's parameters are changed (they are copied, not shared).
    """
    params = getattr(conn, "params", None)
    stream = getattr(conn, "stream", None)
    if params is not None and getattr(params, "chunk_size", 0) < UPLOAD_READ_SIZE:
        params = copy.copy(params)
        params.chunk_size = UPLOAD_READ_SIZE
        conn.params = params  # type: ignore[attr-defined]
    if stream is not None and getattr(stream, "read_chunk_size", 0) < UPLOAD_READ_SIZE:
        stream.read_chunk_size = min(UPLOAD_READ_SIZE, stream.max_buffer_size // 2)


@web.stream_request_body
class ContentHandler(ChrisHandler):
    """``PUT files/content?path=`` streams the request body into a new file (atomic);
    ``GET``/``HEAD`` send a file with HTTP range support."""

    ticket = None
    refusal: Exception | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "PUT":
            return
        if self.principal is None:
            raise web.HTTPError(401, "authentication required")
        limit = self.chris_app.max_upload_size
        declared = self.request.headers.get("Content-Length")
        if declared is not None and int(declared) > limit:
            raise web.HTTPError(413, f"upload of {declared} bytes exceeds the limit of {limit} bytes")
        conn = self.request.connection
        conn.set_max_body_size(limit)  # type: ignore[union-attr]
        conn.set_body_timeout(3600)  # type: ignore[union-attr]
        _widen_reads(conn)
        self._check_authorized_put()
        # A refused upload is answered after the body was read (and discarded): answering
        # while the client still sends makes most HTTP clients report a broken connection
        # instead of our message.
        try:
            self.ticket = await self.run(
                self.backend.library.begin_upload, self.principal, self.required_arg("path"),
                overwrite=self.bool_arg("overwrite"),
            )
        except (ChrisError, paths.InvalidPath, web.HTTPError) as e:
            self.refusal = e

    def _check_authorized_put(self) -> None:
        if not self.authorizer.is_authorized(self, self.current_user, "write", self.auth_resource):
            raise web.HTTPError(403, "not authorized to upload")

    def data_received(self, chunk: bytes) -> None:
        if self.ticket is not None:
            self.ticket.temp.write(chunk)

    def on_connection_close(self) -> None:
        # Client went away mid-upload: nothing may appear.
        if self.ticket is not None and self.request.method == "PUT" and not self._finished:
            self.backend.library.abort_upload(self.ticket)
            self.ticket = None

    @endpoint
    async def put(self) -> None:
        if self.refusal is not None:
            raise self.refusal
        ticket = self.ticket
        if ticket is None:
            raise web.HTTPError(400, "upload was not started")
        declared = self.request.headers.get("Content-Length")
        if declared is not None and int(declared) != ticket.temp.written:
            self.backend.library.abort_upload(ticket)
            raise web.HTTPError(400, f"received {ticket.temp.written} of {declared} bytes")
        try:
            entry = await self.run(self.backend.library.finish_upload, ticket)
        except BaseException:
            self.backend.library.abort_upload(ticket)
            raise
        finally:
            self.ticket = None
        self.reply(entry.to_json(), status=201)

    @endpoint
    async def get(self) -> None:
        disk, entry = await self.run(self.backend.library.open_file, self.principal, self.required_arg("path"))
        await send_file(self, disk, entry)

    @endpoint
    async def head(self) -> None:
        disk, entry = await self.run(self.backend.library.open_file, self.principal, self.required_arg("path"))
        await send_file(self, disk, entry, head=True)


class ZipHandler(ChrisHandler):
    """``GET files/zip?path=`` streams a folder as a zip archive built on the fly."""

    @endpoint
    async def get(self) -> None:
        path = self.get_argument("path", "")
        if self.bool_arg("deidentify"):
            chunks, name = await self.run(self.backend.dicom.deidentified_zip, self.principal, path)
            await send_zip(self, chunks, name)
            return
        chunks = await self.run(self.backend.library.zip, self.principal, path)
        await send_zip(self, chunks, paths.basename(path) or "library")


class FoldersHandler(ChrisHandler):
    """``POST files/folders {"path"}`` creates a folder (and its parents)."""

    @endpoint
    async def post(self) -> None:
        body = self.json_body()
        entry = await self.run(self.backend.library.mkdir, self.principal, str(body.get("path", "")))
        self.reply(entry.to_json(), status=201)


class MoveHandler(ChrisHandler):
    """``POST files/move {"src", "dst"}`` moves or renames a file or folder."""

    @endpoint
    async def post(self) -> None:
        body = self.json_body()
        if "src" not in body or "dst" not in body:
            raise web.HTTPError(400, "give 'src' and 'dst'")
        entry = await self.run(self.backend.library.move, self.principal, str(body["src"]), str(body["dst"]))
        self.reply(entry.to_json())


class SearchFilesHandler(ChrisHandler):
    """``GET search/files`` finds readable files by name, path, folder, owner and dates."""

    @endpoint
    async def get(self) -> None:
        limit, offset = self.page_args()
        page = await self.run(
            self.backend.library.search, self.principal,
            name_contains=self.get_argument("name", None), path=self.get_argument("path", None),
            under=self.get_argument("under", None), owner=self.get_argument("owner", None),
            created_after=self.date_arg("created_after"), created_before=self.date_arg("created_before"),
            limit=limit, offset=offset,
        )
        self.reply(page.to_json())


default_handlers = [
    (api_path("files"), FilesHandler),
    (api_path("files/stat"), StatHandler),
    (api_path("files/content"), ContentHandler),
    (api_path("files/zip"), ZipHandler),
    (api_path("files/folders"), FoldersHandler),
    (api_path("files/move"), MoveHandler),
    (api_path("search/files"), SearchFilesHandler),
]

_path_q = {"name": "path", "in": "query", "schema": {"type": "string"}, "description": "library path"}
_page_q = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
]
openapi_paths = {
    "/files": {
        "get": {"summary": "List a folder (folders first, then files; paginated, with total)",
                "parameters": [_path_q, {"name": "name", "in": "query", "schema": {"type": "string"}},
                               *_page_q]},
        "delete": {"summary": "Delete a file or folder", "parameters": [_path_q]},
    },
    "/files/stat": {"get": {"summary": "One file's or folder's metadata", "parameters": [_path_q]}},
    "/files/content": {
        "get": {"summary": "Download a file (supports Range)", "parameters": [_path_q]},
        "head": {"summary": "File size and headers", "parameters": [_path_q]},
        "put": {"summary": "Upload a file: the raw request body, streamed to disk, appears atomically",
                "parameters": [_path_q, {"name": "overwrite", "in": "query", "schema": {"type": "boolean"}}],
                "requestBody": {"content": {"application/octet-stream": {}}}},
    },
    "/files/zip": {"get": {"summary": "Download a folder as a zip archive streamed on the fly; with "
                                      "deidentify=true only its DICOM files, de-identified (PS3.15)",
                           "parameters": [_path_q, {"name": "deidentify", "in": "query",
                                                    "schema": {"type": "boolean"}}]}},
    "/files/folders": {"post": {"summary": "Create a folder", "requestBody": {"content": {
        "application/json": {"schema": {"type": "object", "properties": {"path": {"type": "string"}}}}}}}},
    "/files/move": {"post": {"summary": "Move or rename", "requestBody": {"content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "src": {"type": "string"}, "dst": {"type": "string"}}}}}}}},
    "/search/files": {"get": {"summary": "Search readable files", "parameters": [
        {"name": n, "in": "query", "schema": {"type": "string"}}
        for n in ("name", "path", "under", "owner", "created_after", "created_before")] + _page_q}},
}
