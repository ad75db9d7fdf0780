"""Access logs, Chalice's error log, EMF metrics, request ids and /metrics."""

from __future__ import annotations

import io
import json
import re

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chalicelib import observability
from tests.functional.conftest import create_url, create_user, post_json

# The structure CloudWatch accepts for Embedded Metric Format log lines, from
# the EMF specification (CloudWatch Logs documentation, "Specification:
# Embedded metric format").
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 1024,
                            },
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1},
                                        "Unit": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
LOW_CARDINALITY_DIMENSIONS = {"service", "stage"}


@pytest.fixture()
def logs():
    """Point the service logger's JSON handler at a buffer for one test."""
    stream = io.StringIO()
    handler = observability.logger.registered_handler
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def json_lines(text: str) -> list[dict]:
    """Parse every stdout line that is a JSON object."""
    records = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def access_logs(text: str) -> list[dict]:
    return [r for r in json_lines(text) if r.get("message") == "request"]


def emf_documents(text: str) -> list[dict]:
    return [r for r in json_lines(text) if "_aws" in r]


def test_access_log_success_fields(client, logs):
    response = post_json(client, "/users", {"username": "ann", "email": "a@x.io"})
    record = access_logs(logs.getvalue())[-1]
    assert response.status_code == 201
    assert record["level"] == "INFO"
    assert record["method"] == "POST"
    assert record["route"] == "/users"
    assert record["status"] == 201
    assert isinstance(record["duration_ms"], float)
    assert record["request_id"] == response.headers["X-Request-Id"]
    assert isinstance(record["cold_start"], bool)
    assert record["user_id"] == json.loads(response.body)["id"]
    assert "a@x.io" not in json.dumps(record)


def test_access_log_client_error(client, logs):
    response = client.http.get("/urls/424242")
    record = access_logs(logs.getvalue())[-1]
    assert response.status_code == 404
    assert record["status"] == 404
    assert record["route"] == "/urls/{url_ref}"
    assert record["url_id"] == 424242


def test_access_log_redirect_ids(client, logs):
    user = create_user(client)
    link = create_url(client, user["id"])
    response = client.http.get(f"/{link['short_code']}")
    record = access_logs(logs.getvalue())[-1]
    assert response.status_code == 302
    assert record["route"] == "/{short_code}"
    assert record["url_id"] == link["id"]
    assert record["user_id"] == user["id"]


@pytest.fixture()
def broken_events_table(database):
    """Rename the events table so writes hit an unexpected database error."""
    database.run(lambda cur: cur.execute("ALTER TABLE events RENAME TO events_gone"))
    yield
    database.run(lambda cur: cur.execute("ALTER TABLE events_gone RENAME TO events"))


def test_unhandled_error_logs_traceback_once(client, logs, broken_events_table):
    user_response = post_json(client, "/users", {"username": "b", "email": "b@x.io"})
    user_id = json.loads(user_response.body)["id"]
    logs.truncate(0)
    logs.seek(0)
    response = post_json(
        client, "/urls", {"user_id": user_id, "original_url": "https://x.io/a"}
    )
    out = logs.getvalue()
    errors = [r for r in json_lines(out) if r.get("level") == "ERROR"]
    body = json.loads(response.body)
    assert response.status_code == 500
    assert body == {"error": "internal server error", "code": "internal_error"}
    assert len(errors) == 1
    assert "Traceback" in errors[0]["exception"]
    assert errors[0]["exception_name"] == "UndefinedTable"
    assert out.count("Traceback") == 1
    assert access_logs(out)[-1]["status"] == 500


def test_request_id_taken_from_sane_header(client):
    response = client.http.get("/health", headers={"X-Request-Id": "req-42.a"})
    assert response.headers["X-Request-Id"] == "req-42.a"


def test_request_id_replaces_unsafe_header(client):
    response = client.http.get("/health", headers={"X-Request-Id": "x y<script>"})
    assert response.headers["X-Request-Id"] != "x y<script>"
    assert re.fullmatch(r"[A-Za-z0-9._:-]+", response.headers["X-Request-Id"])


def test_request_id_on_error_responses(client):
    response = client.http.get("/users/0")
    assert response.status_code == 404
    assert response.headers["X-Request-Id"]


@pytest.fixture()
def emf_enabled(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_emf_metrics_validate_for_redirect(client, capsys, emf_enabled):
    user = create_user(client)
    link = create_url(client, user["id"])
    capsys.readouterr()
    client.http.get(f"/{link['short_code']}")
    documents = emf_documents(capsys.readouterr().out)
    assert len(documents) == 1
    document = documents[0]
    jsonschema.validate(document, EMF_SCHEMA)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    names = {metric["Name"] for metric in directive["Metrics"]}
    assert {"RedirectServed", "ClickRecorded", "RequestLatency"} <= names
    for name in names:
        assert name in document
    for dimension_set in directive["Dimensions"]:
        assert set(dimension_set) <= LOW_CARDINALITY_DIMENSIONS
        for dimension in dimension_set:
            assert dimension in document
    assert link["short_code"] not in json.dumps(document)
    assert directive["Namespace"] == "Shortener"


def test_emf_metrics_for_unknown_code(client, capsys, emf_enabled):
    capsys.readouterr()
    client.http.get("/NoSuchCode")
    document = emf_documents(capsys.readouterr().out)[0]
    jsonschema.validate(document, EMF_SCHEMA)
    assert "RedirectNotFound" in document
    assert "ClientError" in document


def test_emf_metrics_for_link_created(client, capsys, emf_enabled):
    user = create_user(client)
    capsys.readouterr()
    create_url(client, user["id"])
    document = emf_documents(capsys.readouterr().out)[0]
    jsonschema.validate(document, EMF_SCHEMA)
    assert document["LinkCreated"] == [1.0] or document["LinkCreated"] == 1.0


def test_emf_metrics_for_server_error(client, capsys, emf_enabled, broken_events_table):
    user = create_user(client)
    capsys.readouterr()
    post_json(client, "/urls", {"user_id": user["id"], "original_url": "https://a.io"})
    document = emf_documents(capsys.readouterr().out)[0]
    jsonschema.validate(document, EMF_SCHEMA)
    assert "ServerError" in document


def test_emf_quiet_by_default(client, capsys):
    capsys.readouterr()
    client.http.get("/health")
    assert emf_documents(capsys.readouterr().out) == []


def test_metrics_json_figures(client):
    client.http.get("/health")
    response = client.http.get("/metrics")
    body = json.loads(response.body)
    assert response.status_code == 200
    assert "container" in body["scope"]
    assert body["process"]["rss_bytes"] > 0
    assert body["process"]["threads"] >= 1
    assert body["process"]["uptime_seconds"] >= 0
    assert "open_files" in body["process"]
    assert 0 <= body["system"]["memory_percent"] <= 100
    assert body["system"]["disk_total_bytes"] > 0
    assert body["database"]["connected"] is True
    health = [r for r in body["requests"] if r["route"] == "/health"]
    assert health[0]["status_class"] == "2xx"
    assert health[0]["count"] >= 1


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_prometheus_by_query(client):
    client.http.get("/health")
    response = client.http.get("/metrics?format=prometheus")
    families = _families(response.body.decode())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert families["database_connected"].samples[0].value == 1
    requests_family = families["http_requests"]
    assert requests_family.type == "counter"
    routes = {sample.labels["route"] for sample in requests_family.samples}
    assert "/health" in routes


def test_metrics_prometheus_by_accept(client):
    response = client.http.get("/metrics", headers={"Accept": "text/plain"})
    families = _families(response.body.decode())
    assert "system_cpu_percent" in families
    assert "process_uptime_seconds" in families
