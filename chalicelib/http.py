"""Response shaping shared by the routes in app.py."""

from __future__ import annotations

import re
from typing import Any

from chalice import Response
from chalice.app import Request

from chalicelib.errors import ApiError
from chalicelib.pagination import link_header
from chalicelib.validation import PageRequest

# Redirect responses must reach the server on every click, never a cache.
NO_STORE = "private, no-cache, no-store, max-age=0, must-revalidate"


def query_params(request: Request) -> dict[str, str]:
    """Return the query string as a plain dict (the last value of a repeat wins)."""
    params = request.query_params
    return dict(params) if params else {}


def error_response(error: ApiError) -> Response:
    return Response(body=error.body(), status_code=error.status, headers=error.headers)


def list_response(
    request: Request,
    items: list[dict[str, Any]],
    page: PageRequest,
    has_next: bool,
) -> Response:
    """Return a bare JSON array with a Link header when other pages exist."""
    last_id = items[-1]["id"] if items else None
    path = request.context.get("path") or request.path
    link = link_header(path, query_params(request), page, last_id, has_next)
    headers = {"Link": link} if link else {}
    return Response(body=items, status_code=200, headers=headers)


def redirect_response(location: str) -> Response:
    headers = {"Location": location, "Cache-Control": NO_STORE}
    return Response(body="", status_code=302, headers=headers)


def _snake_case(name: str) -> str:
    name = re.sub(r"Error$", "", name) or name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def reshape_framework_error(request: Request | None, response: Response) -> Response:
    """Rewrite Chalice's own ``{"Code", "Message"}`` errors into the API's shape.

    Chalice builds the 405, 415 and unhandled-exception 500 responses itself,
    and clients of this API expect ``{"error", "code"}`` everywhere.
    """
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    if response.status_code >= 500:
        message, code = "internal server error", "internal_error"
    elif response.status_code == 405 and request is not None:
        allowed = response.headers.get("Allow", "")
        path = request.context.get("path") or request.path
        message = (
            f"method {request.method} is not allowed on {path}; allowed: {allowed}"
        )
        code = "method_not_allowed"
    else:
        message, code = str(body.get("Message")), _snake_case(str(body["Code"]))
    response.body = {"error": message, "code": code}
    return response
