"""Domain errors with their HTTP status and stable error code.

Every error a client can cause is an ``ApiError``. It derives from Chalice's
``ChaliceUnhandledError`` because that is the one exception Chalice lets
propagate out of a view into middleware, where ``app.py`` turns it into the
JSON error body in one place.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import ChaliceUnhandledError


class ApiError(ChaliceUnhandledError):
    """An error reported to the client as ``{"error", "code"[, "field"]}``."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON error body."""
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidInput(ApiError):
    status = 400
    code = "invalid_input"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("Retry-After", str(retry_after))


def invalid_field(field: str, value: Any, reason: str) -> InvalidInput:
    """Build a 400 error naming the field and the offending value."""
    return InvalidInput(
        f"{field} {reason}, got {_describe(value)}",
        code="invalid_field",
        field=field,
    )


def missing_field(field: str) -> InvalidInput:
    """Build a 400 error for a required field that is absent or blank."""
    return InvalidInput(
        f"{field} is required and must not be blank",
        code="missing_field",
        field=field,
    )


def json_type(value: Any) -> str:
    """Return the JSON type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(value: Any) -> str:
    """Render a value as JSON with its JSON type, cut to a readable length."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({json_type(value)})"
