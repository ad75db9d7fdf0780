"""Chalice routes of the URL shortener API.

Each route parses the request, calls one chalicelib function and shapes the
response. Validation, SQL and error mapping live in chalicelib.
"""

from __future__ import annotations

from chalice import Chalice, Response
from chalice.app import Request

# observability configures the service's logger before Chalice does, so
# Chalice's own error log (app.log, the same logger) is JSON too.
from chalicelib import observability  # isort: skip
from chalicelib import bulk, events, redirects, runtime, urls, users
from chalicelib.config import get_settings
from chalicelib.errors import ApiError, PayloadTooLarge
from chalicelib.http import (
    error_response,
    list_response,
    query_params,
    redirect_response,
    reshape_framework_error,
)
from chalicelib.validation import page_request, parse_json_object, path_id

app = Chalice(app_name="shortener")
# API Gateway passes multipart uploads to Lambda base64-encoded only when the
# media type is declared binary.
app.api.binary_types.append("multipart/form-data")

# Routes accept any content type: the body parser rejects what is not JSON
# with a 400 naming the problem, instead of Chalice's bare 415.
ANY = ["*/*"]

# Fail at start-up, naming the setting, when a deployed stage lacks one.
SETTINGS = get_settings()
observability.install_json_logging()


@app.middleware("http")
def observe(request: Request, get_response) -> Response:
    """Log one JSON line per request, flush its metrics, set X-Request-Id."""
    return observability.observe(request, get_response)


@app.middleware("http")
def api_errors(request: Request, get_response) -> Response:
    """Turn ApiError and Chalice's own errors into the API's JSON error body."""
    try:
        response = get_response(request)
    except ApiError as error:
        response = error_response(error)
    response = reshape_framework_error(request, response)
    route = request.context.get("resourcePath", "unknown")
    runtime.REQUESTS.record(request.method, route, response.status_code)
    return response


def _json_body() -> dict:
    return parse_json_object(app.current_request.raw_body, SETTINGS.max_body_bytes)


def _list(fetch) -> Response:
    request = app.current_request
    query = query_params(request)
    page = page_request(query)
    items, has_next = fetch(query, page)
    return list_response(request, items, page, has_next)


@app.route("/", methods=["GET"])
def index() -> dict:
    return {
        "service": "url shortener",
        "resources": ["/users", "/urls", "/events", "/health", "/metrics"],
    }


@app.route("/health", methods=["GET"])
def health() -> Response:
    status, body = runtime.check_health()
    headers = {"Retry-After": "5"} if status == 503 else {}
    return Response(body=body, status_code=status, headers=headers)


@app.route(
    "/metrics", methods=["GET"], api_key_required=SETTINGS.metrics_api_key_required
)
def metrics() -> Response:
    request = app.current_request
    snapshot = runtime.metrics_snapshot()
    wants_text = query_params(request).get("format") == "prometheus" or (
        "text/plain" in (request.headers.get("accept") or "")
    )
    if wants_text:
        return Response(
            body=runtime.prometheus_text(snapshot),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )
    return Response(body=snapshot)


@app.route("/users", methods=["POST"], content_types=ANY)
def create_user() -> Response:
    return Response(body=users.create_user(_json_body()), status_code=201)


@app.route("/users", methods=["GET"])
def list_users() -> Response:
    return _list(users.list_users)


@app.route("/users/bulk", methods=["POST"], content_types=ANY)
def import_users() -> Response:
    request = app.current_request
    body = request.raw_body
    if body and len(body) > SETTINGS.max_upload_bytes:
        raise PayloadTooLarge(
            f"upload is {len(body)} bytes, the limit is "
            f"{SETTINGS.max_upload_bytes} bytes"
        )
    result = bulk.import_users(request.headers.get("content-type"), body)
    return Response(body=result.to_json(), status_code=201)


@app.route("/users/{user_id}", methods=["GET"])
def get_user(user_id: str) -> dict:
    return users.get_user(path_id(user_id, "user"))


@app.route("/users/{user_id}", methods=["PUT"], content_types=ANY)
def update_user(user_id: str) -> dict:
    return users.update_user(path_id(user_id, "user"), _json_body())


@app.route("/users/{user_id}", methods=["DELETE"])
def delete_user(user_id: str) -> Response:
    users.delete_user(path_id(user_id, "user"))
    return Response(body="", status_code=204)


@app.route("/urls", methods=["POST"], content_types=ANY)
def create_url() -> Response:
    return Response(body=urls.create_url(_json_body()), status_code=201)


@app.route("/urls", methods=["GET"])
def list_urls() -> Response:
    return _list(urls.list_urls)


# API Gateway requires sibling path variables at one depth to share a name, so
# {url_ref} is a numeric id under /urls/ and a short code before /redirect.
@app.route("/urls/{url_ref}", methods=["GET"])
def get_url(url_ref: str) -> dict:
    return urls.get_url(path_id(url_ref, "url"))


@app.route("/urls/{url_ref}", methods=["PUT"], content_types=ANY)
def update_url(url_ref: str) -> dict:
    return urls.update_url(path_id(url_ref, "url"), _json_body())


@app.route("/urls/{url_ref}", methods=["DELETE"])
def delete_url(url_ref: str) -> Response:
    urls.delete_url(path_id(url_ref, "url"))
    return Response(body="", status_code=204)


@app.route("/urls/{url_ref}/redirect", methods=["GET", "HEAD"])
def redirect_by_urls_path(url_ref: str) -> Response:
    return _redirect(url_ref)


@app.route("/events", methods=["POST"], content_types=ANY)
def create_event() -> Response:
    return Response(body=events.create_event(_json_body()), status_code=201)


@app.route("/events", methods=["GET"])
def list_events() -> Response:
    return _list(events.list_events)


@app.route("/events/{event_id}", methods=["GET"])
def get_event(event_id: str) -> dict:
    return events.get_event(path_id(event_id, "event"))


@app.route("/{short_code}", methods=["GET", "HEAD"])
def redirect(short_code: str) -> Response:
    return _redirect(short_code)


def _redirect(code: str) -> Response:
    request = app.current_request
    if request.method == "HEAD":
        return redirect_response(redirects.peek(code))
    headers = request.headers
    location = redirects.follow(code, headers.get("referer"), headers.get("user-agent"))
    return redirect_response(location)


@app.lambda_function(name="migrate")
def migrate(event: dict, context: object) -> dict:
    """Apply pending schema migrations and return the schema version.

    Deployed stages set DB_AUTO_MIGRATE=false, so `make deploy` invokes this
    function once after each stack update instead of every cold start
    migrating.
    """
    from chalicelib import db, schema

    version = db.run(lambda cur: schema.migrate(cur.connection))
    return {"schema_version": version}


@app.schedule("rate(1 minute)")
def drain_clicks(event) -> None:
    """Move clicks buffered during a PostgreSQL outage into events."""
    from chalicelib import fallback

    fallback.run_scheduled_job("drain", event.context)


@app.schedule("rate(1 minute)")
def reconcile_links(event) -> None:
    """Repair link index copies that a failed write-through left stale."""
    from chalicelib import fallback

    fallback.run_scheduled_job("reconcile", event.context)
