"""Prometheus ``/metrics`` endpoint and the HTTP request metrics every service exports."""

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class _RequestMetrics:
    """Pure ASGI middleware that counts and times every HTTP request.

    Not ``BaseHTTPMiddleware``: that one ends a streamed body cleanly even when the
    app fails half way, so a client could take a cut-off stream for a whole one.
    The time covers the whole response, streamed bodies included.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless the app starts a response, it failed

        async def send_measured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_measured)
        finally:
            request = Request(scope)
            path = route_template(request)
            HTTP_REQUESTS.labels(self.service, request.method, path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, request.method, path).observe(
                time.perf_counter() - start
            )


def install_metrics(app: FastAPI, service: str) -> None:
    """Count and time every request; serve the registry at ``/metrics``."""
    app.add_middleware(_RequestMetrics, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
