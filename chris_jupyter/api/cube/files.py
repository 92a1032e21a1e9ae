"""Files the CUBE way: upload (multipart, streamed to disk), list and search, download by id.

Both ``uploadedfiles/`` (CUBE 5, aiochris and caw) and ``userfiles/`` (CUBE 6,
python-chrisclient) lead here; ``upload_path`` may be written in either path dialect.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ... import paths as lib_paths
from ...errors import ChrisError
from ...library.entries import Entry
from ..base import endpoint
from ..files import BodyLimit, open_upload_body
from ..transfer import send_file
from .base import CubeHandler, Resource, cube_path
from .multipart import MultipartError, MultipartParser, boundary_of, disposition
from .paths import from_cube, to_cube5

MAX_FIELD_BYTES = 64 * 1024
SEARCH_FIELDS = ("id", "fname", "fname_exact", "fname_icontains", "fname_nslashes", "owner_username")


def file_resource(h: CubeHandler, e: Entry, extra: dict[str, Any] | None = None) -> Resource:
    fname = to_cube5(e.path) if h.old_paths else e.path
    data = {"id": e.id, "creation_date": e.created_at.isoformat() if e.created_at else None,
            "fname": fname, "fsize": e.size, "owner_username": e.owner, "public": False, **(extra or {})}
    return Resource(h.url(f"files/{e.id}/"), data, {
        "file_resource": h.url(f"files/{e.id}/{lib_paths.basename(e.path)}"),
        "parent_folder": h.url("filebrowser/"),
    })


def slash_offset(h: CubeHandler, anchor: str) -> int:
    """How many more ``/`` our name of a path has than the client's name of it.

    ``fname_nslashes`` counts the slashes of ``fname`` as the client sees it; CUBE 5 names
    (JSON clients) drop ``home/`` and, in feeds, ``feeds/``. The offset is taken at ``anchor``
    (the ``fname`` prefix searched, else the caller's uploads), so it is exact below it."""
    if not h.old_paths:
        return 0
    probe = anchor.strip("/") + "/x"
    return from_cube(probe).count("/") - probe.count("/")


def nslashes(h: CubeHandler, value: str, anchor: str) -> dict[str, Any]:
    """CUBE's ``fname_nslashes``: ``N`` files with N slashes in ``fname``; ``Nu`` one file per
    folder of those (how ChRIS_ui lists the folders at a depth)."""
    digits, unique = (value[:-1], True) if value[-1:] in ("u", "U") else (value, False)
    if not digits.isdigit():
        raise web.HTTPError(400, f"fname_nslashes: expected a number, optionally followed by 'u': {value!r}")
    return {"slashes": int(digits) + slash_offset(h, anchor), "one_per_folder": unique}


async def list_files(h: CubeHandler, *, under: str | None = None, extra: dict[str, Any] | None = None,
                     search: bool = False) -> None:
    limit, offset = h.page()
    lib = h.backend.library
    kw: dict[str, Any] = {"under": under}
    anchor = to_cube5(under) if under else f"{h.principal.username}/uploads"
    if search:
        if h.get_argument("id", ""):
            path = await h.run(lib.file_path, h.principal, h.int_arg("id", 0, lo=1))
            kw["path"] = path
        if h.get_argument("fname_exact", ""):
            anchor = h.get_argument("fname_exact")
            kw["path"] = from_cube(anchor)
        if h.get_argument("fname", ""):
            anchor = h.get_argument("fname")
            prefix = from_cube(anchor)
            exact = await h.run(lib.search, h.principal, path=prefix, under=under, limit=1)
            kw["path" if exact.total else "under"] = prefix
        if h.get_argument("fname_icontains", ""):
            kw["path_contains"] = h.get_argument("fname_icontains")
        if h.get_argument("owner_username", ""):
            kw["owner"] = h.get_argument("owner_username")
    if h.get_argument("fname_nslashes", ""):
        kw.update(nslashes(h, h.get_argument("fname_nslashes"), anchor))
    page = await h.run(lib.search, h.principal, limit=limit, offset=offset, **kw)
    h.reply_list([file_resource(h, e, extra) for e in page.items], page.total, limit, offset,
                 template=["upload_path", "fname"], queries=list(SEARCH_FIELDS))


@web.stream_request_body
class UploadsHandler(CubeHandler):
    """``GET``: the caller's own files; ``POST``: upload one file, the multipart body streamed
    to disk (``upload_path`` first, then the file part ``fname``, as CUBE's clients send them)."""

    ticket = None
    refusal: Exception | None = None
    parser: MultipartParser | None = None
    limit: BodyLimit | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "POST":
            return
        if self.principal is None:
            raise web.HTTPError(401, "Authentication credentials were not provided.")
        self.limit = open_upload_body(self)
        if not self.authorizer.is_authorized(self, self.current_user, "write", self.auth_resource):
            raise web.HTTPError(403, "You do not have permission to perform this action.")
        try:
            boundary = boundary_of(self.request.headers.get("Content-Type", ""))
        except MultipartError as e:
            raise web.HTTPError(400, str(e)) from None
        self.fields: dict[str, bytes] = {}
        self._part: tuple[str, str | None] | None = None
        self.parser = MultipartParser(boundary, self._part_start, self._part_data, self._part_end)
        if self.limit.exceeded:
            self._refuse(self.limit.error())
            self.parser = None

    def _refuse(self, e: Exception) -> None:
        if self.refusal is None:
            self.refusal = e
        if self.ticket is not None:
            self.backend.library.abort_upload(self.ticket)
            self.ticket = None

    async def _part_start(self, headers: dict[str, str]) -> None:
        self._part = disposition(headers)
        name, filename = self._part
        if filename is None or self.refusal is not None:
            return
        if self.ticket is not None:
            raise MultipartError("one file per upload request")
        raw = self.fields.get("upload_path")
        if raw is None:
            raise MultipartError("send 'upload_path' before the file")
        try:
            path = from_cube(raw.decode())
            self.upload_path = path
            self.ticket = await self.run(self.backend.library.begin_upload, self.principal, path)
        except (ChrisError, lib_paths.InvalidPath, UnicodeDecodeError) as e:
            self._refuse(e)

    async def _part_data(self, data: bytes) -> None:
        name, filename = self._part or ("", None)
        if filename is None:
            value = self.fields.get(name, b"") + data
            if len(value) > MAX_FIELD_BYTES:
                raise MultipartError(f"form field {name!r} is too long")
            self.fields[name] = value
        elif self.ticket is not None:
            self.ticket.temp.write(data)

    async def _part_end(self) -> None:
        self._part = None

    async def data_received(self, chunk: bytes) -> None:  # type: ignore[override]
        if self.limit is not None and self.limit.over(chunk):
            self._refuse(self.limit.error())
            self.parser = None
        if self.parser is None or self.parser.done:
            return
        try:
            await self.parser.feed(chunk)
        except MultipartError as e:
            self._refuse(e)
            self.parser = None

    def on_connection_close(self) -> None:
        if self.ticket is not None and not self._finished:
            self.backend.library.abort_upload(self.ticket)
            self.ticket = None

    @endpoint
    async def get(self) -> None:
        await list_files(self, under=lib_paths.home(self.principal.username))

    @endpoint
    async def post(self) -> None:
        if isinstance(self.refusal, MultipartError | UnicodeDecodeError):
            raise web.HTTPError(400, str(self.refusal))
        if isinstance(self.refusal, lib_paths.InvalidPath):
            raise web.HTTPError(400, f"upload_path: {self.refusal}")
        if self.refusal is not None:
            raise self.refusal
        ticket, self.ticket = self.ticket, None
        if ticket is None or self.parser is None or not self.parser.done:
            if ticket is not None:
                self.backend.library.abort_upload(ticket)
            raise web.HTTPError(400, "a multipart body with 'upload_path' and a file 'fname' is required")
        try:
            entry = await self.run(self.backend.library.finish_upload, ticket)
        except BaseException:
            self.backend.library.abort_upload(ticket)
            raise
        self.reply_item(file_resource(self, entry), 201)


class FileSearchHandler(CubeHandler):
    @endpoint
    async def get(self) -> None:
        await list_files(self, search=True)


class FileHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str) -> None:
        path = await self.run(self.backend.library.file_path, self.principal, int(fid))
        entry = await self.run(self.backend.library.stat, self.principal, path)
        self.reply_item(file_resource(self, entry))

    @endpoint
    async def delete(self, fid: str) -> None:
        path = await self.run(self.backend.library.file_path, self.principal, int(fid))
        await self.run(self.backend.library.delete, self.principal, path)
        self.set_status(204)
        await self.finish()


class FileContentHandler(CubeHandler):
    @endpoint
    async def get(self, fid: str, _name: str) -> None:
        path = await self.run(self.backend.library.file_path, self.principal, int(fid))
        disk, entry = await self.run(self.backend.library.open_file, self.principal, path)
        await send_file(self, disk, entry)


_FILES = "(?:files|userfiles|uploadedfiles)"
default_handlers = [
    (cube_path("(?:userfiles|uploadedfiles)"), UploadsHandler),
    (cube_path(rf"{_FILES}/search"), FileSearchHandler),
    (cube_path(rf"{_FILES}/(\d+)"), FileHandler),
    (rf"api/v1/{_FILES}/(\d+)/([^/]+)", FileContentHandler),
]
openapi_paths = {
    "/userfiles/": {"get": {"summary": "My files (also /uploadedfiles/)"},
                    "post": {"summary": "Upload one file: multipart upload_path then fname; streamed to disk",
                             "requestBody": {"content": {"multipart/form-data": {}}}}},
    "/files/search/": {"get": {"summary": "Search readable files: " + ", ".join(SEARCH_FIELDS)}},
    "/files/{id}/": {"get": {"summary": "One file"}, "delete": {"summary": "Delete it"}},
    "/files/{id}/{name}": {"get": {"summary": "Download the file (Range supported)"}},
}
