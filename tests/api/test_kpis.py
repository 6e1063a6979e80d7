"""KPIs rolled up from places to parents, aggregates by pattern, and walks through the graph, through the API."""

from __future__ import annotations

import time
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import numpy as np
import orjson
import pytest

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.api.conftest import Api


async def sample(store: GraphStore, tmp_path: Path) -> ifcopenshell.file:
    path = tmp_path / "k.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=3))
    await load_ifc(store, path, model="k")
    return ifcopenshell.open(str(path))


def storey_of(element: ifcopenshell.entity_instance) -> str:
    container = ifcopenshell.util.element.get_container(element)
    if container.is_a("IfcSpace"):
        container = ifcopenshell.util.element.get_aggregate(container)
    return container.GlobalId


async def test_kpis_roll_up_from_storeys_to_the_building_and_the_model(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    ifc = await sample(store, tmp_path)
    walls = ifc.by_type("IfcWall")
    done = [f"k:{w.GlobalId}" for w in walls[:5]]
    await api.data("mutation($u: [ID!]!) { setStatus(uids: $u, status: COMPLETED) { uid } }", {"u": done}, "operator")
    await api.data(
        "mutation($u: [ID!]!) { setStatus(uids: $u, status: ISSUE) { uid } }",
        {"u": [f"k:{walls[5].GlobalId}"]},
        "operator",
    )
    query = """{ model(id: "k") { kpis { elementCount percentComplete percentCompleteByVolume
        status { planned inProgress completed issue } byClass { key count } points { total silent }
        children { uid elementCount status { completed } children { uid } } } } }"""
    k = (await api.data(query))["model"]["kpis"]
    work = [e for e in ifc.by_type("IfcElement") if not e.is_a("IfcOpeningElement") and not e.is_a("IfcSensor")]
    assert k["elementCount"] == len(work)
    assert k["status"] == {"planned": len(work) - 6, "inProgress": 0, "completed": 5, "issue": 1}
    assert k["percentComplete"] == pytest.approx(round(100 * 5 / len(work), 2))
    volumes = {
        e.GlobalId: q.Quantities[-1].VolumeValue
        for e in work
        for rel in e.IsDefinedBy
        if rel.is_a("IfcRelDefinesByProperties")
        and (q := rel.RelatingPropertyDefinition).is_a("IfcElementQuantity")
        and q.Quantities[-1].is_a("IfcQuantityVolume")
    }
    expected = 100 * sum(volumes[w.GlobalId] for w in walls[:5]) / sum(volumes.values())
    assert k["percentCompleteByVolume"] == pytest.approx(round(expected, 2))
    assert {c["key"]: c["count"] for c in k["byClass"]}["IfcWall"] == len(walls)
    assert k["points"] == {"total": len(ifc.by_type("IfcSensor")), "silent": len(ifc.by_type("IfcSensor"))}
    (building,) = k["children"]
    assert building["elementCount"] == k["elementCount"]
    # the building's storeys add up to the building
    b = (
        await api.data(
            "query($u: ID!) { node(uid: $u) { ... on Building { kpis { elementCount status { completed } "
            "children { uid elementCount status { completed } place { name } } } } } }",
            {"u": building["uid"]},
        )
    )["node"]["kpis"]
    assert sum(c["elementCount"] for c in b["children"]) == b["elementCount"]
    per_storey = {c["uid"]: c["status"]["completed"] for c in b["children"]}
    assert per_storey == {
        f"k:{s.GlobalId}": sum(storey_of(w) == s.GlobalId for w in walls[:5]) for s in ifc.by_type("IfcBuildingStorey")
    }
    assert sorted(c["place"]["name"] for c in b["children"]) == ["Level 0", "Level 1"]
    # scoped to an element type or an IFC class
    wall_type = f"k:{ifc.by_type('IfcWallType')[0].GlobalId}"
    typed = await api.data(
        'query($t: ID!) { kpis(model: "k", elementType: $t) { elementCount status { completed } } }', {"t": wall_type}
    )
    assert typed["kpis"] == {"elementCount": len(walls), "status": {"completed": 5}}


async def test_aggregates_by_pattern_and_point_health(api: Api, store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample(store, tmp_path)
    await api.twin.refresh_registry()
    now = int(time.time() * 1000)
    room_sensors = [
        s
        for s in ifc.by_type("IfcSensor")
        if s.PredefinedType == "TEMPERATURESENSOR" and s.ObjectType != "concrete maturity"
    ]
    rng = np.random.default_rng(7)
    posted: dict[str, list[float]] = {}
    readings = []
    for sensor in room_sensors:
        values = (20 + rng.normal(0, 1, 30)).round(3).tolist()
        posted.setdefault(storey_of(sensor), []).extend(values)
        readings += [
            {"sensor_id": f"k:{sensor.GlobalId}", "value": v, "timestamp": now - 600_000 + i * 10_000}
            for i, v in enumerate(values)
        ]
    response = await api.client.post("/ingest", content=orjson.dumps(readings), headers=api.headers("operator"))
    assert response.json()["accepted"] == len(readings)
    query = """{ aggregate(model: "k", brickClass: "Temperature_Sensor", groupBy: [BUILDING, STOREY]) {
        points count avg min max storey { name } building { name } } }"""
    groups = (await api.data(query))["aggregate"]
    by_storey = {f"k:{g}": v for g, v in posted.items()}
    assert len(groups) == 2
    for group in groups:
        values = next(v for uid, v in by_storey.items() if group["storey"]["name"] == ifc.by_guid(uid[2:]).Name)
        assert group["count"] == len(values)
        assert group["avg"] == pytest.approx(float(np.mean(values)))
        assert group["min"] == pytest.approx(min(values)) and group["max"] == pytest.approx(max(values))
        assert group["points"] == 5  # three rooms' sensors and the slab's two concrete sensors (no data yet)
        assert group["building"]["name"] == "Building A"
    # an Air_Temperature_Sensor is a Temperature_Sensor, a CO2 sensor is not
    health = (
        await api.data(
            '{ kpis(model: "k", brickClass: "Temperature_Sensor") { points { total reporting stale silent } } }'
        )
    )["kpis"]["points"]
    assert health == {"total": 10, "reporting": 6, "stale": 0, "silent": 4}
    # the window statistics of a storey come from whole buckets plus the edges value by value
    sid = storey_of(room_sensors[0])
    start = (now - 450_000) // 1000 * 1000  # inside the 15-minute buckets: their edges are read value by value
    stats = await api.data(
        'query($s: ID!, $f: DateTime!) { kpis(model: "k", storey: $s, brickClass: "Temperature_Sensor", from: $f) '
        "{ observations { count avg } } }",
        {"s": f"k:{sid}", "f": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start / 1000)) + "Z"},
    )
    kept = [
        r["value"] for r in readings if storey_of(ifc.by_guid(r["sensor_id"][2:])) == sid and r["timestamp"] >= start
    ]
    assert 0 < len(kept) < len(posted[sid])
    assert stats["kpis"]["observations"]["count"] == len(kept)
    assert stats["kpis"]["observations"]["avg"] == pytest.approx(float(np.mean(kept)))


async def test_neighbours_and_paths_follow_the_graph_either_way(api: Api, store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample(store, tmp_path)
    door = next(d for d in ifc.by_type("IfcDoor"))
    opening = door.FillsVoids[0].RelatingOpeningElement
    wall = opening.VoidsElements[0].RelatingBuildingElement
    near = await api.data(
        "query($u: ID!) { neighbours(uid: $u, depth: 2) { start { node { name } } "
        "nodes { distance via outgoing node { uid } } } }",
        {"u": f"k:{door.GlobalId}"},
    )
    reached = {n["node"]["uid"]: (n["distance"], n["via"], n["outgoing"]) for n in near["neighbours"]["nodes"]}
    assert reached[f"k:{opening.GlobalId}"] == (1, "FILLS", True)
    # two steps away either through the opening or through the storey; which comes first is the engine's order
    assert reached[f"k:{wall.GlobalId}"][0] == 2
    storey = f"k:{storey_of(door)}"
    assert reached[storey][0] == 1  # doors are contained in their storey
    path = await api.data(
        "query($a: ID!, $b: ID!) { path(from: $a, to: $b) { distance via node { uid name } } }",
        {"a": f"k:{door.GlobalId}", "b": f"k:{wall.GlobalId}"},
    )
    # two ways are two steps long (through the opening, or through the storey both are in); either is shortest
    assert [p["distance"] for p in path["path"]] == [0, 1, 2]
    assert path["path"][1]["node"]["uid"] in (f"k:{opening.GlobalId}", storey)
    through_the_opening = await api.data(
        'query($a: ID!, $b: ID!) { path(from: $a, to: $b, relationshipTypes: ["FILLS", "VOIDS"]) '
        "{ via node { uid } } }",
        {"a": f"k:{door.GlobalId}", "b": f"k:{wall.GlobalId}"},
    )
    assert [p["node"]["uid"] for p in through_the_opening["path"]] == [
        f"k:{door.GlobalId}",
        f"k:{opening.GlobalId}",
        f"k:{wall.GlobalId}",
    ]
    assert [p["via"] for p in through_the_opening["path"]] == [None, "FILLS", "VOIDS"]
    only_containment = await api.data(
        'query($a: ID!, $b: ID!) { path(from: $a, to: $b, relationshipTypes: ["CONTAINS_ELEMENT"]) { node { uid } } }',
        {"a": f"k:{door.GlobalId}", "b": f"k:{wall.GlobalId}"},
    )
    assert [p["node"]["uid"] for p in only_containment["path"]] == [f"k:{door.GlobalId}", storey, f"k:{wall.GlobalId}"]
