"""Prometheus ``/metrics`` endpoint and the HTTP request metrics every service exports."""

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "bridge_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "bridge_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)


def route_template(request: Request) -> str:
    """The matched route's path template (``/api/v1/apis/{uid}``), for bounded label values."""
    # FastAPI keeps the prefixed template of an included router's route here
    context = request.scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path", None) or getattr(request.scope.get("route"), "path", None)
    return str(template) if template else "unmatched"


def install_metrics(app: FastAPI, service: str) -> None:
    """Count and time every request; serve the registry at ``/metrics``."""

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        path = route_template(request)
        HTTP_REQUESTS.labels(service, request.method, path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, path).observe(time.perf_counter() - start)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
