"""Smoke test of a deployed stage, run by the deploy workflow after each deploy.

    python infra/smoke_test.py [--read-only] https://ID.execute-api.REGION.amazonaws.com/api/

It checks health, API Gateway's JSON 404 for unknown routes and the API key on
GET /metrics. Without --read-only it also creates a user and a link, follows
the link's redirect, and deletes both again. It exits with status 1 naming
the first check that failed. It uses only the standard library, so it runs
before any dependency is installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

# (method, path, JSON body or None) -> (status, lower-cased headers, body bytes)
Send = Callable[[str, str, Any], tuple[int, dict[str, str], bytes]]


class SmokeTestFailed(AssertionError):
    """A check of the deployed stage failed."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_sender(base_url: str, timeout: float = 15.0) -> Send:
    """Return a Send that calls base_url over HTTP without following redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    root = base_url.rstrip("/")

    def send(method: str, path: str, body: Any = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(root + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status, _lower(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, _lower(error.headers), error.read()

    return send


def _lower(headers: Any) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _expect(
    send: Send, method: str, path: str, status: int, body: Any = None
) -> tuple[dict[str, str], Any]:
    actual, headers, raw = send(method, path, body)
    if actual != status:
        raise SmokeTestFailed(
            f"{method} {path} returned {actual}, expected {status}: {raw[:300]!r}"
        )
    print(f"ok  {method} {path} -> {status}")
    try:
        return headers, json.loads(raw) if raw else None
    except ValueError:
        return headers, None


def check_read_only(send: Send, gateway: bool = True) -> None:
    """Check health and, with gateway=True, API Gateway's own responses."""
    _, health = _expect(send, "GET", "/health", 200)
    if not isinstance(health, dict) or health.get("status") != "ok":
        raise SmokeTestFailed(f"GET /health returned {health!r}, expected status ok")
    if not gateway:
        return
    _, missing = _expect(send, "GET", "/smoke-test/no/such/route", 404)
    if not isinstance(missing, dict) or missing.get("code") != "route_not_found":
        raise SmokeTestFailed(
            f"unknown route returned {missing!r}, expected code route_not_found"
        )
    _expect(send, "GET", "/metrics", 403)


def check_links(send: Send) -> None:
    """Create a user and a link, follow the redirect, then delete both."""
    run_id = uuid.uuid4().hex[:12]
    user_body = {"username": f"smoke-{run_id}", "email": f"smoke-{run_id}@example.com"}
    _, user = _expect(send, "POST", "/users", 201, user_body)
    target = f"https://example.com/smoke/{run_id}"
    link_body = {"user_id": user["id"], "original_url": target, "title": "smoke"}
    _, link = _expect(send, "POST", "/urls", 201, link_body)
    code = link["short_code"]
    headers, _ = _expect(send, "GET", f"/{code}", 302)
    if headers.get("location") != target:
        raise SmokeTestFailed(
            f"GET /{code} redirected to {headers.get('location')!r}, expected {target}"
        )
    _expect(send, "DELETE", f"/urls/{link['id']}", 204)
    _expect(send, "DELETE", f"/users/{user['id']}", 204)
    _expect(send, "GET", f"/{code}", 404)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="the stack's EndpointURL output")
    parser.add_argument(
        "--read-only", action="store_true", help="only send requests that write nothing"
    )
    args = parser.parse_args(argv)
    send = http_sender(args.endpoint)
    try:
        check_read_only(send)
        if not args.read_only:
            check_links(send)
    except (SmokeTestFailed, OSError) as error:
        print(f"smoke test failed: {error}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
