"""Space and storey footprints from the IFC load, as the dashboard's plan reads them through the API."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np
import pytest

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import ROOM_DEPTH, ROOM_WIDTH, STOREY_HEIGHT, SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.api.conftest import Api
from tests.conftest import SHARED_DATA

PLAN = """query($m: ID!) { model(id: $m) { storeys { nodes { name elevation footprint
    spaces(first: 100) { nodes { name footprint } } } } } }"""


async def test_sample_rooms_lie_on_their_grid_and_storeys_enclose_them(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "plan.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=6))
    await load_ifc(store, path, model="plan")
    storeys = (await api.data(PLAN, {"m": "plan"}))["model"]["storeys"]["nodes"]
    assert len(storeys) == 2
    for storey in storeys:
        level = int(storey["name"].split()[-1])
        rooms = sorted(storey["spaces"]["nodes"], key=lambda s: s["name"])
        # the generator lays 6 rooms out 2 by 3 (round(sqrt(6)) per row) on a 5 m x 4 m grid
        assert [r["footprint"] for r in rooms] == [
            [c * ROOM_WIDTH, r * ROOM_DEPTH, (c + 1) * ROOM_WIDTH, (r + 1) * ROOM_DEPTH]
            for r in range(3)
            for c in range(2)
        ]
        assert storey["footprint"] == [0, 0, 2 * ROOM_WIDTH, 3 * ROOM_DEPTH]
        assert storey["elevation"] == pytest.approx(level * STOREY_HEIGHT)
    rows = await store.run("MATCH (s:Space {model: 'plan', name: '101'}) RETURN s.elevation AS z")
    assert rows[0]["z"] == pytest.approx(STOREY_HEIGHT)


async def test_a_real_model_gets_the_footprints_its_own_bounding_boxes_state(api: Api, store: GraphStore) -> None:
    """FZK-Haus (ArchiCAD) gives each space a Brep body and, separately, an IfcBoundingBox."""
    path = SHARED_DATA / "ifc" / "AC20-FZK-Haus.ifc"
    ifc = ifcopenshell.open(str(path))
    scale = ifcopenshell.util.unit.calculate_unit_scale(ifc, "LENGTHUNIT")
    expected = {}
    for space in ifc.by_type("IfcSpace"):
        (box,) = [
            item
            for rep in space.Representation.Representations
            if rep.RepresentationType == "BoundingBox"
            for item in rep.Items
        ]
        matrix = ifcopenshell.util.placement.get_local_placement(space.ObjectPlacement)
        corner = np.array(box.Corner.Coordinates)
        corners = np.array([corner, corner + np.array([box.XDim, box.YDim, box.ZDim])])
        world = (corners @ matrix[:3, :3].T + matrix[:3, 3]) * scale
        low, high = world.min(axis=0), world.max(axis=0)
        expected[space.Name] = [low[0], low[1], high[0], high[1]]
    await load_ifc(store, path, model="fzk")
    storeys = (await api.data(PLAN, {"m": "fzk"}))["model"]["storeys"]["nodes"]
    found = {s["name"]: s["footprint"] for storey in storeys for s in storey["spaces"]["nodes"]}
    assert set(found) == set(expected) and len(found) == 7
    for name, footprint in found.items():
        assert footprint == pytest.approx(expected[name], abs=0.01), name
