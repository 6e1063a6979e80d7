"""Anomalies through the API: an out-of-range reading posted over HTTP is heard by a subscriber on its
storey within a second of being written, and the state workflow runs through mutations."""

from __future__ import annotations

import time
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import orjson

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import load_registry, read_registry
from kgtwin.store import GraphStore
from tests.api.conftest import Api

SUBSCRIPTION = """subscription($within: ID!) { anomalies(within: $within) {
  event { kind time details } anomaly { uid kind severity state active point { pointId } scope } } }"""


async def test_an_out_of_range_reading_is_heard_on_its_storey_and_acknowledged_through_the_api(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "a.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, path, model="a")
    ifc = ifcopenshell.open(str(path))
    room = ifc.by_type("IfcSpace")[0]
    storey = f"a:{ifcopenshell.util.element.get_aggregate(room).GlobalId}"
    registry = tmp_path / "points.yaml"
    registry.write_text(
        "model: a\npoints:\n"
        f"  - {{id: t1, class: Air_Temperature_Sensor, unit: degC, interval: 60, limits: {{min: 10, max: 35}},"
        f" space: {room.GlobalId}, property: airTemperature}}\n"
    )
    await load_registry(store, read_registry(registry))
    await api.twin.refresh_registry()
    now = int(time.time() * 1000)
    normal = [
        {"sensor_id": "t1", "value": 21.0 + (i % 3) * 0.1, "timestamp": now - 60_000 * (30 - i)} for i in range(29)
    ]
    response = await api.client.post("/ingest", content=orjson.dumps(normal), headers=api.headers("operator"))
    assert response.json()["accepted"] == 29
    async with api.subscribe(SUBSCRIPTION, {"within": storey}) as next_anomaly:
        hot = orjson.dumps({"sensor_id": "t1", "value": 80.0, "timestamp": now})
        response = await api.client.post("/ingest", content=hot, headers=api.headers("operator"))
        written = time.perf_counter()  # the answer comes once the reading is durable
        assert response.json()["accepted"] == 1
        heard = (await next_anomaly(timeout=5.0))["anomalies"]
        delay = time.perf_counter() - written
    assert delay < 1.0, f"heard {delay:.2f} s after the write"
    anomaly = heard["anomaly"]
    assert heard["event"]["kind"] == "anomaly_opened"
    assert anomaly["kind"] == "limit" and anomaly["state"] == "open" and anomaly["point"]["pointId"] == "t1"
    assert f"a:{room.GlobalId}" in anomaly["scope"] and storey in anomaly["scope"]
    # the workflow: viewers may not, operators acknowledge then resolve, and a resolved one stays resolved
    mutation = "mutation($u: ID!, $n: String) { %s(uid: $u, note: $n) { state } }"
    refused = await api.gql(mutation % "acknowledgeAnomaly", {"u": anomaly["uid"], "n": "x"}, role="viewer")
    assert "may not change the twin" in refused["errors"][0]["message"]
    acknowledged = await api.data(mutation % "acknowledgeAnomaly", {"u": anomaly["uid"], "n": "on it"}, "operator")
    assert acknowledged["acknowledgeAnomaly"]["state"] == "acknowledged"
    resolved = await api.data(mutation % "resolveAnomaly", {"u": anomaly["uid"], "n": "reset"}, "operator")
    assert resolved["resolveAnomaly"]["state"] == "resolved"
    again = await api.gql(mutation % "acknowledgeAnomaly", {"u": anomaly["uid"], "n": None}, role="operator")
    assert "only open anomalies can be acknowledged" in again["errors"][0]["message"]
    missing = await api.gql(mutation % "resolveAnomaly", {"u": "anomaly:nope", "n": None}, role="operator")
    assert "no anomaly" in missing["errors"][0]["message"]
    listed = await api.data(
        "query($s: ID!) { node(uid: $s) { ... on Storey { anomalies { uid state } } } }", {"s": storey}
    )
    assert listed["node"]["anomalies"] == [{"uid": anomaly["uid"], "state": "resolved"}]
