"""RDF export on both engines: public IFC models and a live sample building come out as BOT and
Brick that parse in every format, hold what the graph holds and pass Brick's and BOT's shapes."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
import rdflib
from rdflib import RDF, XSD, Literal, URIRef

from kgtwin.config import Settings
from kgtwin.errors import ConfigError
from kgtwin.export import rdf as rdf_export
from kgtwin.export.rdf import FORMATS, NotAcceptable, UnknownModel, export_rdf, model_graph, negotiate, stream
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.ingest.observations import Registry
from kgtwin.ingest.payloads import readings_from_json
from kgtwin.ingest.pipeline import Pipeline
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore
from tests.conftest import SHARED_DATA
from tests.export.conftest import canonical

BOT = rdflib.Namespace("https://w3id.org/bot#")
BRICK = rdflib.Namespace("https://brickschema.org/schema/Brick#")
REC = rdflib.Namespace("https://w3id.org/rec#")
REF = rdflib.Namespace("https://brickschema.org/schema/Brick/ref#")
UNIT = rdflib.Namespace("http://qudt.org/vocab/unit/")
SOSA = rdflib.Namespace("http://www.w3.org/ns/sosa/")
KGTWIN = rdflib.Namespace("https://kgtwin.dev/ontology#")
PUBLIC_IFC = sorted((SHARED_DATA / "ifc").glob("*.ifc"))


async def count(store: GraphStore, statement: str, **params: object) -> int:
    return int((await store.run(statement, params))[0]["c"])


async def exported(store: GraphStore, model: str, fmt: str, settings: Settings) -> rdflib.Graph:
    buffer = io.BytesIO()
    summary = await export_rdf(store, model, FORMATS[fmt], buffer, settings)
    graph = rdflib.Graph().parse(data=buffer.getvalue(), format=FORMATS[fmt].rdflib_name)
    assert len(graph) == summary.triples
    return graph


def instances(graph: rdflib.Graph, cls: URIRef) -> set[rdflib.term.Node]:
    return set(graph.subjects(RDF.type, cls))


async def test_public_ifc_models_export_as_bot_and_brick_and_conform(store, settings, validate) -> None:  # type: ignore[no-untyped-def]
    union = rdflib.Graph()
    for path in PUBLIC_IFC:
        model = path.stem.lower()
        await load_ifc(store, path, model)
        graph = await exported(store, model, "nt", settings)
        union += graph
        scope = {"model": model}
        for label, cls in (
            ("Site", BOT.Site),
            ("Building", BOT.Building),
            ("Storey", BOT.Storey),
            ("Space", BOT.Space),
        ):
            nodes = await count(store, f"MATCH (n:{label} {{model: $model}}) RETURN count(n) AS c", **scope)
            assert len(instances(graph, cls)) == nodes, (model, label)
        elements = await count(store, "MATCH (n:Element {model: $model}) RETURN count(n) AS c", **scope)
        assert len(instances(graph, BOT.Element)) == elements
        assert len(instances(graph, REC.Room)) == len(instances(graph, BOT.Space))  # Brick 1.4: rec:, not brick:Room
        contained = await count(
            store,
            "MATCH (a {model: $model})-[:CONTAINS_ELEMENT|REFERENCES_ELEMENT]->(b) "
            "RETURN count(DISTINCT [a.uid, b.uid]) AS c",
            **scope,
        )
        assert len(set(graph.subject_objects(BOT.containsElement))) == contained
        for rel_type, predicate in (
            ("HAS_SUB_ELEMENT", BOT.hasSubElement),
            ("ADJACENT_ELEMENT", BOT.adjacentElement),
            ("HAS_STOREY", BOT.hasStorey),
            ("HAS_SPACE", BOT.hasSpace),
        ):
            links = await count(store, f"MATCH ({{model: $model}})-[r:{rel_type}]->() RETURN count(r) AS c", **scope)
            assert len(list(graph.subject_objects(predicate))) == links, (model, rel_type)
        # every element names its IFC class and, the Brick way, its GlobalId in its IFC project
        rows = await store.run("MATCH (e:Element {model: $model}) RETURN e.globalId AS g, e.ifcClass AS c", scope)
        for row in rows:
            element = URIRef(f"{settings.rdf_base}{model}/{quote(row['g'], safe='')}")
            assert (
                element,
                RDF.type,
                URIRef(f"https://standards.buildingsmart.org/IFC/DEV/IFC4/ADD2_TC1/OWL#{row['c']}"),
            ) in graph
            assert graph.value(URIRef(f"{element}#ifc"), REF.ifcGlobalID) == Literal(row["g"])
        projects = list(graph.subjects(RDF.type, REF.ifcProject))
        assert len(projects) == 1 and graph.value(projects[0], REF.ifcFileLocation) == Literal(path.name)
    # the Duplex's thermostats and fire alarm panel are Brick equipment as well as IFC elements
    assert len(instances(union, BRICK.Thermostat)) == 2
    assert len(instances(union, BRICK.Fire_Alarm_Control_Panel)) == 1
    for version in ("1.5", "1.4"):
        report = validate(union, version)
        assert report.violations == 0, [(f.shape, f.message, sorted(f.focus_nodes)[:3]) for f in report.by_shape]
        assert report.warnings == 0  # no deprecated Brick class either


async def test_a_live_building_exports_points_with_units_latest_values_and_time_series_links(  # type: ignore[no-untyped-def]
    store, settings, validate, tmp_path: Path
) -> None:
    ifc = tmp_path / "tower.ifc"
    write_sample(ifc, SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, ifc, "tower")
    space = (await store.run("MATCH (s:Space {model: 'tower'}) RETURN s.globalId AS g ORDER BY g LIMIT 1"))[0]["g"]
    sensor = (
        await store.run(
            "MATCH (p:Point:Temperature_Sensor {model: 'tower'})<-[:HAS_POINT]-(:Space) "
            "RETURN p.globalId AS g ORDER BY g LIMIT 1"
        )
    )[0]["g"]
    specs = [
        PointSpec(id="r1-co2", brick_class="CO2_Sensor", unit="ppm", model="tower", space=space, property="co2"),
        PointSpec(id="r1-temp", brick_class="Temperature_Sensor", unit="degC", model="tower", ifc=sensor),
    ]
    result = await load_registry(store, specs)
    assert not result.problems
    registry = await Registry.load(store)
    now = int(time.time() * 1000)
    readings = [
        {"sensor_id": "r1-co2", "value": 612.0, "timestamp": now},
        {"sensor_id": "r1-temp", "value": 21.5, "timestamp": now},
    ]
    async with Pipeline(store, registry, DeadLetterStore(tmp_path / "dl.sqlite")) as pipeline:
        outcome = await pipeline.submit("test", "t", orjson.dumps(readings), readings_from_json)
        await outcome.durable

    graph = await exported(store, "tower", "ttl", settings)
    points = await count(store, "MATCH (p:Point {model: 'tower'}) RETURN count(p) AS c")
    series = list(graph.subjects(RDF.type, REF.TimeseriesReference))
    assert len(series) == points  # every point says where its observations are
    co2 = URIRef(f"{settings.rdf_base}tower/uid/r1-co2")  # a registry point: not an IFC GlobalId
    assert (co2, RDF.type, BRICK.CO2_Sensor) in graph
    assert graph.value(co2, BRICK.hasUnit) == UNIT.PPM
    assert graph.value(co2, KGTWIN.lastValue) == Literal(612.0)
    assert graph.value(co2, KGTWIN.lastTime).datatype == XSD.dateTime  # type: ignore[union-attr]
    reference = graph.value(co2, REF.hasExternalReference)
    assert graph.value(reference, REF.hasTimeseriesId) == Literal("r1-co2")
    assert graph.value(reference, REF.storedAt) == Literal(
        "https://twin.example.org/timeseries/r1-co2", datatype=XSD.anyURI
    )
    room = URIRef(f"{settings.rdf_base}tower/{quote(space, safe='')}")
    assert (room, BRICK.hasPoint, co2) in graph
    # the binding of the point to the room's co2 property, with its unit
    binding = next(graph.subjects(KGTWIN.linkTo, co2))
    assert graph.value(binding, KGTWIN.linkFrom) == room
    assert graph.value(binding, KGTWIN.property) == Literal("co2")
    assert graph.value(binding, KGTWIN.unit) == Literal("ppm")
    # the IFC sensor named by the field: IFC element, Brick sensor, in degrees Celsius
    ifc_sensor = URIRef(f"{settings.rdf_base}tower/{quote(sensor, safe='')}")
    assert {BOT.Element, BRICK.Temperature_Sensor} <= set(graph.objects(ifc_sensor, RDF.type))
    assert graph.value(ifc_sensor, BRICK.hasUnit) == UNIT.DEG_C
    assert graph.value(ifc_sensor, KGTWIN.pointId) == Literal("r1-temp")
    # sensors cast in slabs: Brick lets only equipment and locations have points, so SOSA says it
    slab_sensors = await count(
        store, "MATCH (:Element:IfcSlab {model: 'tower'})-[:HAS_POINT]->(p) RETURN count(p) AS c"
    )
    assert slab_sensors > 0 and len(list(graph.subject_objects(SOSA.hosts))) == slab_sensors
    # schedule activities with their dates
    activities = await count(store, "MATCH (a:Activity {model: 'tower'}) RETURN count(a) AS c")
    assert len(instances(graph, KGTWIN.Activity)) == activities
    assert all(o.datatype == XSD.dateTime for o in graph.objects(None, KGTWIN.scheduleStart))  # type: ignore[attr-defined]

    report = validate(graph, "1.5")
    assert report.violations == 0, [(f.shape, f.message, sorted(f.focus_nodes)[:3]) for f in report.by_shape]
    # Brick 1.4.4's own shapes still want brick:Location for what a point is a point of
    old = validate(graph, "1.4")
    assert {f.shape for f in old.by_shape if f.severity == "Violation"} == {"bsh:isPointOfShape"}


async def test_n_triples_stream_page_by_page_and_match_the_whole_graph(
    store, settings, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ifc = tmp_path / "small.ifc"
    write_sample(ifc, SampleSpec(storeys=1, spaces_per_storey=3))
    await load_ifc(store, ifc, "small")
    whole = await model_graph(store, "small", settings)
    monkeypatch.setattr(rdf_export, "PAGE", 7)  # many pages, and sensors that are both Element and Point
    chunks = [chunk async for chunk in await stream(store, "small", FORMATS["nt"], settings)]
    assert len(chunks) > 10
    streamed = rdflib.Graph().parse(data=b"".join(chunks), format="nt")
    assert canonical(streamed) == canonical(whole)
    # Turtle and JSON-LD (whole documents) carry the same triples, doubles to the last digit
    for fmt in ("ttl", "jsonld"):
        document = b"".join([chunk async for chunk in await stream(store, "small", FORMATS[fmt], settings)])
        parsed = rdflib.Graph().parse(data=document, format=FORMATS[fmt].rdflib_name)
        assert canonical(parsed) == canonical(whole), fmt


async def test_instance_iris_are_stable_and_follow_the_configured_base(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ifc = tmp_path / "small.ifc"
    write_sample(ifc, SampleSpec(storeys=1, spaces_per_storey=1))
    await load_ifc(store, ifc, "small")
    first = await model_graph(store, "small", Settings(rdf_base="https://a.example/twins/"))
    await load_ifc(store, ifc, "small")  # reloaded in place
    again = await model_graph(store, "small", Settings(rdf_base="https://a.example/twins/"))
    assert canonical(first) == canonical(again)
    subjects = {str(s) for s in first.subjects(RDF.type, BOT.Element)}
    global_ids = {r["g"] for r in await store.run("MATCH (e:Element {model: 'small'}) RETURN e.globalId AS g")}
    assert subjects == {f"https://a.example/twins/small/{quote(g, safe='')}" for g in global_ids}


async def test_an_unknown_model_is_one_clear_error(store, settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownModel, match="no model 'nowhere'"):
        await export_rdf(store, "nowhere", FORMATS["nt"], io.BytesIO(), settings)
    with pytest.raises(UnknownModel):  # before the first chunk: an API can still answer 404
        await stream(store, "nowhere", FORMATS["nt"], settings)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "nt"),
        ("*/*", "nt"),
        ("text/turtle", "ttl"),
        ("application/ld+json", "jsonld"),
        ("application/json", "jsonld"),
        ("application/n-triples", "nt"),
        ("text/html,application/xhtml+xml;q=0.9,text/turtle;q=0.95,*/*;q=0.8", "ttl"),
        ("application/ld+json;q=0.5, text/turtle;q=0.9", "ttl"),
        ("text/turtle;q=0, application/ld+json", "jsonld"),
    ],
)
def test_content_negotiation_picks_the_format_the_client_prefers(accept: str | None, expected: str) -> None:
    chosen = negotiate(accept)
    assert chosen.name == expected
    assert chosen.media_type == FORMATS[expected].media_type


def test_content_negotiation_refuses_what_it_cannot_write() -> None:
    with pytest.raises(NotAcceptable, match="text/turtle"):
        negotiate("image/png, text/html")


def test_the_rdf_base_and_public_url_come_from_the_environment_checked() -> None:
    settings = Settings.from_env(
        {"KGTWIN_RDF_BASE": "https://data.example.org/twin", "KGTWIN_PUBLIC_URL": "https://x.org/"}
    )
    assert settings.rdf_base == "https://data.example.org/twin/" and settings.public_url == "https://x.org"
    for variable in ("KGTWIN_RDF_BASE", "KGTWIN_PUBLIC_URL"):
        with pytest.raises(ConfigError, match=variable):
            Settings.from_env({variable: "twin.example.org"})
