"""The library over REST: list, stat, upload (streamed), download (ranges), zip, move, delete."""

from __future__ import annotations

import copy

from tornado import web

from .. import paths
from ..errors import ChrisError
from .base import ChrisHandler, api_path, endpoint
from .transfer import send_file, send_zip

AUTH_RESOURCE = "chris:files"


class FilesHandler(ChrisHandler):
    """``GET files?path=`` lists a folder (paginated); ``DELETE files?path=`` removes a path."""

    @endpoint
    async def get(self) -> None:
        """One page of a folder's children (folders first), optionally filtered by ``name``."""
        limit, offset = self.page_args()
        page = await self.run(
            self.backend.library.list, self.principal, self.get_argument("path", ""),
            limit=limit, offset=offset, name_contains=self.get_argument("name", None),
        )
        self.reply(page)

    @endpoint
    async def delete(self) -> None:
        """Delete a file or a folder with everything below it."""
        await self.run(self.backend.library.delete, self.principal, self.required_arg("path"))
        self.set_status(204)
        await self.finish()


class StatHandler(ChrisHandler):
    """``GET files/stat?path=``: one file or folder."""

    @endpoint
    async def get(self) -> None:
        """The entry at ``path``."""
        entry = await self.run(self.backend.library.stat, self.principal, self.get_argument("path", ""))
        self.reply(entry)


UPLOAD_READ_SIZE = 4 * 1024 * 1024


#: How far past ``max_upload_size`` a body may run before the connection is cut. Within it the
#: body is read, counted (:class:`BodyLimit`) and discarded, and the 413 answered after it: an
#: answer sent while the client still writes reaches most HTTP clients as a broken connection
#: (aiohttp: "Can not write request body"), not as our message. Larger declared bodies are
#: refused at once.
REFUSAL_SLACK = 16 * 1024 * 1024


class BodyLimit:
    """A streamed request body against ``max_upload_size``: declared and counted as it arrives."""

    def __init__(self, limit: int, declared: int | None) -> None:
        self.limit = limit
        self.declared = declared
        self.received = 0

    @property
    def exceeded(self) -> bool:
        return max(self.received, self.declared or 0) > self.limit

    def over(self, chunk: bytes) -> bool:
        """Count ``chunk``; true once the body is (or was declared) larger than the limit."""
        self.received += len(chunk)
        return self.exceeded

    def error(self) -> web.HTTPError:
        size = max(self.received, self.declared or 0)
        more = "" if self.declared is None else f"of {size} bytes "
        return web.HTTPError(413, f"upload {more}exceeds the limit of {self.limit} bytes")


def open_upload_body(handler: ChrisHandler) -> BodyLimit:
    """Before a streamed upload body: let the connection take up to ``max_upload_size`` plus
    :data:`REFUSAL_SLACK`, with an hour to send it, in 4 MiB reads. The handler refuses (413)
    once the returned :class:`BodyLimit` is exceeded, after the body; a body declared larger
    than the limit plus the slack is refused here, at once."""
    limit = handler.chris_app.max_upload_size
    raw = handler.request.headers.get("Content-Length")
    body = BodyLimit(limit, int(raw) if raw is not None and raw.isdigit() else None)
    if (body.declared or 0) > limit + REFUSAL_SLACK:
        raise body.error()
    conn = handler.request.connection
    conn.set_max_body_size(limit + REFUSAL_SLACK)  # type: ignore[union-attr]
    conn.set_body_timeout(3600)  # type: ignore[union-attr]
    _widen_reads(conn)
    return body


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
    limit: BodyLimit | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        """Before the body streams in: check the size, the caller and the target, and open the upload."""
        await super().prepare()
        if self.request.method != "PUT":
            return
        if self.principal is None:
            raise web.HTTPError(401, "authentication required")
        self.limit = open_upload_body(self)
        self._check_authorized_put()
        if self.limit.exceeded:
            self.refusal = self.limit.error()
            return
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
        """Write a piece of the request body to the upload's temporary file."""
        if self.limit is not None and self.limit.over(chunk):
            if self.refusal is None:
                self.refusal = self.limit.error()
            if self.ticket is not None:
                self.backend.library.abort_upload(self.ticket)
                self.ticket = None
            return
        if self.ticket is not None:
            self.ticket.temp.write(chunk)

    def on_connection_close(self) -> None:
        # Client went away mid-upload: nothing may appear.
        """A client that goes away mid-upload leaves nothing behind."""
        if self.ticket is not None and self.request.method == "PUT" and not self._finished:
            self.backend.library.abort_upload(self.ticket)
            self.ticket = None

    @endpoint
    async def put(self) -> None:
        """Make the uploaded file appear (one rename) once the whole body has arrived."""
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
        self.reply(entry, status=201)

    @endpoint
    async def get(self) -> None:
        """Send a file (with HTTP range support)."""
        disk, entry = await self.run(self.backend.library.open_file, self.principal, self.required_arg("path"))
        await send_file(self, disk, entry)

    @endpoint
    async def head(self) -> None:
        """A file's headers (size, type) without its bytes."""
        disk, entry = await self.run(self.backend.library.open_file, self.principal, self.required_arg("path"))
        await send_file(self, disk, entry, head=True)


class ZipHandler(ChrisHandler):
    """``GET files/zip?path=`` streams a folder as a zip archive built on the fly."""

    @endpoint
    async def get(self) -> None:
        """Stream the folder at ``path`` as a zip (``deidentify=1``: its DICOM files, de-identified)."""
        path = self.get_argument("path", "")
        if self.bool_arg("deidentify"):
            archive = await self.run(self.backend.dicom.deidentified_zip, self.principal, path)
        else:
            archive = await self.run(self.backend.library.zip, self.principal, path)
        await send_zip(self, archive)


class FoldersHandler(ChrisHandler):
    """``POST files/folders {"path"}`` creates a folder (and its parents)."""

    @endpoint
    async def post(self) -> None:
        """Create the folder ``path``."""
        body = self.json_body()
        entry = await self.run(self.backend.library.mkdir, self.principal, str(body.get("path", "")))
        self.reply(entry, status=201)


class MoveHandler(ChrisHandler):
    """``POST files/move {"src", "dst"}`` moves or renames a file or folder."""

    @endpoint
    async def post(self) -> None:
        """Move ``src`` to ``dst``."""
        body = self.json_body()
        if "src" not in body or "dst" not in body:
            raise web.HTTPError(400, "give 'src' and 'dst'")
        entry = await self.run(self.backend.library.move, self.principal, str(body["src"]), str(body["dst"]))
        self.reply(entry)


class SearchFilesHandler(ChrisHandler):
    """``GET search/files`` finds readable files by name, path, folder, owner and dates."""

    @endpoint
    async def get(self) -> None:
        """One page of readable files matching every given filter, newest first."""
        limit, offset = self.page_args()
        page = await self.run(
            self.backend.library.search, self.principal,
            name_contains=self.get_argument("name", None), path=self.get_argument("path", None),
            under=self.get_argument("under", None), owner=self.get_argument("owner", None),
            created_after=self.date_arg("created_after"), created_before=self.date_arg("created_before"),
            limit=limit, offset=offset,
        )
        self.reply(page)


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
