"""Client methods for the DICOM index, volumes, annotations and PACS nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ChrisApiError, raise_for
from .events import EventsClient
from .progress import progress_bar
from .results import Rows

if TYPE_CHECKING:  # numpy is imported when a volume is: a notebook that only views pays nothing
    import numpy as np

    from ..nifti import Volume


class DicomClient(EventsClient):
    """The DICOM index (studies, series), volumes and their annotations, PACS query/retrieve."""

    def studies(self, **filters: Any) -> dict[str, Any]:
        """Search the DICOM index: ``patient_id``, ``patient_name`` (``*``/``?`` wildcards),
        ``study_date`` (``20240101-20240131``), ``date_from``/``date_to``, ``modality``,
        ``description``, ``accession``, ``uid``, ``pacs``, ``limit``, ``offset``."""
        if isinstance(filters.get("modality"), list | tuple):
            filters["modality"] = ",".join(filters["modality"])
        return self.get("dicom/studies", **filters)

    def series(self, series_uid: str) -> Rows:
        return Rows(self.get(f"dicom/series/{series_uid}")["items"], "instances")

    def volume_bytes(self, volume_id: str) -> bytes:
        """The NIfTI-1 bytes of ``series:<uid>``, ``path:<library path>`` or a ``tmp:`` id."""
        r = self.http.get(f"volumes/{volume_id}")
        raise_for(r)
        return r.content

    def check_volume(self, volume_id: str) -> None:
        """Raise (with the server's reason) unless ``volume_id`` can be shown as a volume.

        Asks for the NIfTI header only; the server builds (and caches) the volume to answer,
        so the viewer's own fetch that follows is quick.
        """
        with self.http.stream("GET", f"volumes/{volume_id}", headers={"Range": "bytes=0-351"}) as r:
            if r.status_code >= 400:
                r.read()
            raise_for(r)

    def load_volume(self, volume_id: str) -> Volume:
        """A :class:`chris_jupyter.nifti.Volume` (numpy array + geometry) from the server."""
        from ..nifti import load_nifti

        return load_nifti(self.volume_bytes(volume_id))

    def put_volume(self, array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
                   direction: np.ndarray | None = None) -> str:
        """Send a kernel's (z, y, x) array to the server so viewers fetch it; returns its id."""
        import numpy as np

        from ..nifti import Volume

        vol = Volume(np.asarray(array), tuple(map(float, spacing)), tuple(map(float, origin)),
                     np.eye(3) if direction is None else np.asarray(direction, float))
        return self.request("POST", "volumes", content=vol.to_nifti_bytes())["id"]

    def annotations(self, volume_id: str) -> Rows:
        return Rows(self.get("annotations", volume=volume_id)["items"], "annotations")

    def annotate(self, volume_id: str, points: list[list[float]], text: str = "", kind: str = "point") -> dict:
        return self.post("annotations", {"volume": volume_id, "kind": kind, "points": points, "text": text})

    # -- PACS -------------------------------------------------------------------------------------
    def pacs(self) -> dict[str, Any]:
        """Our AE title, the receiver and the configured PACS nodes."""
        return self.get("pacs")

    def pacs_echo(self, name: str) -> dict[str, Any]:
        return self.post(f"pacs/{name}/echo")

    def pacs_find(self, name: str, level: str = "STUDY", **query: Any) -> Rows:
        """C-FIND: ``c.pacs_find("pacs1", "STUDY", PatientName="DOE*", StudyDate="20240101-")``."""
        return Rows(self.post(f"pacs/{name}/find", {"level": level, "query": query})["items"],
                    f"{level.lower()} matches on {name}")

    def pacs_retrieve(self, name: str, study_uid: str, series_uid: str | None = None, *, method: str = "get",
                      wait: bool = True, progress: bool = True, timeout: float = 3600) -> dict[str, Any]:
        """Retrieve a study or series; with ``wait``, follow it with a live progress bar (at most
        ``timeout`` seconds, then its state as it is)."""
        job = self.post(f"pacs/{name}/retrieve", {"study_uid": study_uid, "series_uid": series_uid,
                                                  "method": method})
        if not wait:
            return job
        bar = progress_bar(total=None, desc=f"{method.upper()} from {name}", unit="img", disable=not progress)
        state = job

        def already_final() -> bool:  # read once subscribed: a retrieval that ended before is not waited for
            state.update(self.get(f"pacs/retrievals/{job['id']}"))
            return state["state"] in ("done", "failed")

        for ev in self.events(types=["pacs.progress"], on_connect=already_final, timeout=timeout):
            d = ev["data"]
            if d["id"] != job["id"]:
                continue
            state = d
            if d.get("expected") is not None and bar.total != d["expected"]:
                bar.total = d["expected"]
            bar.n = d["received"]
            bar.set_postfix_str(d["state"])
            bar.refresh()
            if d["state"] in ("done", "failed"):
                break
        bar.close()
        if state["state"] not in ("done", "failed"):
            state = self.get(f"pacs/retrievals/{job['id']}")
        if state["state"] == "failed":
            raise ChrisApiError(502, f"retrieve from {name} failed: {state['message']}")
        return state

    def reindex(self, path: str) -> dict[str, Any]:
        return self.post("dicom/index", {"path": path})
