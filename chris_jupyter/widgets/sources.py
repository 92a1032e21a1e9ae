"""What ``view()`` accepts, turned into the viewer's source traits.

Pixels never travel through the widget: library data is named by a backend volume id that the
browser fetches (``series:<uid>``, ``path:<library path>``), and an array living in the kernel
is sent once to the backend (``Client.put_volume``) and then fetched the same way.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

VOLUME_ID_KINDS = ("series:", "path:", "tmp:")
LIBRARY_TOPS = ("home/", "SERVICES/", "PUBLIC/", "SHARED/", "PIPELINES/")
# A URL: a scheme, a path (any "/"), or a NIfTI file name; anything else is a volume id.
_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*:|/|\.nii(\.gz)?$", re.IGNORECASE)

ITKWIDGETS_HELP = (
    "itkwidgets cannot be used here: its 0.32 line runs only in the classic Notebook 6 with "
    "ipywidgets 7, and its 1.0 line loads its viewer from a CDN/IPFS at run time (hospital networks "
    "are offline). The built-in viewer (the default backend) shows the same data offline; "
    "chris_jupyter.nifti.to_itk() converts a volume with its geometry for your own ITK code."
)


def source_kwargs(source: str) -> dict[str, str]:
    """A URL (scheme, path or ``*.nii[.gz]``) goes to ``source_url``; else a volume id."""
    if source.startswith(VOLUME_ID_KINDS):
        return {"volume_id": source}
    if _URL_RE.search(source):
        return {"source_url": source}
    return {"volume_id": source}


def _client(client: Any) -> Any:
    if client is not None:
        return client
    from ..client import Client

    return Client()


def volume_id_of(obj: Any, client: Any = None) -> dict[str, str]:
    """The source traits (``volume_id`` or ``source_url``) for ``obj``."""
    if isinstance(obj, str):
        if obj.startswith(VOLUME_ID_KINDS):
            return {"volume_id": obj}
        if obj.startswith(LIBRARY_TOPS):
            return {"volume_id": "path:" + obj}
        return source_kwargs(obj)
    if isinstance(obj, dict):
        if obj.get("series_uid"):  # a series of a search result
            return {"volume_id": f"series:{obj['series_uid']}"}
        if obj.get("series"):  # a study of a search result: its first series
            return {"volume_id": f"series:{obj['series'][0]['series_uid']}"}
        if obj.get("path"):  # a library entry
            return {"volume_id": "path:" + obj["path"]}
        raise TypeError("view() takes a study or series from Client.studies(), or a library entry")
    # numpy and the NIfTI module are not imported for a volume id or a path (a notebook's first
    # viewer comes sooner): an array or a Volume exists only if its module was imported already
    nifti = sys.modules.get("chris_jupyter.nifti")
    if nifti is not None and isinstance(obj, nifti.Volume):
        return {"volume_id": _client(client).put_volume(obj.data, obj.spacing, obj.origin, obj.direction)}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):
        if obj.ndim != 3:
            raise ValueError(f"view() shows 3-D arrays in (z, y, x) order; this one has shape {obj.shape}")
        return {"volume_id": _client(client).put_volume(obj)}
    if type(obj).__module__.startswith("itk"):
        arr, spacing, origin, direction = from_itk(obj)
        return {"volume_id": _client(client).put_volume(arr, spacing, origin, direction)}
    raise TypeError(f"view() cannot show a {type(obj).__name__}: give a volume id, a library path, a search "
                    "result, a URL, a numpy array, a Volume or an itk.Image")


def check_volume(volume_id: str, client: Any = None) -> None:
    """Raise the server's error (``NotFoundError``, ``BadRequestError``…) unless it can serve
    ``volume_id`` as a volume. Without a client and no server to be found (a notebook outside
    Jupyter), nothing is checked here: the viewer shows the server's reason when it loads."""
    from ..client import ChrisApiError

    try:
        c = _client(client)
    except ChrisApiError as e:
        if e.status == 0:
            return
        raise
    c.check_volume(volume_id)


def from_itk(image: Any) -> tuple[np.ndarray, tuple, tuple, np.ndarray]:
    """(array in z, y, x order, spacing x/y/z, origin, direction) of an ``itk.Image``."""
    import itk
    import numpy as np

    arr = np.asarray(itk.array_from_image(image))
    spacing = tuple(float(v) for v in image.GetSpacing())
    origin = tuple(float(v) for v in image.GetOrigin())
    direction = np.asarray(itk.array_from_matrix(image.GetDirection()), dtype=float)
    return arr, spacing, origin, direction


def itkwidgets_view(obj: Any, client: Any = None, **kwargs: Any) -> Any:
    """``view(..., backend="itkwidgets")``: hand the volume, with its geometry, to itkwidgets."""
    try:
        import itkwidgets
    except ImportError:
        raise ImportError(ITKWIDGETS_HELP) from None
    from ..nifti import Volume, to_itk

    if isinstance(obj, Volume):
        vol = obj
    else:
        ref = volume_id_of(obj, client)
        if "volume_id" not in ref:
            raise ValueError("backend='itkwidgets' shows library data, arrays and volumes, not URLs")
        vol = _client(client).load_volume(ref["volume_id"])
    return itkwidgets.view(to_itk(vol), **kwargs)
