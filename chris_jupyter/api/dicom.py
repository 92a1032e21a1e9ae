"""DICOM over REST: search the index, list a series, (re)index a folder, and volumes.

Volumes are what viewers fetch: ``GET volumes/<id>`` sends an uncompressed NIfTI-1 file for
``series:<SeriesInstanceUID>``, ``path:<library path>`` or a ``tmp:`` id that a kernel made with
``POST volumes`` (its array as NIfTI bytes). Range requests work, so a viewer may stream.
"""

from __future__ import annotations

from tornado import web

from ..library.entries import Entry
from .base import ChrisHandler, api_path, endpoint
from .transfer import send_file

AUTH_RESOURCE = "chris:dicom"
_FILTERS = ("patient_id", "patient_name", "study_date", "date_from", "date_to", "modality", "description",
            "study_description", "series_description", "accession", "uid", "pacs")


class StudiesHandler(ChrisHandler):
    """``GET dicom/studies``: studies (with their series and counts) matching every filter."""

    @endpoint
    async def get(self) -> None:
        """Search the DICOM index (visible studies only)."""
        limit, offset = self.page_args(50)
        filters = {k: self.get_argument(k) for k in _FILTERS if self.get_argument(k, None)}
        if "modality" in filters and "," in filters["modality"]:
            filters["modality"] = filters["modality"].split(",")  # type: ignore[assignment]
        self.reply(await self.run(self.backend.dicom.search, self.principal, limit=limit, offset=offset,
                                  **filters))


class SeriesHandler(ChrisHandler):
    """``GET dicom/series/<uid>``: the readable instances of one series."""

    @endpoint
    async def get(self, series_uid: str) -> None:
        """The instances of a series the caller may read."""
        self.reply({"items": await self.run(self.backend.dicom.series, self.principal, series_uid)})


class IndexHandler(ChrisHandler):
    """``POST dicom/index {"path"}``: index every DICOM file below a folder (again)."""

    @endpoint
    async def post(self) -> None:
        """Index (again) the DICOM files below a folder."""
        path = self.json_body().get("path")
        if not isinstance(path, str):
            raise web.HTTPError(400, "'path' (a library folder) is required")
        self.reply(await self.run(self.backend.dicom.reindex, self.principal, path))


class VolumeHandler(ChrisHandler):
    """``GET volumes/<id>``: a NIfTI volume for ``series:<uid>`` or ``path:<library path>``."""

    @endpoint
    async def get(self, volume_id: str) -> None:
        """Send the (cached) NIfTI file of a volume."""
        disk = await self.run(self.backend.dicom.volume, self.principal, volume_id)  # tornado decoded it
        self.set_header("Cache-Control", "private, max-age=3600")
        await send_file(self, disk, Entry(volume_id, "volume.nii", "file", disk.stat().st_size,
                                          content_type="application/octet-stream"))


class VolumesHandler(ChrisHandler):
    """``POST volumes``: keep a NIfTI volume sent by a notebook, for the viewer."""

    @endpoint
    async def post(self) -> None:
        """Store the NIfTI bytes of the request body; answers the new volume's id."""
        if len(self.request.body) < 352:
            raise web.HTTPError(400, "send the volume as NIfTI-1 bytes in the request body")
        vid = await self.run(self.backend.dicom.put_volume, self.principal, self.request.body)
        self.reply({"id": vid}, 201)


default_handlers = [
    (api_path("dicom/studies"), StudiesHandler),
    (api_path(r"dicom/series/([0-9.]+)"), SeriesHandler),
    (api_path("dicom/index"), IndexHandler),
    (api_path("volumes"), VolumesHandler),
    (api_path(r"volumes/(.+)"), VolumeHandler),
]

openapi_paths = {
    "/dicom/studies": {"get": {"summary": "Search studies (wildcards * ?; dates; modality; descriptions; UIDs)",
                               "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                              for n in (*_FILTERS, "limit", "offset")]}},
    "/dicom/series/{uid}": {"get": {"summary": "Instances of a series", "parameters": [
        {"name": "uid", "in": "path", "required": True, "schema": {"type": "string"}}]}},
    "/dicom/index": {"post": {"summary": "Index the DICOM files below a folder"}},
    "/volumes": {"post": {"summary": "Keep a NIfTI volume sent by a kernel; returns its id",
                          "requestBody": {"content": {"application/octet-stream": {}}}}},
    "/volumes/{id}": {"get": {"summary": "A volume as uncompressed NIfTI-1 (series:UID, path:…, tmp:…)",
                              "parameters": [{"name": "id", "in": "path", "required": True,
                                              "schema": {"type": "string"}}]}},
}
