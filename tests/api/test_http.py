"""The plain HTTP endpoints through a real uvicorn: observations in, time series out, health and metrics."""

from __future__ import annotations

import time
from pathlib import Path

import ifcopenshell
import orjson
import pytest

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import load_registry, read_registry
from kgtwin.store import GraphStore
from tests.api.conftest import Api, running_api


async def building_with_points(api: Api, store: GraphStore, tmp_path: Path) -> str:
    path = tmp_path / "b.ifc"
    write_sample(path, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, path, model="b")
    room = ifcopenshell.open(str(path)).by_type("IfcSpace")[0].GlobalId
    registry = tmp_path / "points.yaml"
    registry.write_text(
        "model: b\npoints:\n"
        f"  - {{id: t1, class: Air_Temperature_Sensor, unit: degC, interval: 60, space: {room},"
        " property: airTemperature}\n"
    )
    await load_registry(store, read_registry(registry))
    await api.twin.refresh_registry()
    return f"b:{room}"


async def test_posted_readings_are_stored_before_the_answer_and_bad_ones_are_dead_lettered(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    room = await building_with_points(api, store, tmp_path)
    now = int(time.time() * 1000)
    batch = [
        {"sensor_id": "t1", "value": 20 + i, "unit": "degC", "timestamp": now - 60_000 + i * 1000} for i in range(10)
    ]
    batch.append({"sensor_id": "nobody", "value": 1})
    batch.append({"sensor_id": "t1", "value": "NaN"})
    response = await api.client.post("/ingest", content=orjson.dumps(batch), headers=api.headers("operator"))
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 10
    assert any("unknown point 'nobody'" in r for r in body["rejected"])
    assert any("not a finite number" in r for r in body["rejected"])
    # durable before the answer: the next read sees all ten, and the bound room property
    rows = await store.run("MATCH (:Point {pointId: 't1'})-[:HAS_OBSERVATIONS]->(b) RETURN sum(b.count) AS c")
    assert rows[0]["c"] == 10
    assert (await store.run("MATCH (s:Space {uid: $u}) RETURN s.airTemperature AS v", {"u": room}))[0]["v"] == 29
    # NDJSON, in °F
    ndjson = b"\n".join(
        orjson.dumps({"sensor_id": "t1", "value": 212.0, "unit": "degF", "timestamp": now - 1000 + i}) for i in range(2)
    )
    response = await api.client.post("/ingest", content=ndjson, headers=api.headers("operator"))
    assert response.json() == {"accepted": 2, "rejected": []}
    # malformed and oversized messages: refused, kept in the dead-letter store with their reason
    response = await api.client.post("/ingest", content=b"{oops", headers=api.headers("operator"))
    assert response.status_code == 400 and response.json()["rejected"] == ["malformed JSON"]
    limit = api.twin.pipeline.settings.max_payload_bytes
    response = await api.client.post("/ingest", content=b"[" + b" " * limit + b"]", headers=api.headers("operator"))
    assert response.status_code == 413 and "oversized" in response.json()["error"]
    reasons = [letter.reason for letter in api.twin.deadletters.list()]
    assert any("unknown point" in r for r in reasons) and "malformed JSON" in reasons
    assert any("oversized" in r for r in reasons)
    # viewers read, they do not post
    response = await api.client.post("/ingest", content=orjson.dumps(batch), headers=api.headers("viewer"))
    assert response.status_code == 403 and "may not post observations" in response.json()["error"]
    # the time series comes back as columns, raw or per interval
    series = (
        await api.client.get(f"/timeseries/t1?from={now - 120_000}&to={now + 1}", headers=api.headers("viewer"))
    ).json()
    assert series["unit"] == "degC" and len(series["t"]) == 12
    assert series["v"][:10] == [20.0 + i for i in range(10)] and series["v"][10:] == pytest.approx([100.0, 100.0])
    per_minute = (
        await api.client.get(
            f"/timeseries/t1?from={now - 120_000}&to={now + 1}&every=600", headers=api.headers("viewer")
        )
    ).json()
    assert sum(per_minute["count"]) == 12 and max(per_minute["max"]) == pytest.approx(100.0)
    assert (await api.client.get("/timeseries/nobody", headers=api.headers("viewer"))).status_code == 404


async def test_health_readiness_metrics_and_cors(api: Api, store: GraphStore) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = (await api.client.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["graph"] == store.engine
    await api.gql("{ models { id } }")
    metrics = (await api.client.get("/metrics")).text
    assert 'kgtwin_http_requests_total{route="/graphql",status="200"}' in metrics
    assert "kgtwin_ingest_queue_depth" in metrics and "kgtwin_graphql_round_trips_bucket" in metrics
    # no origin is allowed unless configured
    preflight = await api.client.options(
        "/graphql", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_browsers_may_call_from_configured_origins_and_slow_requests_are_stopped(
    falkordb_store: GraphStore, tmp_path: Path
) -> None:
    async with running_api(
        falkordb_store, tmp_path, cors_origins=("http://dashboard.example",), request_timeout_s=0.5
    ) as api:
        preflight = await api.client.options(
            "/graphql",
            headers={
                "Origin": "http://dashboard.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://dashboard.example"
        other = await api.client.options(
            "/graphql", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in other.headers
        slow = "query($s: String!) { cypher(statement: $s) { rows } }"
        body = await api.gql(slow, {"s": "UNWIND range(1, 30000000) AS x RETURN sum(x) AS s"}, role="analyst")
        assert body["status"] == 504 and "longer than 0.5 s" in body["errors"][0]["message"]
        assert (await api.client.get("/healthz")).status_code == 200  # the service carries on


async def test_a_model_exports_as_rdf_by_content_negotiation(api: Api, store: GraphStore, tmp_path: Path) -> None:
    import rdflib

    await building_with_points(api, store, tmp_path)
    viewer = api.headers("viewer")
    turtle = await api.client.get("/rdf?model=b", headers={**viewer, "Accept": "text/turtle"})
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    bot = rdflib.Namespace("https://w3id.org/bot#")
    assert len(set(graph.subjects(rdflib.RDF.type, bot.Storey))) == 1
    assert len(set(graph.subjects(rdflib.RDF.type, bot.Space))) == 2
    nt = await api.client.get("/rdf?model=b", headers=viewer)  # no Accept: N-Triples, streamed
    assert nt.headers["content-type"].startswith("application/n-triples")
    assert len(rdflib.Graph().parse(data=nt.text, format="nt")) == len(graph)
    assert (await api.client.get("/rdf?model=b", headers={**viewer, "Accept": "image/png"})).status_code == 406
    assert (await api.client.get("/rdf?model=nope", headers=viewer)).status_code == 404
    assert (await api.client.get("/rdf?model=b")).status_code == 401
