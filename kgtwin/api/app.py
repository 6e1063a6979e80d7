"""The Starlette app: GraphQL (queries, mutations, graphql-transport-ws subscriptions), ingestion and
time-series endpoints, health, metrics; API keys, request size and time limits, CORS, request logs."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from graphql import GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import MaskErrors
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from kgtwin.api import http
from kgtwin.api.auth import Forbidden, Unauthorised
from kgtwin.api.graphql.context import RequestContext
from kgtwin.api.graphql.schema import build_schema
from kgtwin.api.metrics import ServiceMetrics
from kgtwin.api.service import Twin
from kgtwin.config import Settings
from kgtwin.errors import KgtwinError
from kgtwin.store import GraphStore

log = logging.getLogger("kgtwin.api")
OPEN_PATHS = ("/healthz", "/readyz", "/metrics")
# The dashboard's bundle, built from web/ by `make demo`, `make test` or `npm run build` in web/.
DASHBOARD = Path(__file__).resolve().parents[2] / "web" / "dist"


def _user_error(error: GraphQLError) -> bool:
    """Errors users cause (and GraphQL's own) keep their message; anything else is masked and logged."""
    original = error.original_error
    if original is None or isinstance(original, KgtwinError):
        return False
    log.error("GraphQL resolver failed: %s", original, exc_info=original)
    return True


class TwinGraphQL(GraphQL):  # type: ignore[type-arg]
    def __init__(self, twin_of: Any, settings: Settings, metrics: ServiceMetrics) -> None:
        schema = build_schema(
            settings, lambda: MaskErrors(should_mask_error=_user_error, error_message="internal error")
        )
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.dev_mode else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # the legacy graphql-ws is not offered
            keep_alive=True,
            keep_alive_interval=15,
            allowed_origins=settings.cors_origins or (),
        )
        self.twin_of = twin_of
        self.metrics = metrics

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        return RequestContext(
            twin=self.twin_of(),
            caller=request.scope.get("kgtwin.principal"),
            request=request,
            response=response,
            metrics=self.metrics,
        )

    async def on_ws_connect(self, context: RequestContext) -> Any:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        key = params.get("apiKey") or params.get("x-api-key")
        authorization = params.get("Authorization") or params.get("authorization")
        if not key and isinstance(authorization, str) and authorization.lower().startswith("bearer "):
            key = authorization[7:].strip()
        try:
            context.caller = context.twin.keys.authenticate(key)
        except Unauthorised as exc:
            raise ConnectionRejectionError({"reason": str(exc)}) from None
        return await super().on_ws_connect(context)


def _key_of(scope: Scope) -> str | None:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers") or []}
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    authorization = headers.get("authorization", "")
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else None


class Guard:
    """Every HTTP request: the caller's key, the body size limit, the time limit, a log line and metrics."""

    def __init__(self, app: ASGIApp, settings: Settings, metrics: ServiceMetrics, twin_of: Any) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.twin_of = twin_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        path = scope["path"]
        route = _route(path)
        status = {"code": 500}

        async def send_tracking(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        caller = "-"
        try:
            rejection = self._check(scope)
            if isinstance(rejection, Response):
                await rejection(scope, receive, send_tracking)
                return
            caller = rejection
            limited = self._limit_body(receive, send_tracking, scope)
            # An export streams for as long as the model is big; everything else answers within the limit.
            limit = None if route in STREAMING else self.settings.request_timeout_s
            async with asyncio.timeout(limit):
                await self.app(scope, limited, send_tracking)
        except _TooLarge:
            await _json(413, f"the request is larger than {self.settings.max_request_bytes} bytes", route)(
                scope, receive, send_tracking
            )
        except TimeoutError:
            await _json(
                504, f"the request took longer than {self.settings.request_timeout_s:g} s and was stopped", route
            )(scope, receive, send_tracking)
        except (Unauthorised, Forbidden) as exc:
            await _json(401 if isinstance(exc, Unauthorised) else 403, str(exc), route)(scope, receive, send_tracking)
        except KgtwinError as exc:
            await _json(400, str(exc), route)(scope, receive, send_tracking)
        finally:
            elapsed = time.perf_counter() - began
            self.metrics.requests.labels(route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status["code"],
                    "ms": round(elapsed * 1000, 2),
                    "caller": caller,
                },
            )

    def _check(self, scope: Scope) -> Response | str:
        path = scope["path"]
        if path in OPEN_PATHS or scope["method"] == "OPTIONS" or not path.startswith(PROTECTED):
            return "-"
        if path == "/graphql" and scope["method"] == "GET" and self.settings.dev_mode:
            return "-"  # the GraphiQL page itself; its queries carry a key
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_request_bytes and path != "/ingest":
            return _json(413, f"the request is larger than {self.settings.max_request_bytes} bytes", _route(path))
        try:
            principal = self.twin_of().keys.authenticate(_key_of(scope))
        except Unauthorised as exc:
            return _json(401, str(exc), _route(path))
        scope["kgtwin.principal"] = principal
        return principal.name

    def _limit_body(self, receive: Receive, send: Send, scope: Scope) -> Receive:
        if scope["path"] == "/ingest":  # /ingest applies the ingestion limit and dead-letters what is over it
            return receive
        limit = self.settings.max_request_bytes
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        return limited


PROTECTED = ("/graphql", "/ingest", "/timeseries", "/rdf")
STREAMING = ("/rdf",)


class _TooLarge(Exception):
    pass


def _route(path: str) -> str:
    for prefix in (*PROTECTED, *OPEN_PATHS):
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return "other"


def _json(status: int, message: str, route: str) -> Response:
    if route == "/graphql":  # GraphQL clients read errors from the body
        return Response(orjson.dumps({"errors": [{"message": message}]}), status, media_type="application/json")
    return http.error(status, message)


def _dashboard(bundle: Path) -> Route | Mount:
    """The dashboard at `/` (its files are public; its data needs a key), or a page saying how to build it."""
    if (bundle / "index.html").is_file():
        return Mount("/", app=StaticFiles(directory=bundle, html=True), name="dashboard")
    page = f"""<!doctype html><meta charset="utf-8"><title>kgtwin</title>
<h1>kgtwin</h1><p>The API is up (<code>POST /graphql</code>), but the dashboard has not been built: there is no
<code>{html.escape(str(bundle))}/index.html</code>.</p>
<p>Build it with <code>make web</code> from the repository (or <code>npm ci &amp;&amp; npm run build</code> in
<code>web/</code>; Node.js 20.19+), then reload this page.
<code>make demo</code> and <code>make test</code> build it too.</p>"""

    async def not_built(request: Request) -> Response:
        return HTMLResponse(page, status_code=404)

    return Route("/", not_built)


def create_app(
    settings: Settings,
    store: GraphStore | None = None,
    *,
    ingest: bool = True,
    detect: bool = True,
    dashboard: Path = DASHBOARD,
) -> Starlette:
    """The service as an ASGI app; `store` lets tests and the demo share a connection; `dashboard` is the
    folder of the built dashboard served at `/`."""
    metrics = ServiceMetrics()
    holder: dict[str, Twin] = {}

    def twin_of() -> Twin:
        return holder["twin"]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        twin = await Twin.open(settings, store, ingest=ingest, detect=detect)
        holder["twin"] = twin
        app.state.twin = twin
        metrics.watch(twin)
        try:
            yield
        finally:
            await twin.close()

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    graphql = TwinGraphQL(twin_of, settings, metrics)
    routes = [
        Route("/healthz", http.healthz),
        Route("/readyz", http.readyz),
        Route("/metrics", metrics_endpoint),
        Route("/ingest", http.ingest, methods=["POST"]),
        Route("/timeseries/{point:path}", http.timeseries),
        Route("/rdf", http.rdf),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions (graphql-transport-ws)
        _dashboard(dashboard),  # last: the mount at / takes whatever the routes above do not
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        ),
        Middleware(Guard, settings=settings, metrics=metrics, twin_of=twin_of),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.metrics = metrics
    return app
