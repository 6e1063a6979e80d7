"""The schedule through the API: progress drives status (and is heard live), performance and the critical
path match the library's figures, and a storey can be seen as planned and as built on a date."""

from __future__ import annotations

from pathlib import Path

from kgtwin.analytics.schedule import critical_path
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.store import GraphStore
from tests.api.conftest import Api


async def test_progress_through_the_api_drives_element_status_and_the_schedule_figures(
    api: Api, store: GraphStore, tmp_path: Path
) -> None:
    path = tmp_path / "s.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, path, model="s")
    walls = (
        await store.run(
            "MATCH (a:Activity {model: 's'})-[:CONSTRUCTS]->(e:Element) WHERE a.name = 'Walls L0' "
            "RETURN a.uid AS activity, collect(e.uid) AS elements"
        )
    )[0]
    subscription = 'subscription { elementChanges(uid: "*", model: "s") { uid status event { source } } }'
    async with api.subscribe(subscription) as next_change:
        result = await api.data(
            'mutation($a: ID!) { updateProgress(activity: $a, percent: 40, actualStart: "2026-03-04T08:00:00Z") '
            "{ percentComplete actualStart changedElements } }",
            {"a": walls["activity"]},
            role="operator",
        )
        heard = await next_change(timeout=2.0)
    progress = result["updateProgress"]
    assert progress["percentComplete"] == 40 and progress["actualStart"].startswith("2026-03-04T08:00:00")
    assert sorted(progress["changedElements"]) == sorted(walls["elements"])
    assert heard["elementChanges"]["status"] == "IN_PROGRESS" and heard["elementChanges"]["uid"] in walls["elements"]
    statuses = await store.run(
        "MATCH (e:Element) WHERE e.uid IN $u RETURN DISTINCT e.status AS s", {"u": walls["elements"]}
    )
    assert statuses == [{"s": "in_progress"}]
    # viewers cannot report progress
    refused = await api.gql(
        "mutation($a: ID!) { updateProgress(activity: $a, percent: 100) { percentComplete } }", {"a": walls["activity"]}
    )
    assert "may not change the twin" in refused["errors"][0]["message"]
    # the critical path is the library's, dates as DateTimes
    expected = await critical_path(store, "s")
    found = (
        await api.data(
            '{ criticalPath(model: "s") { path durationHours activities { uid totalFloatHours critical } } }'
        )
    )["criticalPath"]
    assert found["path"] == expected.path and found["durationHours"] == expected.duration_hours
    assert {a["uid"]: a["critical"] for a in found["activities"]} == {a.uid: a.critical for a in expected.activities}
    report = (
        await api.data(
            '{ scheduleReport(model: "s", asOf: "2026-03-05T12:00:00Z", by: STOREY) { project { earnedValue status } '
            "groups { level name earnedValue } activities { uid percentComplete } } }"
        )
    )["scheduleReport"]
    assert report["project"]["earnedValue"] > 0
    assert {g["level"] for g in report["groups"]} <= {"storey", "unassigned"}
    assert next(a for a in report["activities"] if a["uid"] == walls["activity"])["percentComplete"] == 40
    # time travel: before the walls started they were planned as built; after, in progress
    storey = (await store.run("MATCH (s:Storey {model: 's', name: 'Level 0'}) RETURN s.uid AS u"))[0]["u"]
    before = (
        await api.data(
            'query($s: ID!) { asOf(model: "s", scope: $s, date: "2026-03-03T12:00:00Z") { counts { status built } } }',
            {"s": storey},
        )
    )["asOf"]
    after = (
        await api.data(
            'query($s: ID!) { asOf(model: "s", scope: $s, date: "2026-03-06T12:00:00Z") { counts { status built } } }',
            {"s": storey},
        )
    )["asOf"]
    built_before = {c["status"]: c["built"] for c in before["counts"]}
    built_after = {c["status"]: c["built"] for c in after["counts"]}
    assert built_before.get("in_progress", 0) == 0
    assert built_after["in_progress"] == len(walls["elements"])
