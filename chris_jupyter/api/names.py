"""Names the API and the client-mode forwarder share. It imports nothing: a hub user's server
(client mode) loads only this and :mod:`.forward`, never the backend behind :mod:`.base`."""

API_PREFIX = "chris/api/v1"
#: Who is at the page, as a hub user's server tells the service when it forwards a request (in a
#: shared server that may be another hub user than the owner): a label for viewer sessions only,
#: never an identity (:mod:`chris_jupyter.dicom.collab`).
VIEWER_HEADER = "X-Chris-Viewer"
