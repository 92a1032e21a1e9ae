"""Errors of the core that the API layer turns into HTTP statuses (and the CLI into messages).

Messages are written for the person who made the request: say what was wrong and, where it
helps, what to do instead. They never carry a traceback.
"""

from __future__ import annotations


class ChrisError(Exception):
    status = 500


class BadRequest(ChrisError):
    status = 400


class NotFound(ChrisError):
    status = 404


class Forbidden(ChrisError):
    status = 403


class Conflict(ChrisError):
    status = 409


class TooLarge(ChrisError):
    status = 413


class TooManyRequests(ChrisError):
    status = 429
