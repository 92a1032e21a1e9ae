"""The client's errors: one class per kind of refusal, each carrying the server's message."""

from __future__ import annotations

import httpx


class ChrisApiError(Exception):
    """The server refused a request; ``str(err)`` is its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadRequestError(ChrisApiError):
    """400: the request itself is wrong (a bad path, a missing field…)."""


class AuthenticationError(ChrisApiError):
    """401: no valid credentials."""


class PermissionDeniedError(ChrisApiError):
    """403: the user may see this but not do that."""


class NotFoundError(ChrisApiError):
    """404: no such thing, or nothing this user may read."""


class ConflictError(ChrisApiError):
    """409: it exists already, or is in a state that does not allow this."""


_ERRORS = {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
           404: NotFoundError, 409: ConflictError}


def raise_for(r: httpx.Response) -> None:
    """Raise the :class:`ChrisApiError` subclass of an error response (its body read) with the
    server's message; nothing for a success."""
    if r.status_code < 400:
        return
    try:
        msg = r.json().get("message") or r.reason_phrase
    except (ValueError, AttributeError):
        msg = r.text[:500] or r.reason_phrase
    raise _ERRORS.get(r.status_code, ChrisApiError)(r.status_code, msg)
