"""Field updates on both engines: status with its history, properties with source and confidence, and
the binding's rule when a sensor and the field state the same property."""

from __future__ import annotations

import time
from pathlib import Path

import ifcopenshell
import orjson
import pytest

from kgtwin.errors import KgtwinError
from kgtwin.events import EventBus, EventLog
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.field import set_properties, set_status
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import load_registry, read_registry
from kgtwin.store import GraphStore


async def sample_building(store: GraphStore, tmp_path: Path) -> ifcopenshell.file:
    path = tmp_path / "b.ifc"
    write_sample(path, SampleSpec(storeys=1, spaces_per_storey=3))
    await load_ifc(store, path, model="b")
    return ifcopenshell.open(str(path))


async def history(store: GraphStore, subject: str, kind: str) -> list[dict]:
    rows = await store.execute(
        "events/history", {"subject": subject, "kinds": [kind], "from": 0, "to": 2**53, "limit": 100}
    )
    return [{**r, "details": orjson.loads(r["details"])} for r in rows]


async def test_status_changes_are_kept_as_history_and_published(store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample_building(store, tmp_path)
    walls = [f"b:{w.GlobalId}" for w in ifc.by_type("IfcWall")[:3]]
    bus = EventBus()
    log = EventLog(store, bus)
    async with bus.subscribe(lambda e: e.kind == "status_change") as heard:
        changed = await set_status(store, log, walls, "in_progress", "field:site-lead", when=1_000)
        assert [c.uid for c in changed] == walls and {c.previous for c in changed} == {"planned"}
        # the same status again changes nothing and records nothing
        assert await set_status(store, log, walls, "in_progress", "field:site-lead", when=2_000) == []
        await set_status(store, log, walls[:1], "issue", "field:inspector", when=3_000)
        # the schedule drives status, but an element flagged `issue` keeps it until the field clears it
        by_schedule = await set_status(store, log, walls, "completed", "schedule", keep_issue=True, when=4_000)
        assert [c.uid for c in by_schedule] == walls[1:]
        events = [await heard.get() for _ in range(6)]
    assert [(e.subject, e.details["to"]) for e in events[3:]] == [
        (walls[0], "issue"),
        (walls[1], "completed"),
        (walls[2], "completed"),
    ]
    storey = f"b:{ifc.by_type('IfcBuildingStorey')[0].GlobalId}"
    assert all(storey in e.scope for e in events)  # a subscriber to the storey hears about its walls
    rows = await store.run("MATCH (e:Element) WHERE e.uid IN $u RETURN e.uid AS uid, e.status AS s", {"u": walls})
    assert {r["uid"]: r["s"] for r in rows} == {walls[0]: "issue", walls[1]: "completed", walls[2]: "completed"}
    past = await history(store, walls[0], "status_change")
    assert [(e["details"]["from"], e["details"]["to"], e["time"], e["source"]) for e in past] == [
        ("in_progress", "issue", 3_000, "field:inspector"),
        ("planned", "in_progress", 1_000, "field:site-lead"),
    ]
    with pytest.raises(KgtwinError, match="not one of"):
        await set_status(store, log, walls, "done", "field:x")


async def test_properties_carry_source_and_confidence_and_bad_ones_change_nothing(
    store: GraphStore, tmp_path: Path
) -> None:
    ifc = await sample_building(store, tmp_path)
    wall = f"b:{ifc.by_type('IfcWall')[0].GlobalId}"
    log = EventLog(store)
    outcome = await set_properties(
        store, log, "Element", wall, {"crackWidth": 0.3, "inspected": True}, "field:inspector", confidence=0.8, when=5
    )
    assert [o.applied for o in outcome] == [True, True]
    props = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": wall}))[0]["p"]
    assert props["crackWidth"] == 0.3 and props["crackWidth.source"] == "field:inspector"
    assert props["crackWidth.confidence"] == 0.8 and props["crackWidth.time"] == 5 and props["inspected"] is True
    for bad, message in [
        ({"uid": "x"}, "kept by the twin"),
        ({"pset.Pset_WallCommon.FireRating": "EI60"}, "letters, digits"),
        ({"status": "issue"}, "kept by the twin"),
        ({"width": float("nan")}, "finite"),
        ({"tags": {"a": 1}}, "values are numbers"),
        ({"MATCH (n) DETACH DELETE n": 1}, "letters, digits"),
    ]:
        with pytest.raises(KgtwinError, match=message):
            await set_properties(store, log, "Element", wall, bad, "field:x")
    with pytest.raises(KgtwinError, match="confidence"):
        await set_properties(store, log, "Element", wall, {"a": 1}, "field:x", confidence=1.5)
    with pytest.raises(KgtwinError, match="no element"):
        await set_properties(store, log, "Element", "b:nothing", {"a": 1}, "field:x")
    after = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": wall}))[0]["p"]
    assert after == props
    assert len(await history(store, wall, "property_update")) == 2


@pytest.mark.parametrize(
    ("rule", "applied_while_live", "sensor_overwrites_later"),
    [("physical_wins", False, True), ("field_wins", True, False), ("latest_wins", True, True)],
)
async def test_a_bound_property_follows_its_conflict_rule(
    store: GraphStore, tmp_path: Path, rule: str, applied_while_live: bool, sensor_overwrites_later: bool
) -> None:
    ifc = await sample_building(store, tmp_path)
    room = ifc.by_type("IfcSpace")[0].GlobalId
    registry = tmp_path / "sensors.yaml"
    registry.write_text(
        "model: b\npoints:\n"
        f"  - {{id: t1, class: Air_Temperature_Sensor, unit: degC, interval: 60, space: {room},"
        f" property: airTemperature, conflict: {rule}}}\n"
    )
    await load_registry(store, read_registry(registry))
    pipeline = Pipeline(store, await Registry.load(store), DeadLetterStore(tmp_path / "dl.sqlite"))
    now = int(time.time() * 1000)

    async def reading(value: float, ts: int) -> None:
        outcome = await pipeline.submit(
            "test", "t", orjson.dumps({"sensor_id": "t1", "value": value, "timestamp": ts}), readings_from_json
        )
        await outcome.durable

    async def current() -> float:
        rows = await store.run("MATCH (s:Space {uid: $u}) RETURN s.airTemperature AS v", {"u": f"b:{room}"})
        return rows[0]["v"]

    async with pipeline:
        await reading(21.0, now - 10_000)  # the sensor is live
        outcome = await set_properties(
            store, EventLog(store), "Space", f"b:{room}", {"airTemperature": 25.0}, "field:x"
        )
        assert outcome[0].rule == rule and outcome[0].applied is applied_while_live
        assert await current() == (25.0 if applied_while_live else 21.0)
        await reading(22.0, int(time.time() * 1000) + 1_000)  # a reading newer than the field value
        assert await current() == (22.0 if sensor_overwrites_later else 25.0)
    events = await history(store, f"b:{room}", "property_update")
    assert events[0]["details"]["applied"] is applied_while_live and events[0]["details"]["value"] == 25.0


async def test_clearing_several_properties_at_once_keeps_every_other_property(
    store: GraphStore, tmp_path: Path
) -> None:
    """FalkorDB 4.16 drops the wrong key when one SET removes several; kgtwin removes them one by one."""
    ifc = await sample_building(store, tmp_path)
    wall = f"b:{ifc.by_type('IfcWall')[0].GlobalId}"
    log = EventLog(store)
    await set_properties(store, log, "Element", wall, {"crackWidth": 0.3, "inspected": True}, "field:a", confidence=0.5)
    before = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": wall}))[0]["p"]
    await set_properties(store, log, "Element", wall, {"crackWidth": 0.4, "inspected": False}, "field:b")
    after = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": wall}))[0]["p"]
    changed = {"crackWidth", "inspected", "crackWidth.time", "inspected.time", "crackWidth.source", "inspected.source"}
    removed = {"crackWidth.confidence", "inspected.confidence"}
    assert removed <= set(before) and not removed & set(after)
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed | removed
    }
