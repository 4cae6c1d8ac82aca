"""The errors a request can meet, with the HTTP status each one answers with."""

from __future__ import annotations

from harness.errors import HarnessError


class RequestError(HarnessError):
    """A bad request: a query parameter out of range or malformed (400)."""

    status = 400


class NotFound(RequestError):
    """An unknown run, playlist, model or file (404)."""

    status = 404
