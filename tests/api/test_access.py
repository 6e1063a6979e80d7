"""Who may do what through the API, and what it refuses: missing or bad keys, roles, scoped keys, too deep
or too costly queries, malformed and oversized requests, and writes through the analysts' read-only Cypher.
Every refusal is a clear error and leaves the graph as it was."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import orjson
import pytest
import websockets

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.api.conftest import Api

NODES = "MATCH (n) RETURN count(n) AS c"


async def two_models(store: GraphStore, tmp_path: Path) -> tuple[ifcopenshell.file, ifcopenshell.file]:
    files = []
    for model, seed in (("a", 1), ("b", 2)):
        path = tmp_path / f"{model}.ifc"
        write_sample(path, SampleSpec(storeys=2, spaces_per_storey=2, seed=seed))
        await load_ifc(store, path, model=model)
        files.append(ifcopenshell.open(str(path)))
    return files[0], files[1]


async def count(store: GraphStore) -> int:
    return (await store.run(NODES))[0]["c"]


async def test_calls_without_a_valid_key_are_refused(api: Api, store: GraphStore, tmp_path: Path) -> None:
    await two_models(store, tmp_path)
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"X-API-Key": ""}):
        response = await api.client.post("/graphql", json={"query": "{ models { id } }"}, headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["errors"][0]["message"]
    for path in ("/ingest", "/timeseries/x"):
        response = await api.client.request("POST" if path == "/ingest" else "GET", path, content=b"[]")
        assert response.status_code == 401 and "API key" in response.json()["error"]
    # a WebSocket that does not present a key in connection_init is closed
    url = api.base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {"apiKey": "wrong"}}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 4403
    # the legacy graphql-ws protocol (which skipped connection_init checks in older strawberry) is not offered
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    # health, readiness and metrics need no key
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await api.client.get(path)).status_code == 200


async def test_each_role_does_what_it_may_and_no_more(api: Api, store: GraphStore, tmp_path: Path) -> None:
    a, _ = await two_models(store, tmp_path)
    wall = f"a:{a.by_type('IfcWall')[0].GlobalId}"
    before = await count(store)
    set_status = "mutation($u: [ID!]!) { setStatus(uids: $u, status: ISSUE) { uid } }"
    refused = await api.gql(set_status, {"u": [wall]}, role="viewer")
    assert "may not change the twin" in refused["errors"][0]["message"]
    analyst = await api.gql(set_status, {"u": [wall]}, role="analyst")
    assert "may not change the twin" in analyst["errors"][0]["message"]
    status = await store.run("MATCH (e:Element {uid: $u}) RETURN e.status AS s", {"u": wall})
    assert status[0]["s"] == "planned" and await count(store) == before
    assert (await api.data(set_status, {"u": [wall]}, role="operator"))["setStatus"] == [{"uid": wall}]
    # Cypher: analysts read; a write is refused by the engine itself, however it is hidden
    cypher = "query($s: String!, $w: Boolean!) { cypher(statement: $s, write: $w) { columns rows } }"
    rows = await api.data(cypher, {"s": "MATCH (s:Storey {model: 'a'}) RETURN count(s) AS n", "w": False}, "analyst")
    assert rows["cypher"]["rows"] == [{"n": 2}]
    before = await count(store)
    for statement in ("MATCH (n) DETACH DELETE n", "WITH 1 AS x MERGE (:Intruder {x: x}) RETURN x"):
        body = await api.gql(cypher, {"s": statement, "w": False}, role="analyst")
        assert "read-only" in body["errors"][0]["message"], body
    assert (
        "may not run Cypher that writes"
        in (await api.gql(cypher, {"s": NODES, "w": True}, "analyst"))["errors"][0]["message"]
    )
    assert "may not run Cypher" in (await api.gql(cypher, {"s": NODES, "w": False}, "viewer"))["errors"][0]["message"]
    assert await count(store) == before
    # an admin may write, knowingly
    await api.data(cypher, {"s": "CREATE (:Note {uid: 'note-1'}) RETURN 1 AS one", "w": True}, "admin")
    assert await count(store) == before + 1
    # named queries: analysts run read-only ones with parameters
    named = "query($n: String!, $p: JSON) { runQuery(name: $n, params: $p) { rows } }"
    summary = await api.data(named, {"n": "ifc/model_summary", "p": {"model": "a"}}, "analyst")
    assert {"label": "Storey", "nodes": 2} in summary["runQuery"]["rows"]
    missing = await api.gql(named, {"n": "ifc/model_summary", "p": {}}, "analyst")
    assert "needs the parameters model" in missing["errors"][0]["message"]


async def test_a_key_scoped_to_a_building_sees_and_changes_only_that_building(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    a, b = await two_models(store, tmp_path)
    building = f"a:{a.by_type('IfcBuilding')[0].GlobalId}"
    api.add_key("contractor", ["operator", "analyst"], model="a", building=building)
    own_wall = f"a:{a.by_type('IfcWall')[0].GlobalId}"
    other_wall = f"b:{b.by_type('IfcWall')[0].GlobalId}"
    seen = await api.data("{ models { id } }", role="contractor")
    assert seen["models"] == [{"id": "a"}]
    elements = await api.data("query($u: ID!) { mine: node(uid: $u) { uid } }", {"u": own_wall}, role="contractor")
    assert elements["mine"] == {"uid": own_wall}
    assert (await api.data("query($u: ID!) { node(uid: $u) { uid } }", {"u": other_wall}, "contractor"))["node"] is None
    refused = await api.gql(
        "mutation($u: [ID!]!) { setStatus(uids: $u, status: ISSUE) { uid } }", {"u": [other_wall]}, role="contractor"
    )
    assert "no element" in refused["errors"][0]["message"]
    status = await store.run("MATCH (e:Element {uid: $u}) RETURN e.status AS s", {"u": other_wall})
    assert status[0]["s"] == "planned"
    assert (
        "scoped"
        in (await api.gql('{ cypher(statement: "RETURN 1 AS x") { rows } }', role="contractor"))["errors"][0]["message"]
    )
    kpis = await api.data('{ kpis(model: "a") { elementCount level } }', role="contractor")
    everything = await api.data('{ kpis(model: "a") { elementCount } }', role="admin")
    assert kpis["kpis"]["level"] == "building" and kpis["kpis"]["elementCount"] == everything["kpis"]["elementCount"]
    forbidden = await api.gql('{ kpis(model: "b") { elementCount } }', role="contractor")
    assert "no model 'b'" in forbidden["errors"][0]["message"]


async def test_too_deep_too_costly_malformed_and_oversized_requests_are_refused(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    await two_models(store, tmp_path)
    before = await count(store)
    deep = (
        "{ models { project { sites { buildings { storeys { nodes { spaces { nodes { elements { nodes { type { "
        "elements { nodes { storey { building { name } } } } } } } } } } } } } } } }"
    )
    body = await api.gql(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    costly = (
        "{ models { elements(first: 1000) { nodes { type { elements(first: 1000) { nodes { "
        "adjacentSpaces { name } } } } } } } }"
    )
    body = await api.gql(costly)
    assert "more than the limit" in body["errors"][0]["message"]
    assert "roundTrips" not in (body.get("extensions") or {})  # refused before anything ran
    body = await api.gql("{ models { id nonsense } }")
    assert "Cannot query field 'nonsense'" in body["errors"][0]["message"]
    response = await api.client.post(
        "/graphql", content=b"{not json", headers={**api.headers("viewer"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    big = {"query": "{ models { id } }", "variables": {"pad": "x" * (api.settings.max_request_bytes + 10)}}
    response = await api.client.post("/graphql", json=big, headers=api.headers("viewer"))
    assert response.status_code == 413 and "larger than" in response.json()["errors"][0]["message"]
    bad_cursor = await api.gql('{ model(id: "a") { elements(after: "nope") { totalCount } } }')
    assert "cursor" in bad_cursor["errors"][0]["message"]
    bad_class = await api.gql('{ model(id: "a") { points(where: {brickClass: "Warm_Thing"}) { totalCount } } }')
    assert "not a Brick" in bad_class["errors"][0]["message"]
    assert await count(store) == before
