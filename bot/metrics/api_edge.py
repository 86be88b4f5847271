"""The API's request edge: every request under `/api/` counted by route template and final status."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bot.metrics.instruments import Metrics

API_PREFIX = "/api/"
UNMATCHED = "unmatched"  # every path no route serves: one bucket, never the raw path


def route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def api_metrics_middleware(metrics: Metrics) -> Middleware:
    """Outermost: it sees the status the problem middleware answered (or aiohttp's own 404/405/413)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            metrics.api_request(route_template(request), exc.status)
            raise
        except Exception:  # a client that went away (cancellation) is not counted
            metrics.api_request(route_template(request), 500)
            raise
        metrics.api_request(route_template(request), response.status)
        return response

    return record
