"""The service's plain HTTP endpoints: observations in (`POST /ingest`), time series out
(`GET /timeseries/<point>`, where RDF `ref:TimeseriesReference`s lead), health and readiness."""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kgtwin.api.auth import Principal
from kgtwin.api.service import Twin
from kgtwin.errors import EngineUnavailable, KgtwinError, QueryError
from kgtwin.ingest.history import downsample, series_from_buckets
from kgtwin.ingest.observations import now_ms, parse_time
from kgtwin.ingest.payloads import readings_from_json


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def twin_of(request: Request) -> Twin:
    return request.app.state.twin  # type: ignore[no-any-return]


def principal_of(request: Request) -> Principal:
    return request.scope["kgtwin.principal"]  # type: ignore[no-any-return]


async def read_limited(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, or its first `limit` bytes and True when it is longer (the rest is not read)."""
    declared = request.headers.get("content-length")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return bytes(body[:limit]), True
    if declared and declared.isdigit() and int(declared) > limit:
        return bytes(body[:limit]), True
    return bytes(body), False


async def ingest(request: Request) -> Response:
    """POST /ingest: a JSON object, a JSON array or NDJSON of readings; answers once they are durable."""
    twin = twin_of(request)
    principal = principal_of(request)
    principal.require("ingest", "post observations")
    pipeline = twin.pipeline
    if pipeline is None:
        return error(503, "this service does not ingest (it was started with ingestion off)")
    limit = pipeline.settings.max_payload_bytes
    body, oversized = await read_limited(request, limit)
    if oversized:
        reason = f"oversized payload (more than {limit} bytes)"
        if twin.deadletters is not None:
            twin.deadletters.add("http", principal.name, reason, body)
        return error(413, f"{reason}; send smaller batches")
    outcome = await pipeline.submit("http", principal.name, body, readings_from_json)
    if outcome.durable is not None:
        await outcome.durable
    status = 400 if outcome.accepted == 0 and outcome.rejected else 200
    return json_response({"accepted": outcome.accepted, "rejected": outcome.rejected}, status)


async def timeseries(request: Request) -> Response:
    """GET /timeseries/<point uid or field id>?from=&to=&every= : a point's observations as columns."""
    twin = twin_of(request)
    principal = principal_of(request)
    principal.require("read", "read observations")
    point = request.path_params["point"]
    rows = await twin.store.execute("api/nodes", {"uids": [point], **principal.scope_params}, label="Point")
    if not rows:
        rows = await twin.store.execute("api/point_by_field_id", {"pointId": point, **principal.scope_params})
    if not rows:
        return error(404, f"no point {point!r}")
    props = rows[0]["props"]
    query = request.query_params
    end = parse_time(query.get("to"), 0) if query.get("to") else None
    start = parse_time(query.get("from"), 0) if query.get("from") else None
    if (query.get("to") and end is None) or (query.get("from") and start is None):
        return error(400, "from and to are ISO 8601 times or epoch milliseconds")
    end = end or now_ms()
    start = start if start is not None else end - 24 * 3_600_000
    if start >= end:
        return error(400, "from must be before to")
    buckets = await twin.store.execute("api/series", {"uids": [props["uid"]], "from": start, "to": end})
    series = series_from_buckets(buckets, start, end)
    body: dict[str, Any] = {"point": props["uid"], "pointId": props.get("pointId"), "unit": props.get("unit")}
    body.update({"from": start, "to": end})
    every = query.get("every")
    if every:
        try:
            every_ms = int(float(every) * 1000)
            if every_ms <= 0 or not math.isfinite(float(every)):
                raise ValueError
        except ValueError:
            return error(400, "every is a number of seconds")
        d = downsample(series, every_ms)
        body.update({"every": every_ms, "start": d.start, "count": d.count, "min": d.min, "max": d.max, "avg": d.avg})
    else:
        body.update({"t": series.ts, "v": series.values})
    return json_response(body)


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    twin = twin_of(request)
    try:
        await twin.store.execute("store/ping")
    except (EngineUnavailable, QueryError, KgtwinError, OSError) as exc:
        return json_response({"status": "unavailable", "graph": twin.store.engine, "reason": str(exc)}, 503)
    body = {"status": "ready", "graph": twin.store.engine}
    if twin.pipeline is not None:
        body["ingestQueue"] = twin.pipeline.queue_depth
    return json_response(body)


async def rdf(request: Request) -> Response:
    """GET /rdf?model=ID[&format=ttl|jsonld|nt]: a model as RDF (BOT, Brick, QUDT), negotiated by Accept."""
    from starlette.responses import StreamingResponse

    from kgtwin.export.rdf import FORMATS, NotAcceptable, UnknownModel, negotiate, stream

    twin = twin_of(request)
    principal = principal_of(request)
    principal.require("read", "export the twin")
    model = request.query_params.get("model")
    if not model:
        return error(400, "name the model: /rdf?model=<id>")
    if not principal.sees(model) or principal.building:
        return error(403, f"key {principal.name!r} does not cover the whole of model {model!r}")
    chosen = request.query_params.get("format")
    try:
        fmt = FORMATS[chosen] if chosen in FORMATS else negotiate(request.headers.get("accept"))
        if chosen and chosen not in FORMATS:
            return error(400, f"format {chosen!r} is not one of {', '.join(FORMATS)}")
        chunks = await stream(twin.store, model, fmt, twin.settings)
    except NotAcceptable as exc:
        return error(406, str(exc))
    except UnknownModel as exc:
        return error(404, str(exc))
    filename = f"{model}{fmt.suffix}"
    return StreamingResponse(
        chunks, media_type=fmt.media_type, headers={"Content-Disposition": f'inline; filename="{filename}"'}
    )
