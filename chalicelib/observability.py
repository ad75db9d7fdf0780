"""Structured logs and EMF metrics for every request, wired as Chalice middleware.

One JSON access log line per request comes from the Powertools Logger, and
metrics leave as CloudWatch Embedded Metric Format lines on stdout, flushed
once per invocation. The logger is named after the service, which is also
Chalice's ``app.log``, so Chalice's own error log is JSON too.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from contextvars import ContextVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from chalice import Response
from chalice.app import Request

from chalicelib.validation import decimal_digits

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "shortener"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Shortener"
STAGE = os.environ.get("APP_STAGE") or "local"
REQUEST_ID_HEADER = "X-Request-Id"
# A client's own request id is kept when it looks like an id, not free text.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

logger = Logger(service=SERVICE, serialize_stacktrace=False)
# NOTE: Powertools keeps the metric set in class-level state, so concurrent
# requests in the threaded dev server share one set. Lambda serves one
# request per container at a time, so there each flush covers one request.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
metrics.set_default_dimensions(stage=STAGE)

_cold_start = True
_ids: ContextVar[dict[str, int] | None] = ContextVar("request_ids", default=None)

REDIRECT_ROUTES = frozenset({"/{short_code}", "/urls/{url_ref}/redirect"})


def annotate(**ids: int | None) -> None:
    """Attach the user and url ids a request involved to its access log line."""
    current = _ids.get()
    if current is not None:
        current.update({key: value for key, value in ids.items() if value})


def install_json_logging(prefix: str = "chalicelib") -> None:
    """Give loggers under prefix the Powertools JSON handler and level."""
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    names = {
        name
        for name in logging.root.manager.loggerDict
        if name == prefix or name.startswith(prefix + ".")
    }
    copy_config_to_registered_loggers(source_logger=logger, include=names)


def request_id(request: Request) -> str:
    """Pick the request id: a sane client header, API Gateway's, Lambda's, or new."""
    header = request.headers.get("x-request-id")
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    gateway_id = request.context.get("requestId")
    if gateway_id:
        return gateway_id
    lambda_context = getattr(request, "lambda_context", None)
    lambda_id = getattr(lambda_context, "aws_request_id", None)
    if lambda_id:
        return lambda_id
    import uuid  # only the dev server and tests get here: Lambda sets an id

    return uuid.uuid4().hex


def _path_ids(request: Request, response: Response) -> dict[str, int]:
    ids: dict[str, int] = {}
    params = request.uri_params or {}
    for name, key in (("user_id", "user_id"), ("url_ref", "url_id")):
        value = decimal_digits(params.get(name, ""))
        if value is not None:
            ids[key] = value
    body = response.body
    if isinstance(body, dict) and response.status_code < 300 and "id" in body:
        route = request.context.get("resourcePath", "")
        if route.startswith("/users"):
            ids.setdefault("user_id", body["id"])
        elif route.startswith("/urls"):
            ids.setdefault("url_id", body["id"])
            ids.setdefault("user_id", body.get("user_id"))
    return ids


def metrics_enabled() -> bool:
    """Tell whether EMF output is on (POWERTOOLS_METRICS_DISABLED turns it off)."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return not is_metrics_disabled()


def record_metrics(route: str, method: str, status: int, duration_ms: float) -> None:
    """Add the request's named events and latency to this invocation's metrics."""
    metrics.add_metric(
        name="RequestLatency", unit=MetricUnit.Milliseconds, value=duration_ms
    )
    if status >= 500:
        metrics.add_metric(name="ServerError", unit=MetricUnit.Count, value=1)
    elif status >= 400:
        metrics.add_metric(name="ClientError", unit=MetricUnit.Count, value=1)
    if route == "/urls" and method == "POST" and status == 201:
        metrics.add_metric(name="LinkCreated", unit=MetricUnit.Count, value=1)
    if route in REDIRECT_ROUTES:
        if status == 302:
            metrics.add_metric(name="RedirectServed", unit=MetricUnit.Count, value=1)
            if method == "GET":
                metrics.add_metric(name="ClickRecorded", unit=MetricUnit.Count, value=1)
        elif status == 404:
            metrics.add_metric(name="RedirectNotFound", unit=MetricUnit.Count, value=1)


def observe(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Run the request; log its access line, add metrics and X-Request-Id."""
    global _cold_start
    started = time.perf_counter()
    cold_start, _cold_start = _cold_start, False
    rid = request_id(request)

    ids: dict[str, int] = {}
    token = _ids.set(ids)
    try:
        response = get_response(request)
    finally:
        _ids.reset(token)
    duration_ms = round((time.perf_counter() - started) * 1000, 3)

    route = request.context.get("resourcePath", "unknown")
    ids = {**_path_ids(request, response), **ids}
    response.headers[REQUEST_ID_HEADER] = rid

    lambda_context = getattr(request, "lambda_context", None)
    logger.info(
        "request",
        extra={
            "request_id": rid,
            "gateway_request_id": request.context.get("requestId"),
            "lambda_request_id": getattr(lambda_context, "aws_request_id", None),
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "cold_start": cold_start,
            **{key: value for key, value in ids.items() if value is not None},
        },
    )

    if metrics_enabled():
        record_metrics(route, request.method, response.status_code, duration_ms)
        metrics.flush_metrics()
    else:
        # Powertools keeps disabled metrics in memory; drop them per request.
        metrics.clear_metrics()
    return response
