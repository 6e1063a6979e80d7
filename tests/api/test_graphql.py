"""The GraphQL API through a real uvicorn, on both engines: traversals, KPIs, mutations, subscriptions, limits."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import ifcopenshell

from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.api.conftest import Api
from tests.conftest import SHARED_DATA

LARGE = SHARED_DATA / "ifc" / "LargeBuilding.ifc"

DEEP = """
query Deep($model: ID!) {
  model(id: $model) {
    id name
    project { name sites { name buildings { uid name
      storeys(first: 10) { totalCount nodes { uid name elevation
        spaces(first: 100) { totalCount nodes { uid name
          elements(first: 50) { totalCount nodes { globalId ifcClass status
            type { name }
            propertySets { name properties { name value unit } }
            points { totalCount }
          } }
        } }
        elements(first: 1000) { totalCount nodes { globalId ifcClass type { name } } }
      } }
    } } }
  }
}
"""


async def test_a_deep_traversal_returns_what_the_graph_holds_in_a_bounded_number_of_round_trips(
    api: Api, store: GraphStore
) -> None:
    await load_ifc(store, LARGE, model="large")
    ifc = ifcopenshell.open(str(LARGE))
    body = await api.gql(DEEP, {"model": "large"})
    assert "errors" not in body, body.get("errors")
    model = body["data"]["model"]
    building = model["project"]["sites"][0]["buildings"][0]
    storeys = building["storeys"]["nodes"]
    assert [s["name"] for s in storeys] == [
        s.Name for s in sorted(ifc.by_type("IfcBuildingStorey"), key=lambda s: s.Elevation)
    ]
    # every element located on a storey, by IFC class, as ifcopenshell counts them (all are on a storey here)
    seen = Counter(e["ifcClass"] for s in storeys for e in s["elements"]["nodes"])
    assert seen == Counter(e.is_a() for e in ifc.by_type("IfcElement"))
    # the furniture contained in the rooms comes back under its room, with its type and property sets
    rooms = {r["name"]: r for s in storeys for r in s["spaces"]["nodes"]}
    assert len(rooms) == len(ifc.by_type("IfcSpace"))
    for rel in ifc.by_type("IfcRelContainedInSpatialStructure"):
        if rel.RelatingStructure.is_a("IfcSpace"):
            listed = {e["globalId"] for e in rooms[rel.RelatingStructure.Name]["elements"]["nodes"]}
            assert listed == {e.GlobalId for e in rel.RelatedElements}
    furniture = next(e for r in rooms.values() for e in r["elements"]["nodes"])
    assert furniture["type"]["name"] and furniture["status"] == "PLANNED"
    custom = next(p for p in furniture["propertySets"] if p["name"] == "Custom_Pset")
    assert custom["properties"]
    # the number of statements is bounded by the query's shape, not by the number of nodes
    assert body["extensions"]["roundTrips"] <= 12, body["extensions"]


async def test_a_mutation_is_seen_by_the_next_query_and_heard_by_subscribers_within_a_second(
    api: Api, store: GraphStore
) -> None:
    await load_ifc(store, LARGE, model="large")
    ifc = ifcopenshell.open(str(LARGE))
    wall, other = (w.GlobalId for w in ifc.by_type("IfcWall")[:2])
    storey = ifcopenshell.util.element.get_container(ifc.by_type("IfcWall")[0]).GlobalId
    mutation = "mutation($u: [ID!]!) { setStatus(uids: $u, status: IN_PROGRESS) { uid previous status } }"
    await api.data(mutation, {"u": [f"large:{other}"]}, role="operator")  # the engine has planned the statements
    subscription = (
        "subscription($within: ID) { elementChanges(uid: $within) { uid kind status event { source time } } }"
    )
    async with api.subscribe(subscription, {"within": f"large:{wall}"}) as next_change:
        began = time.perf_counter()
        changed = await api.data(mutation, {"u": [f"large:{wall}"]}, role="operator")
        assert changed["setStatus"] == [{"uid": f"large:{wall}", "previous": "PLANNED", "status": "IN_PROGRESS"}]
        heard = await next_change(timeout=1.0)
        assert time.perf_counter() - began < 1.0
    assert heard["elementChanges"]["uid"] == f"large:{wall}" and heard["elementChanges"]["status"] == "IN_PROGRESS"
    # a subscriber to the storey hears about the walls on it too
    async with api.subscribe(subscription, {"within": f"large:{storey}"}) as next_change:
        await api.data(mutation.replace("IN_PROGRESS", "COMPLETED"), {"u": [f"large:{wall}"]}, role="operator")
        assert (await next_change(timeout=1.0))["elementChanges"]["status"] == "COMPLETED"
    assert heard["elementChanges"]["event"]["source"] == "field:operator"
    # read your own writes: the very next query sees the change
    seen = await api.data(
        "query($m: ID!, $g: String!) { element(model: $m, globalId: $g) { status history { kind details } } }",
        {"m": "large", "g": wall},
    )
    assert seen["element"]["status"] == "COMPLETED"
    assert [h["details"] for h in seen["element"]["history"]] == [
        {"from": "in_progress", "to": "completed"},
        {"from": "planned", "to": "in_progress"},
    ]


import ifcopenshell.util.element  # noqa: E402


def test_the_checked_in_schema_is_the_one_the_api_serves() -> None:
    """Front-end developers generate clients from schema.graphql; it must not drift from the code."""
    from kgtwin.api.graphql.schema import build_schema
    from tests.conftest import REPO

    assert (REPO / "schema.graphql").read_text() == str(build_schema()) + "\n", (
        "run `kgtwin schema --out schema.graphql`"
    )


async def test_graphiql_is_served_only_in_development_mode(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code in (401, 404, 405) or "graphiql" not in response.text.lower()


async def test_round_trips_depend_on_the_query_not_on_the_size_of_the_building(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    """The same deep query on a small and a six times larger building sends the same number of statements."""
    trips = []
    for model, (storeys, rooms) in {"small": (1, 2), "large": (3, 4)}.items():
        path = tmp_path / f"{model}.ifc"
        write_sample(path, SampleSpec(storeys=storeys, spaces_per_storey=rooms))
        await load_ifc(store, path, model=model)
        body = await api.gql(DEEP, {"model": model})
        assert "errors" not in body, body.get("errors")
        storey_nodes = body["data"]["model"]["project"]["sites"][0]["buildings"][0]["storeys"]["nodes"]
        assert len(storey_nodes) == storeys
        assert sum(len(s["spaces"]["nodes"]) for s in storey_nodes) == storeys * rooms
        trips.append(body["extensions"]["roundTrips"])
    assert trips[0] == trips[1], trips
