"""Public IFC models on both engines, checked against figures taken independently with ifcopenshell."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.unit
import pytest

from kgtwin.events import EventLog
from kgtwin.sources.field import set_properties, set_status
from kgtwin.sources.ifc import IfcLoadError, load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.conftest import SHARED_DATA, run_cli

IFC_DIR = SHARED_DATA / "ifc"
PUBLIC = sorted(p.name for p in IFC_DIR.glob("*.ifc"))


def test_the_public_models_are_there() -> None:
    assert len(PUBLIC) == 4, f"expected the four public IFC files in {IFC_DIR}"


async def count(store: GraphStore, statement: str, **params: object) -> int:
    rows = await store.run(statement, params)
    return int(rows[0]["c"])


@pytest.mark.parametrize("name", PUBLIC)
async def test_a_public_model_loads_with_the_counts_ifcopenshell_sees(store: GraphStore, name: str) -> None:
    path = IFC_DIR / name
    ifc = ifcopenshell.open(str(path))
    result = await load_ifc(store, path, model="m")
    assert result.read.schema == ifc.schema

    assert await count(store, "MATCH (s:Storey {model: 'm'}) RETURN count(s) AS c") == len(
        ifc.by_type("IfcBuildingStorey")
    )
    assert await count(store, "MATCH (s:Space {model: 'm'}) RETURN count(s) AS c") == len(ifc.by_type("IfcSpace"))
    expected_classes = Counter(e.is_a() for e in ifc.by_type("IfcElement"))
    rows = await store.run("MATCH (e:Element {model: 'm'}) RETURN e.ifcClass AS cls, count(*) AS c")
    assert {r["cls"]: r["c"] for r in rows} == dict(expected_classes)

    # containment, per container, as the file states it
    expected_containment = Counter()
    for rel in ifc.by_type("IfcRelContainedInSpatialStructure"):
        expected_containment[rel.RelatingStructure.GlobalId] += sum(e.is_a("IfcElement") for e in rel.RelatedElements)
    rows = await store.run(
        "MATCH (c {model: 'm'})-[:CONTAINS_ELEMENT]->(e:Element) RETURN c.globalId AS container, count(e) AS c"
    )
    assert {r["container"]: r["c"] for r in rows} == {k: v for k, v in expected_containment.items() if v}

    # spatial aggregation: every child spatial element hangs off its parent
    spatial_children = sum(
        1
        for rel in ifc.by_type("IfcRelAggregates")
        for child in rel.RelatedObjects
        if child.is_a("IfcSpatialStructureElement") or child.is_a("IfcSite")
    )
    assert spatial_children == await count(
        store, "MATCH (p {model: 'm'})-[r:HAS_SITE|HAS_BUILDING|HAS_STOREY|HAS_SPACE]->() RETURN count(r) AS c"
    )
    element_parts = sum(
        1
        for rel in ifc.by_type("IfcRelAggregates") + ifc.by_type("IfcRelNests")
        if rel.RelatingObject.is_a("IfcElement")
        for child in rel.RelatedObjects
        if child.is_a("IfcElement")
    )
    assert element_parts == await count(
        store, "MATCH (:Element {model: 'm'})-[r:HAS_SUB_ELEMENT]->() RETURN count(r) AS c"
    )

    # voids and fills: which wall each door or window sits in
    fills = {
        rel.RelatedBuildingElement.GlobalId: rel.RelatingOpeningElement.GlobalId
        for rel in ifc.by_type("IfcRelFillsElement")
    }
    voids = {
        rel.RelatedOpeningElement.GlobalId: rel.RelatingBuildingElement.GlobalId
        for rel in ifc.by_type("IfcRelVoidsElement")
    }
    assert len(voids) == await count(store, "MATCH (:Element {model: 'm'})-[r:VOIDS]->() RETURN count(r) AS c")
    assert len(fills) == await count(store, "MATCH (:Element {model: 'm'})-[r:FILLS]->() RETURN count(r) AS c")
    rows = await store.run(
        "MATCH (f:Element {model: 'm'})-[:FILLS]->(:Element)-[:VOIDS]->(host:Element) "
        "RETURN f.globalId AS filler, host.globalId AS host"
    )
    assert {r["filler"]: r["host"] for r in rows} == {f: voids[o] for f, o in fills.items() if o in voids}

    # controls (sensors, thermostats, panels) become Brick points or equipment
    controls = ifc.by_type("IfcDistributionControlElement")
    assert len(controls) == await count(
        store, "MATCH (e:Element {model: 'm'}) WHERE e:Point OR e:Equipment RETURN count(e) AS c"
    )


async def test_property_values_are_the_files_in_si_units(store: GraphStore) -> None:
    path = IFC_DIR / "LargeBuilding.ifc"
    ifc = ifcopenshell.open(str(path))
    await load_ifc(store, path, model="lb")
    length_scale = ifcopenshell.util.unit.calculate_unit_scale(ifc, "LENGTHUNIT")
    for wall in ifc.by_type("IfcWall")[:5]:
        expected = {}
        for rel in wall.IsDefinedBy:
            if not rel.is_a("IfcRelDefinesByProperties"):
                continue
            definition = rel.RelatingPropertyDefinition
            if definition.is_a("IfcPropertySet") and definition.Name == "Custom_Pset":
                for prop in definition.HasProperties:
                    value = prop.NominalValue.wrappedValue
                    if prop.NominalValue.is_a() in ("IfcLengthMeasure", "IfcPositiveLengthMeasure"):
                        value = value * length_scale
                    expected[f"pset.Custom_Pset.{prop.Name}"] = value
        assert expected, "LargeBuilding's walls carry Custom_Pset"
        rows = await store.run(
            "MATCH (e:Element {uid: $uid}) RETURN properties(e) AS p", {"uid": f"lb:{wall.GlobalId}"}
        )
        stored = rows[0]["p"]
        for key, value in expected.items():
            assert stored[key] == pytest.approx(value), key
        assert stored["status"] == "planned"


async def test_quantities_come_in_si_with_their_unit(store: GraphStore) -> None:
    path = IFC_DIR / "AC20-FZK-Haus.ifc"
    ifc = ifcopenshell.open(str(path))
    await load_ifc(store, path, model="fzk")
    wall = ifc.by_type("IfcWall")[0]
    quantities = ifcopenshell.util.element.get_psets(wall, qtos_only=True)["BaseQuantities"]
    rows = await store.run("MATCH (e:Element {uid: $uid}) RETURN properties(e) AS p", {"uid": f"fzk:{wall.GlobalId}"})
    stored = rows[0]["p"]
    assert stored["pset.BaseQuantities.NetVolume"] == pytest.approx(quantities["NetVolume"])
    assert stored["unit.BaseQuantities.NetVolume"] == "m3"
    assert stored["unit.BaseQuantities.Length"] == "m"


async def test_ifc2x3_controls_are_classified_by_their_type(store: GraphStore) -> None:
    await load_ifc(store, IFC_DIR / "Duplex_Electrical_20121207.ifc", model="duplex")
    rows = await store.run(
        "MATCH (e:Equipment {model: 'duplex'}) RETURN e.brickClass AS brick, count(*) AS c ORDER BY brick"
    )
    assert rows == [{"brick": "Fire_Alarm_Control_Panel", "c": 1}, {"brick": "Thermostat", "c": 2}]
    rows = await store.run(
        "MATCH (s:Storey {model: 'duplex'})-[:CONTAINS_ELEMENT]->(e:Equipment:Thermostat) RETURN s.name AS storey"
    )
    assert [r["storey"] for r in rows] == ["Level 1", "Level 1"]


async def test_the_4d_schedule_gets_the_dates_a_scheduler_derives(store: GraphStore) -> None:
    path = IFC_DIR / "construction-scheduling-task.ifc"
    ifc = ifcopenshell.open(str(path))
    await load_ifc(store, path, model="4d")
    assert await count(store, "MATCH (a:Activity {model: '4d'}) RETURN count(a) AS c") == len(ifc.by_type("IfcTask"))
    assert await count(store, "MATCH (:Activity {model: '4d'})-[r:PRECEDES]->() RETURN count(r) AS c") == 7
    assert await count(store, "MATCH (:Activity {model: '4d'})-[r:CONSTRUCTS]->() RETURN count(r) AS c") == 6
    assert await count(store, "MATCH (:Activity {model: '4d'})-[r:HAS_SUB_ACTIVITY]->() RETURN count(r) AS c") == 7
    rows = await store.run(
        "MATCH (a:Activity {model: '4d'}) RETURN a.globalId AS id, a.scheduleStart AS start, a.scheduleFinish AS finish"
    )
    derived = {r["id"]: (r["start"], r["finish"]) for r in rows}

    def ms(text: str) -> int:
        return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)

    # The file also records the early dates its authoring tool computed; the derivation must agree.
    for task in ifc.by_type("IfcTask"):
        assert derived[task.GlobalId] == (ms(task.TaskTime.EarlyStart), ms(task.TaskTime.EarlyFinish)), task.Name
    rows = await store.run(
        "MATCH (a:Activity {model: '4d', name: 'Slab #1'})-[:PRECEDES]->(b:Activity) "
        "RETURN b.name AS name ORDER BY name"
    )
    assert [r["name"] for r in rows] == ["Wall #1", "Wall #2", "Wall #3", "Wall #4"]


def test_bad_files_give_one_line_errors_and_change_nothing(
    tmp_path: Path, data_dir: Path, falkordb_store: GraphStore
) -> None:
    source = (IFC_DIR / "AC20-FZK-Haus.ifc").read_bytes()
    not_ifc = tmp_path / "notes.ifc"
    not_ifc.write_text("these are meeting notes, not a model\n")
    truncated = tmp_path / "truncated.ifc"
    truncated.write_bytes(source[: len(source) // 2])
    future = tmp_path / "future.ifc"
    future.write_bytes(source.replace(b"FILE_SCHEMA(('IFC4'))", b"FILE_SCHEMA(('IFC9'))"))
    before = run_cli("cypher", "-f", "json", "MATCH (n) RETURN count(n) AS c", data_dir=data_dir).stdout
    cases = {
        not_ifc: "not an IFC file",
        truncated: "truncated",
        future: "schema IFC9 is not supported",
        tmp_path / "missing.ifc": "no such file",
    }
    for path, says in cases.items():
        result = run_cli("load", "ifc", str(path), "--model", "bad", data_dir=data_dir)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().count("\n") == 0 and says in result.stderr and "Traceback" not in result.stderr
    assert run_cli("cypher", "-f", "json", "MATCH (n) RETURN count(n) AS c", data_dir=data_dir).stdout == before


def test_the_library_call_raises_the_same_errors(tmp_path: Path) -> None:
    from kgtwin.sources.ifc import read_ifc

    with pytest.raises(IfcLoadError, match="no such file"):
        read_ifc(tmp_path / "nope.ifc")


async def test_reloading_a_changed_model_updates_in_place_and_keeps_field_state(
    store: GraphStore, tmp_path: Path
) -> None:
    first = tmp_path / "v1.ifc"
    write_sample(first, SampleSpec(storeys=2, spaces_per_storey=3, seed=7))
    await load_ifc(store, first, model="site")
    ifc = ifcopenshell.open(str(first))
    kept, removed_wall, renamed = ifc.by_type("IfcColumn")[0], ifc.by_type("IfcWall")[0], ifc.by_type("IfcSlab")[0]
    sensor = ifc.by_type("IfcSensor")[0]
    # What the field wrote: a status, and observations on a sensor's point.
    await store.run(
        "MATCH (e:Element {uid: $uid}) SET e.status = 'in_progress'", {"uid": f"site:{kept.GlobalId}"}, write=True
    )
    await store.run(
        "MATCH (p:Point {uid: $uid}) CREATE (p)-[:HAS_OBSERVATIONS]->(:ObservationBucket {uid: 'b1', count: 3})",
        {"uid": f"site:{sensor.GlobalId}"},
        write=True,
    )
    # The designer's next version: one wall (and what sits in it) gone, the slab renamed, a column added.
    for rel in removed_wall.HasOpenings:
        for fill in rel.RelatedOpeningElement.HasFillings:
            ifc.remove(fill.RelatedBuildingElement)
        ifc.remove(rel.RelatedOpeningElement)
    ifc.remove(removed_wall)
    renamed.Name = "Slab L0 (revised)"
    ifc.remove(sensor)  # a sensor taken out of the model: its observations must survive
    new_column = ifc.create_entity("IfcColumn", GlobalId=ifcopenshell.guid.new(), Name="Added column")
    ifc.create_entity(
        "IfcRelContainedInSpatialStructure",
        GlobalId=ifcopenshell.guid.new(),
        RelatingStructure=ifc.by_type("IfcBuildingStorey")[0],
        RelatedElements=[new_column],
    )
    second = tmp_path / "v2.ifc"
    ifc.write(str(second))

    result = await load_ifc(store, second, model="site")
    diff = result.written.diff["Element"]
    assert diff.added == 1
    assert diff.removed == 4  # the wall, its opening, the window in it, the sensor
    assert diff.changed >= 1
    rows = await store.run("MATCH (e:Element {uid: $uid}) RETURN e.status AS status", {"uid": f"site:{kept.GlobalId}"})
    assert rows == [{"status": "in_progress"}]
    rows = await store.run("MATCH (e:Element {uid: $uid}) RETURN e.name AS name", {"uid": f"site:{renamed.GlobalId}"})
    assert rows == [{"name": "Slab L0 (revised)"}]
    assert (
        await count(store, "MATCH (e:Element {uid: $uid}) RETURN count(e) AS c", uid=f"site:{removed_wall.GlobalId}")
        == 0
    )
    rows = await store.run(
        "MATCH (p:Point {uid: $uid})-[:HAS_OBSERVATIONS]->(b) RETURN p.source AS source, b.count AS n",
        {"uid": f"site:{sensor.GlobalId}"},
    )
    assert rows == [{"source": "ifc-removed", "n": 3}]
    # its links to the model are gone: a removed sensor is no longer in any room
    assert (
        await count(
            store, "MATCH ()-[r:HAS_POINT]->(:Point {uid: $uid}) RETURN count(r) AS c", uid=f"site:{sensor.GlobalId}"
        )
        == 0
    )
    again = await load_ifc(store, second, model="site")
    assert again.written.total("added") == again.written.total("changed") == again.written.total("removed") == 0


async def test_several_models_live_side_by_side(store: GraphStore) -> None:
    path = IFC_DIR / "construction-scheduling-task.ifc"
    await load_ifc(store, path, model="a")
    await load_ifc(store, path, model="b")
    rows = await store.run("MATCH (e:Element) RETURN e.model AS model, count(*) AS c ORDER BY model")
    assert rows == [{"model": "a", "c": 5}, {"model": "b", "c": 5}]
    rows = await store.run("MATCH (m:Model) RETURN m.uid AS model, m.schema AS schema ORDER BY model")
    assert rows == [{"model": "a", "schema": "IFC4X3"}, {"model": "b", "schema": "IFC4X3"}]


async def test_the_sample_building_loads_with_what_the_generator_wrote(store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "sample.ifc"
    stats = write_sample(path, SampleSpec(storeys=2, spaces_per_storey=4))
    await load_ifc(store, path, model="sample")
    assert await count(store, "MATCH (e:Element {model: 'sample'}) RETURN count(e) AS c") == stats.elements
    assert await count(store, "MATCH (p:Point {model: 'sample'}) RETURN count(p) AS c") == stats.sensors
    assert await count(store, "MATCH (a:Activity {model: 'sample'}) RETURN count(a) AS c") == stats.tasks
    rows = await store.run(
        "MATCH (s:Space {model: 'sample'})-[:HAS_POINT]->(p:Point) "
        "RETURN p.brickClass AS cls, count(*) AS c ORDER BY cls"
    )
    assert rows == [
        {"cls": c, "c": 8} for c in ("CO2_Sensor", "Humidity_Sensor", "Motion_Sensor", "Temperature_Sensor")
    ]
    rows = await store.run(
        "MATCH (:Element:IfcSlab {model: 'sample'})-[:HAS_POINT]->(p:Temperature_Sensor) RETURN count(p) AS c"
    )
    assert rows == [{"c": 4}]


async def test_zones_materials_and_classifications_come_along(store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "zoned.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=3))
    await load_ifc(store, path, model="z")
    rows = await store.run(
        "MATCH (z:Zone {model: 'z'})-[:CONTAINS_ZONE]->(s:Space) RETURN z.name AS zone, count(s) AS rooms ORDER BY zone"
    )
    assert rows == [{"zone": "Fire compartment L0", "rooms": 3}, {"zone": "Fire compartment L1", "rooms": 3}]
    rows = await store.run(
        "MATCH (w:Element:IfcWall {model: 'z'}) RETURN w.materials AS materials, w.classification AS classes LIMIT 1"
    )
    assert rows == [{"materials": ["Concrete C30/37"], "classes": ["Uniclass: EF_25_10 Walls"]}]


async def test_every_located_node_carries_its_building_storey_and_space(store: GraphStore) -> None:
    """Scoped keys, subscriptions and roll-ups read where a node is from its own properties."""
    path = IFC_DIR / "LargeBuilding.ifc"
    ifc = ifcopenshell.open(str(path))
    await load_ifc(store, path, model="m")
    storey_of = {}
    for rel in ifc.by_type("IfcRelContainedInSpatialStructure"):
        container = rel.RelatingStructure
        storey = (
            container if container.is_a("IfcBuildingStorey") else ifcopenshell.util.element.get_aggregate(container)
        )
        for element in rel.RelatedElements:
            storey_of[element.GlobalId] = (storey.GlobalId, container.GlobalId if container.is_a("IfcSpace") else None)
    for rel in ifc.by_type("IfcRelFillsElement"):  # a window is where the wall of its opening is
        wall = rel.RelatingOpeningElement.VoidsElements[0].RelatingBuildingElement
        storey_of[rel.RelatedBuildingElement.GlobalId] = storey_of[wall.GlobalId]
    rows = await store.run(
        "MATCH (e:Element {model: 'm'}) RETURN e.globalId AS id, e.building AS building, e.storey AS storey, "
        "e.space AS space"
    )
    building = f"m:{ifc.by_type('IfcBuilding')[0].GlobalId}"
    assert all(r["building"] == building for r in rows)
    located = {r["id"]: (r["storey"], r["space"]) for r in rows}
    for element, (storey, space) in storey_of.items():
        assert located[element] == (f"m:{storey}", f"m:{space}" if space else None), element
    assert sum(1 for _, space in located.values() if space) == 14  # the furniture, contained in rooms


async def test_a_reload_that_drops_several_properties_of_an_element_keeps_all_the_others(
    store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "m.ifc"
    write_sample(path, SampleSpec(storeys=1, spaces_per_storey=1))
    await load_ifc(store, path, model="m")
    ifc = ifcopenshell.open(str(path))
    wall = ifc.by_type("IfcWall")[0]
    uid = f"m:{wall.GlobalId}"
    log = EventLog(store)  # what the field wrote must survive the reload
    await set_status(store, log, [uid], "in_progress", "field:x")
    await set_properties(store, log, "Element", uid, {"crackWidth": 0.2, "note": "hairline"}, "field:x", confidence=0.9)
    field_keys = {"status", "statusTime", "statusSource", "crackWidth", "note"}
    field_keys |= {f"{k}.{a}" for k in ("crackWidth", "note") for a in ("time", "source", "confidence")}
    before = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": uid}))[0]["p"]
    pset = next(
        r.RelatingPropertyDefinition for r in wall.IsDefinedBy if r.RelatingPropertyDefinition.Name == "Pset_WallCommon"
    )
    pset.HasProperties = [p for p in pset.HasProperties if p.Name == "FireRating"]  # IsExternal and LoadBearing go
    ifc.write(str(path))
    await load_ifc(store, path, model="m")
    props = (await store.run("MATCH (e:Element {uid: $u}) RETURN properties(e) AS p", {"u": f"m:{wall.GlobalId}"}))[0][
        "p"
    ]
    expected = ifcopenshell.util.element.get_psets(wall)
    stored = {k.split(".", 2)[1] + "." + k.split(".", 2)[2]: v for k, v in props.items() if k.startswith("pset.")}
    assert stored == {f"{s}.{p}": v for s, values in expected.items() for p, v in values.items() if p != "id"}
    assert props["name"] == wall.Name and props["globalId"] == wall.GlobalId
    assert {k: props.get(k) for k in field_keys} == {k: before[k] for k in field_keys}
