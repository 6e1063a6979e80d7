"""Brick models into the graph on both engines: real buildings stated either way round, older class
names mapped or reported, points bound to loaded spaces, and export -> import -> export stable."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
import rdflib
from rdflib import RDF
from rdflib.compare import isomorphic

from kgtwin.config import Settings
from kgtwin.export.rdf import FORMATS, export_rdf
from kgtwin.model.brick import brick
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.rdf import RdfImportError, import_rdf
from kgtwin.store import GraphStore
from tests.conftest import SHARED_DATA
from tests.export.conftest import canonical

RDF_DIR = SHARED_DATA / "rdf"
BRICK_NS = "https://brickschema.org/schema/Brick#"


def brick_counts(path: Path) -> dict[str, int]:
    """Typed subjects and Brick points, equipment and locations, counted as SOURCES.md counts them
    (asserted types in the closure of Point/Equipment/Location; rec: replaces Brick's locations)."""
    graph = rdflib.Graph().parse(path)
    tree, counts = brick(), {"typed": 0, "Point": 0, "Equipment": 0, "Location": 0}
    for subject in set(graph.subjects(RDF.type, None)):
        counts["typed"] += 1
        roots = {
            tree.root_of(str(cls)[len(BRICK_NS) :])
            for cls in graph.objects(subject, RDF.type)
            if str(cls).startswith(BRICK_NS) and tree.is_class(str(cls)[len(BRICK_NS) :])
        }
        for root in roots - {None}:
            counts[root] += 1  # type: ignore[index]
    return counts


async def export_nt(store: GraphStore, model: str, settings: Settings) -> bytes:
    buffer = io.BytesIO()
    await export_rdf(store, model, FORMATS["nt"], buffer, settings)
    return buffer.getvalue()


async def round_trip(store: GraphStore, model: str, settings: Settings, tmp_path: Path) -> None:
    """Export, wipe, import the export, export again: the same triples."""
    first = await export_nt(store, model, settings)
    await store.run("MATCH (n) DETACH DELETE n", write=True)
    path = tmp_path / f"{model}.nt"
    path.write_bytes(first)
    again = await import_rdf(store, path, model, settings)
    assert again.unmapped == {} and again.repaired == {}  # kgtwin's own export maps completely
    second = await export_nt(store, model, settings)
    one, two = (rdflib.Graph().parse(data=data, format="nt") for data in (first, second))
    assert canonical(one) == canonical(two)
    assert isomorphic(one, two)


async def test_soda_hall_imports_forward_links_with_every_resource_mapped_or_reported(  # type: ignore[no-untyped-def]
    store, settings, tmp_path: Path
) -> None:
    path = RDF_DIR / "soda_brick.ttl"
    expected = brick_counts(path)
    assert expected == {"typed": 1695, "Point": 921, "Equipment": 258, "Location": 494}  # SOURCES.md
    report = await import_rdf(store, path, "soda", settings)
    assert report.triples == 3774

    # 921 Brick points, plus 13 Smoke_Detected_Alarm (alias) and 7 Fan_Speed_Reset_Command (broader)
    assert report.classes[("Smoke_Detected_Alarm", "Smoke_Detection_Alarm", "alias")] == 13
    assert report.classes[("Fan_Speed_Reset_Command", "Speed_Reset_Command", "broader")] == 7
    assert report.classes[("Zone_Air_Temperature_Setpoint", "Target_Zone_Air_Temperature_Setpoint", "replaced")] == 231
    assert report.nodes["Point"] == expected["Point"] + 13 + 7
    assert report.nodes["Equipment"] == expected["Equipment"]
    locations = sum(report.nodes[label] for label in ("Site", "Building", "Storey", "Space", "Zone"))
    assert locations == expected["Location"]
    assert (report.nodes["Building"], report.nodes["Storey"], report.nodes["Space"], report.nodes["Zone"]) == (
        1,
        7,
        243,
        243,
    )
    # every typed resource is in the graph or in the report
    unknown = report.unmapped["class not in Brick 1.4"]
    assert sum(report.nodes.values()) + unknown.count == expected["typed"]
    assert unknown.count == 2 and any("Outside_Air_Temperature" in e for e in unknown.examples)
    assert report.unmapped["statements with brick:hasTag not imported"].count == 150

    # links, in the file's forward direction: 926 hasPoint (one to the unknown outside air
    # temperature is reported) plus 15 points "located" on floors, read as points of the floor
    assert report.links["HAS_POINT"] == 926 - 1 + 15
    assert report.repaired["point location read as isPointOf"].count == 15
    assert report.links["FEEDS"] == 484
    assert report.links["HAS_SPACE"] == 241 and report.links["HAS_STOREY"] == 7  # Brick hasPart as BOT
    assert report.links["CONTAINS_ZONE"] == 243  # HVAC zones have rooms as parts
    assert report.unmapped["link to a resource that is untyped"].count == 7  # floor_o, floor_8, the bare 'ahu'
    rows = await store.run("MATCH (:Equipment:AHU {model: 'soda'})-[:FEEDS]->(v:Equipment:VAV) RETURN count(v) AS c")
    assert rows[0]["c"] == 241
    rows = await store.run("MATCH (z:Zone {model: 'soda'}) RETURN DISTINCT z.recClass AS rec")
    assert rows == [{"rec": "HVACZone"}]
    # rooms and their storey's points know where they are
    rows = await store.run("MATCH (s:Space {model: 'soda'}) WHERE s.storey IS NULL RETURN count(s) AS c")
    assert rows[0]["c"] == 2  # the two rooms on the untyped floor_o / floor_8
    await round_trip(store, "soda", settings, tmp_path)


async def test_medium_office_imports_inverse_links_units_and_a_renamed_class(store, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = RDF_DIR / "mediumOffice_brick.ttl"
    expected = brick_counts(path)
    assert expected == {"typed": 364, "Point": 285, "Equipment": 42, "Location": 16}  # SOURCES.md
    report = await import_rdf(store, path, "office", settings)
    assert report.unmapped == {}
    assert report.classes[("Electrical_Power_Sensor", "Electric_Power_Sensor", "alias")] == 21
    assert report.nodes["Point"] == expected["Point"] + 21
    assert report.nodes["Equipment"] == expected["Equipment"]
    assert report.nodes["Zone"] + report.nodes["Building"] == expected["Location"]
    # isPointOf, isFedBy, isPartOf read the other way round
    assert report.links == {"HAS_POINT": 306, "FEEDS": 30, "HAS_PART": 24, "HAS_LOCATION": 18}
    rows = await store.run("MATCH (:Equipment {model: 'office'})-[r:HAS_POINT]->(:Point) RETURN count(r) AS c")
    assert rows[0]["c"] == 306 - 105  # the rest are points of HVAC zones
    rows = await store.run("MATCH (p:Point {model: 'office'}) RETURN p.unit AS unit, count(*) AS c ORDER BY unit")
    stored_as = {"DEG_C": "degC", "PERCENT": "percent", "PERCENT_RH": "percent", "W": "W", "KiloGM-PER-SEC": "kg/s"}
    in_file = Counter(
        stored_as[str(unit).rsplit("/", 1)[-1]]
        for unit in rdflib.Graph().parse(path).objects(None, rdflib.URIRef(BRICK_NS + "hasUnit"))
    )
    assert {r["unit"]: r["c"] for r in rows} == in_file
    rows = await store.run("MATCH (a:AHU {model: 'office'})-[:HAS_POINT]->(p:Point) RETURN count(p) AS c")
    assert rows[0]["c"] == 48
    rows = await store.run(
        "MATCH (p:Point {model: 'office'})<-[:HAS_POINT]-(:AHU) WHERE p.building IS NULL RETURN count(p) AS c"
    )
    assert rows[0]["c"] == 0  # an AHU is located in the building, so are its points
    await round_trip(store, "office", settings, tmp_path)


async def test_a_brick_model_binds_its_points_to_the_spaces_and_elements_already_loaded(  # type: ignore[no-untyped-def]
    store, settings, tmp_path: Path
) -> None:
    ifc = tmp_path / "tower.ifc"
    write_sample(ifc, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, ifc, "tower")
    spaces = await store.run("MATCH (s:Space {model: 'tower'}) RETURN s.globalId AS g, s.uid AS uid ORDER BY g")
    slab = (await store.run("MATCH (e:IfcSlab {model: 'tower'}) RETURN e.globalId AS g"))[0]["g"]
    base = f"{settings.rdf_base}tower/"
    model = f"""
        @prefix brick: <https://brickschema.org/schema/Brick#> .
        @prefix ref: <https://brickschema.org/schema/Brick/ref#> .
        @prefix unit: <http://qudt.org/vocab/unit/> .
        @prefix ex: <http://example.org/tower#> .
        # a kgtwin IRI names the first room; Brick's IFC reference names the second room and the slab
        ex:vav1 a brick:VAV ; brick:feeds <{base}{quote(spaces[0]["g"], safe="")}> ;
            brick:hasPoint ex:vav1_flow .
        ex:vav1_flow a brick:Air_Flow_Sensor ; brick:hasUnit unit:L-PER-SEC .
        ex:room2 a brick:Room ; ref:hasExternalReference [ ref:ifcGlobalID "{spaces[1]["g"]}" ] .
        ex:room2_temp a brick:Zone_Air_Temperature_Sensor ; brick:isPointOf ex:room2 ; brick:hasUnit unit:DEG_C .
        ex:slab_strain a brick:Sensor ; brick:isPointOf ex:slab .
        ex:slab ref:hasExternalReference [ ref:ifcGlobalID "{slab}" ] .
        ex:ghost_temp a brick:Temperature_Sensor ; brick:isPointOf <{base}NoSuchGlobalId000000> .
    """
    path = tmp_path / "tower-brick.ttl"
    path.write_text(model)
    report = await import_rdf(store, path, "tower", settings)
    assert report.bound == {"Space": 2, "Element": 1}  # the Room is the loaded space, not a new one
    assert report.nodes == {"Equipment": 1, "Point": 4}
    assert report.unmapped["names a node the graph does not hold"].examples == ["tower:NoSuchGlobalId000000"]
    rows = await store.run(
        "MATCH (s:Space {uid: $uid})-[:HAS_POINT]->(p:Point) RETURN p.uid AS p, p.space AS space, p.storey AS storey",
        {"uid": spaces[1]["uid"]},
    )
    ifc_points = [r for r in rows if r["p"] != "tower:room2_temp"]
    bound = next(r for r in rows if r["p"] == "tower:room2_temp")
    assert bound["space"] == spaces[1]["uid"] and bound["storey"]  # located where its room is
    assert len(ifc_points) == 4  # the room's own IFC sensors are untouched
    rows = await store.run("MATCH (:Equipment:VAV)-[:FEEDS]->(s:Space) RETURN s.uid AS uid")
    assert rows == [{"uid": spaces[0]["uid"]}]
    rows = await store.run(
        "MATCH (e:IfcSlab {model: 'tower'})-[:HAS_POINT]->(p {uid: 'tower:slab_strain'}) RETURN count(p) AS c"
    )
    assert rows[0]["c"] == 1
    rows = await store.run("MATCH (p {uid: 'tower:vav1_flow'}) RETURN p.unit AS unit")
    assert rows == [{"unit": "L/s"}]


async def test_an_exported_ifc_model_round_trips(store, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the 4D example: activities, their sequence (type and lag on each link) and what they build
    await load_ifc(store, SHARED_DATA / "ifc" / "construction-scheduling-task.ifc", "sched")
    await round_trip(store, "sched", settings, tmp_path)
    rows = await store.run("MATCH (:Activity)-[p:PRECEDES]->(:Activity) RETURN p.type AS type, count(*) AS c")
    assert rows == [{"type": "FINISH_START", "c": 7}]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.ttl", "no such file"),
        ("this is not turtle {", "broken.ttl", "not valid turtle"),
        ("<a> <b> <c> .", "model.csv", "unknown RDF format"),
    ],
)
async def test_a_file_that_is_not_rdf_is_one_clear_error_and_writes_nothing(  # type: ignore[no-untyped-def]
    store, settings, tmp_path: Path, content: str | None, name: str, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(RdfImportError, match=message):
        await import_rdf(store, path, "broken", settings)
    rows = await store.run("MATCH (n) RETURN count(n) AS c")
    assert rows[0]["c"] == 0
