"""What the dev runner changes over stock chalice local, checked over HTTP."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import pytest
import requests


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/definitely/not/a/route"),
        ("POST", "/users/1/extra"),
        ("DELETE", "/a/b/c/d"),
        ("GET", "/urls/abc/redirect/more"),
    ],
)
def test_unknown_route_returns_json_404(dev_server, method, path):
    response = requests.request(method, dev_server.url(path), timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "route_not_found"
    assert path in response.json()["error"]


def test_wrong_method_returns_json_405(dev_server):
    response = requests.patch(dev_server.url("/urls"), timeout=10)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def _raw_exchange(base_url: str, request: bytes) -> bytes:
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_head_response_has_no_body(dev_server):
    raw = _raw_exchange(
        dev_server.base_url,
        b"HEAD /NoSuchCode HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404")
    assert body == b""


def test_keep_alive_connection_serves_many(dev_server):
    parts = urlsplit(dev_server.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    statuses = []
    for _ in range(20):
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    assert statuses == [200] * 20
