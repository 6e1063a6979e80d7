"""DTDL v3 export on both engines: interfaces for element types and Brick classes that keep DTDL's
rules (ids, names, schemas, extends limits), and a checker that catches each broken rule."""

from __future__ import annotations

import copy
from pathlib import Path

from kgtwin.export.dtdl import (
    EXTENDS_DEPTH_MAX,
    INTERFACE_ID_MAX,
    DtdlModel,
    check_dtdl,
    dtdl_interfaces,
)
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.rdf import import_rdf
from tests.conftest import SHARED_DATA


async def test_interfaces_per_ifc_class_and_brick_class_keep_dtdl_v3_rules(store, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ifc = tmp_path / "tower.ifc"
    write_sample(ifc, SampleSpec(storeys=1, spaces_per_storey=2))
    await load_ifc(store, ifc, "tower")
    await import_rdf(store, SHARED_DATA / "rdf" / "mediumOffice_brick.ttl", "office", settings)
    for model in ("tower", "office"):
        docs = await dtdl_interfaces(store, model, settings, version=3)
        assert check_dtdl(docs) == []
        by_id = {doc["@id"]: doc for doc in docs}
        assert all(dtmi.endswith(";3") and len(dtmi) <= INTERFACE_ID_MAX for dtmi in by_id)
        classes = {
            r["c"] for r in await store.run("MATCH (n {model: $m}) RETURN DISTINCT n.brickClass AS c", {"m": model})
        }
        for brick_class in classes - {None}:
            assert f"dtmi:dev:kgtwin:{model}:brick:{brick_class};3" in by_id, brick_class
    tower = {doc["@id"]: doc for doc in await dtdl_interfaces(store, "tower", settings)}
    prefix = "dtmi:dev:kgtwin:tower"
    ifc_classes = {
        r["c"] for r in await store.run("MATCH (e:Element {model: 'tower'}) RETURN DISTINCT e.ifcClass AS c")
    }
    assert {f"{prefix}:ifc:{c};1" for c in ifc_classes} <= set(tower)
    # Brick's multiple inheritance is kept: a thermostat is HVAC equipment and sensor equipment
    assert tower[f"{prefix}:brick:Thermostat;1"]["extends"] == [
        f"{prefix}:brick:HVAC_Equipment;1",
        f"{prefix}:brick:Sensor_Equipment;1",
    ]
    # an IFC sensor that is a Brick point is one twin: its interface extends both
    sensor = tower[f"{prefix}:ifc:IfcSensor:Temperature_Sensor;1"]
    assert sensor["extends"] == [f"{prefix}:brick:Temperature_Sensor;1", f"{prefix}:ifc:IfcSensor;1"]
    point = {c["name"]: c for c in tower[f"{prefix}:brick:Point;1"]["contents"]}
    assert point["value"]["@type"] == "Telemetry" and point["unit"]["schema"] == "string"
    wall = {c["name"]: c for c in tower[f"{prefix}:ifc:IfcWall;1"]["contents"]}
    assert wall["Pset_WallCommon"]["schema"]["@type"] == "Object"  # a property set is one object
    space = {c["name"]: c for c in tower[f"{prefix}:bot:Storey;1"]["contents"]}
    assert space["hasSpace"] == {"@type": "Relationship", "name": "hasSpace", "target": f"{prefix}:bot:Space;1"}


def deep_chain(levels: int) -> DtdlModel:
    """A model whose Brick-like chain of classes is deeper than DTDL allows."""
    dtdl = DtdlModel("deep")
    parent = dtdl.point
    for level in range(levels):
        parent = dtdl._interface(f"brick:Level_{level}", f"Level {level}", [parent.id], "")
    return dtdl


def test_a_hierarchy_deeper_than_dtdl_allows_is_shortened() -> None:
    docs = deep_chain(EXTENDS_DEPTH_MAX + 3).documents()
    assert check_dtdl(docs) == []
    unfitted = deep_chain(EXTENDS_DEPTH_MAX + 3)
    raw = [i.document() for i in unfitted.interfaces.values()]
    assert any("levels deep" in problem for problem in check_dtdl(raw))


def test_the_checker_catches_each_broken_rule() -> None:
    good = [
        {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:dev:kgtwin:m:Twin;1", "@type": "Interface"},
        {
            "@context": "dtmi:dtdl:context;3",
            "@id": "dtmi:dev:kgtwin:m:Room;1",
            "@type": "Interface",
            "extends": ["dtmi:dev:kgtwin:m:Twin;1"],
            "contents": [{"@type": "Property", "name": "area", "schema": "double"}],
        },
    ]
    assert check_dtdl(good) == []

    def broken(change) -> list[str]:  # type: ignore[no-untyped-def]
        docs = copy.deepcopy(good)
        change(docs)
        return check_dtdl(docs)

    assert broken(lambda d: d[1].update({"@id": "dtmi:dev:kgtwin:m:Room"}))  # no version
    assert broken(lambda d: d[1].update({"@id": "dtmi:dev:" + "x" * 130 + ";1"}))  # longer than 128
    assert broken(lambda d: d[1].update({"@id": "dtmi:dev:_system:Room;1"}))  # a system segment
    assert broken(lambda d: d[1]["contents"][0].update({"name": "floor area"}))  # not a DTDL name
    assert broken(lambda d: d[1]["contents"][0].update({"schema": "decimal"}))  # not a schema
    assert broken(lambda d: d[1].update({"extends": ["dtmi:dev:kgtwin:m:Missing;1"]}))  # undefined parent
    assert broken(lambda d: d[0].update({"contents": [{"@type": "Property", "name": "area", "schema": "long"}]}))
    assert broken(lambda d: d[1].update({"displayName": "x" * 65}))
