"""Process and request figures for ``GET /metrics`` and ``GET /health``.

In Lambda each figure describes one container, not the whole service.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections import Counter
from typing import Any

from chalicelib import db
from chalicelib.errors import ServiceUnavailable

_STARTED = time.time()
SCOPE = (
    "one process: under Lambda these figures describe one container of the "
    "function, not the whole service"
)


class RequestCounter:
    """Counts requests by route template and status class since start."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._counts[(method, route, f"{status // 100}xx")] += 1

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            items = sorted(self._counts.items())
        return [
            {"method": m, "route": r, "status_class": s, "count": n}
            for (m, r, s), n in items
        ]


REQUESTS = RequestCounter()


# psutil loads on the first /metrics request, so a cold start that serves
# only redirects does not pay for its import.
@functools.cache
def _process():
    import psutil

    return psutil.Process(os.getpid())


def _process_figures() -> dict[str, Any]:
    import psutil

    process = _process()
    with process.oneshot():
        memory = process.memory_info()
        try:
            open_files = len(process.open_files())
        except psutil.Error:
            open_files = None
        return {
            "pid": process.pid,
            "cpu_percent": process.cpu_percent(interval=None),
            "rss_bytes": memory.rss,
            "vms_bytes": memory.vms,
            "threads": process.num_threads(),
            "open_files": open_files,
            "uptime_seconds": round(time.time() - _STARTED, 3),
        }


def _system_figures() -> dict[str, Any]:
    import psutil

    memory = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "cpu_count": psutil.cpu_count(),
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "memory_percent": memory.percent,
        "disk_total_bytes": disk.total,
        "disk_used_bytes": disk.used,
        "disk_percent": disk.percent,
    }


def _database_figures() -> dict[str, Any]:
    database = db.get_database()
    return {
        "connected": database.connected,
        "idle_connections": database.idle_connections,
        "last_error": database.last_error,
        "last_error_at": database.last_error_at,
    }


def metrics_snapshot() -> dict[str, Any]:
    """Collect process, system, request and database figures."""
    return {
        "scope": SCOPE,
        "process": _process_figures(),
        "system": _system_figures(),
        "requests": REQUESTS.snapshot(),
        "database": _database_figures(),
    }


def prometheus_text(snapshot: dict[str, Any]) -> str:
    """Render a metrics snapshot in the Prometheus text exposition format."""
    lines: list[str] = [f"# scope: {SCOPE}"]

    def gauge(name: str, help_text: str, value: Any) -> None:
        if value is None:
            return
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name} {value}")

    process, system = snapshot["process"], snapshot["system"]
    gauge("process_cpu_percent", "Process CPU use in percent.", process["cpu_percent"])
    gauge("process_resident_memory_bytes", "Resident set size.", process["rss_bytes"])
    gauge("process_threads", "Threads in the process.", process["threads"])
    gauge("process_open_files", "Files open in the process.", process["open_files"])
    gauge("process_uptime_seconds", "Seconds since start.", process["uptime_seconds"])
    gauge("system_cpu_percent", "System CPU use in percent.", system["cpu_percent"])
    gauge(
        "system_memory_available_bytes",
        "Memory available to new processes.",
        system["memory_available_bytes"],
    )
    gauge(
        "system_memory_percent",
        "System memory use in percent.",
        system["memory_percent"],
    )
    gauge("system_disk_percent", "Root disk use in percent.", system["disk_percent"])
    database = snapshot["database"]
    if database["connected"] is not None:
        gauge(
            "database_connected",
            "1 when the latest database statement reached the server.",
            int(database["connected"]),
        )
    gauge(
        "database_last_error_timestamp_seconds",
        "Unix time of the latest database connection failure.",
        database["last_error_at"],
    )
    gauge(
        "database_idle_connections",
        "Idle pooled connections.",
        database["idle_connections"],
    )
    lines.append("# HELP http_requests_total Requests served since start.")
    lines.append("# TYPE http_requests_total counter")
    for item in snapshot["requests"]:
        labels = (
            f'method="{item["method"]}",route="{item["route"]}",'
            f'status_class="{item["status_class"]}"'
        )
        lines.append(f"http_requests_total{{{labels}}} {item['count']}")
    return "\n".join(lines) + "\n"


def check_health() -> tuple[int, dict[str, Any]]:
    """Check the database; return the status code and body of ``GET /health``."""
    try:
        db.get_database().ping()
    except ServiceUnavailable as exc:
        return 503, {
            "status": "unavailable",
            "checks": {"database": "unavailable"},
            "error": exc.message,
            "code": exc.code,
        }
    return 200, {"status": "ok", "checks": {"database": "ok"}}
