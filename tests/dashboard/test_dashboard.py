"""A person's view of the twin: the dashboard in a real Chromium shows what the graph holds and follows it live."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.async_api import expect

from tests.dashboard.conftest import LIMITS, MODEL, Twin

STATUS_FILL = {"planned": "#b8c0cc", "in_progress": "#f0a830", "completed": "#3aa565", "issue": "#d9434e"}
SET_STATUS = "mutation($u: [ID!]!, $s: Status!) { setStatus(uids: $u, status: $s) { uid } }"


def work_elements(twin: Twin) -> list[Any]:
    """What the KPIs count: every element but openings and sensors (points are not work)."""
    return [e for e in twin.ifc.by_type("IfcElement") if not e.is_a("IfcOpeningElement") and not e.is_a("IfcSensor")]


def wall(twin: Twin, name: str) -> str:
    return f"{MODEL}:{next(w for w in twin.ifc.by_type('IfcWall') if w.Name == name).GlobalId}"


async def open_dashboard(page: Any, twin: Twin) -> list[str]:
    """Open the page with the key in the fragment; the URLs the page requested."""
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    await page.goto(twin.page_url)
    await expect(page.get_by_test_id("live")).to_have_text("live", timeout=10_000)
    return requested


async def test_the_page_shows_the_tree_and_the_kpis_of_the_loaded_model(page: Any, twin: Twin) -> None:
    work = work_elements(twin)
    done = [f"{MODEL}:{e.GlobalId}" for e in twin.ifc.by_type("IfcColumn")]
    await twin.gql(SET_STATUS, {"u": done, "s": "COMPLETED"})
    requested = await open_dashboard(page, twin)

    # the key left the address bar at once, and never went to the server in a URL
    assert "key=" not in page.url
    assert requested and not [u for u in requested if twin.key in u]
    tree = page.get_by_test_id("tree")
    await expect(tree.get_by_text("Building A", exact=True)).to_be_visible()
    await expect(tree.get_by_text("Level 0", exact=True)).to_be_visible()
    await expect(tree.get_by_text("Level 1", exact=True)).to_be_visible()

    kpis = page.get_by_test_id("kpis")
    await expect(kpis.get_by_test_id("kpi-elements")).to_have_text(str(len(work)))
    await expect(kpis.get_by_test_id("kpi-complete")).to_have_text(f"{round(100 * len(done) / len(work), 1)} %")
    points = len(twin.ifc.by_type("IfcSensor"))
    await expect(kpis.get_by_test_id("kpi-points")).to_have_text(f"0 / {points}")

    # a storey: its KPIs, one row per room, and the rooms opened lazily in the tree
    await tree.get_by_text("Level 0", exact=True).click()
    level0 = next(s for s in twin.ifc.by_type("IfcBuildingStorey") if s.Name == "Level 0")
    on_level0 = [e for e in work if _storey_of(e) == level0.GlobalId]
    await expect(kpis.get_by_test_id("kpi-elements")).to_have_text(str(len(on_level0)))
    await expect(kpis.locator("table tbody tr")).to_have_count(4)
    await tree.locator(f'.tree-row[data-uid="{MODEL}:{level0.GlobalId}"] .toggle').click()
    for room in ("001", "002", "003", "004"):
        await expect(tree.get_by_text(room, exact=True)).to_be_visible()
    assert page.problems == []


def _storey_of(element: Any) -> str:
    import ifcopenshell.util.element

    container = ifcopenshell.util.element.get_container(element)
    if container.is_a("IfcSpace"):
        container = ifcopenshell.util.element.get_aggregate(container)
    return str(container.GlobalId)


async def test_the_plan_colours_rooms_by_status_and_as_a_heatmap_and_follows_changes(page: Any, twin: Twin) -> None:
    await twin.gql(SET_STATUS, {"u": [wall(twin, "Wall 0.2 south")], "s": "COMPLETED"})
    await twin.ingest(
        [
            {"sensor_id": twin.sensor_id(room), "value": value, "timestamp": int(time.time() * 1000)}
            for room, value in (("001", 19.0), ("002", 21.0), ("003", 25.0))
        ]
    )
    await open_dashboard(page, twin)
    await page.get_by_test_id("tree").get_by_text("Level 0", exact=True).click()
    rooms = page.get_by_test_id("plan-space")
    await expect(rooms).to_have_count(4)

    def room(name: str) -> Any:
        return page.locator(f'[data-testid=plan-space][data-uid="{MODEL}:{twin.space(name).GlobalId}"]')

    await expect(room("002")).to_have_attribute("data-fill", STATUS_FILL["in_progress"])
    await expect(room("001")).to_have_attribute("data-fill", STATUS_FILL["planned"])
    # a wall of room 001 is flagged in the field while the page is open: the plan follows
    await twin.gql(SET_STATUS, {"u": [wall(twin, "Wall 0.1 west")], "s": "ISSUE"})
    await expect(room("001")).to_have_attribute("data-fill", STATUS_FILL["issue"], timeout=5_000)

    await page.get_by_test_id("plan-mode").select_option("Air_Temperature_Sensor")
    await expect(room("001")).to_have_attribute("data-value", "19 degC")
    await expect(room("003")).to_have_attribute("data-value", "25 degC")
    await expect(room("004")).to_have_attribute("data-value", "no reading")
    cold, hot = await room("001").get_attribute("data-fill"), await room("003").get_attribute("data-fill")
    assert cold == "rgb(44,123,182)" and hot == "rgb(215,25,28)"  # the ends of the scale
    # a new reading recolours its room live
    await twin.ingest([{"sensor_id": twin.sensor_id("004"), "value": 23.5}])
    await expect(room("004")).to_have_attribute("data-value", "23.5 degC", timeout=5_000)
    assert page.problems == []


async def test_a_rooms_chart_shows_values_posted_through_ingest_with_its_limits(page: Any, twin: Twin) -> None:
    now = int(time.time() * 1000)
    sensor = twin.sensor_id("101")
    await twin.ingest(
        [{"sensor_id": sensor, "value": 20 + i / 10, "timestamp": now - (10 - i) * 60_000} for i in range(10)]
    )
    await open_dashboard(page, twin)
    await page.get_by_test_id("tree").get_by_text("Level 1", exact=True).click()
    await page.locator(f'[data-testid=plan-space][data-uid="{MODEL}:{twin.space("101").GlobalId}"] rect').click()
    charts = page.get_by_test_id("chart")
    await expect(charts).to_have_count(4)  # temperature, humidity, CO2 and occupancy sensors of the room
    chart = charts.filter(has_text="Air_Temperature_Sensor")
    await expect(chart).to_contain_text("10 values")
    await expect(chart).to_contain_text(f"limits min {LIMITS[0]:g}, max {LIMITS[1]:g}")
    await expect(chart.get_by_test_id("chart-last")).to_contain_text("20.9 degC")
    await expect(chart.locator("canvas")).to_have_count(1)

    await twin.ingest([{"sensor_id": sensor, "value": 24.25}])  # arrives live, over the subscription
    await expect(chart.get_by_test_id("chart-last")).to_contain_text("24.25 degC", timeout=5_000)
    await expect(chart).to_contain_text("11 values")
    assert page.problems == []


async def test_the_schedule_is_a_gantt_with_progress_and_the_critical_path(page: Any, twin: Twin) -> None:
    leaves = [t for t in twin.ifc.by_type("IfcTask") if not any(rel.RelatedObjects for rel in t.IsNestedBy)]
    critical = (await twin.gql("query($m: ID!) { criticalPath(model: $m) { path } }", {"m": MODEL}))["criticalPath"]
    await open_dashboard(page, twin)
    gantt = page.get_by_test_id("gantt")
    rows = gantt.get_by_test_id("gantt-activity")
    await expect(rows).to_have_count(len(leaves))
    shown_critical = {
        await r.get_attribute("data-uid")
        for r in await rows.filter(has=page.locator(".planned")).all()
        if await r.get_attribute("data-critical") == "true"
    }
    assert shown_critical == set(critical["path"]) and shown_critical
    await expect(gantt.get_by_text("Level 0", exact=True)).to_be_visible()  # a summary bar per storey

    # time travel: the figures at another data date
    await gantt.get_by_label("data date").fill("2026-03-03")
    summary = gantt.get_by_test_id("schedule-summary")
    await expect(gantt.get_by_label("data date")).to_have_value("2026-03-03")
    report = await twin.gql(
        'query($m: ID!) { scheduleReport(model: $m, asOf: "2026-03-03T23:59:59Z") { project { expectedPercent } } }',
        {"m": MODEL},
    )
    expected = round(report["scheduleReport"]["project"]["expectedPercent"], 1)
    assert 0 < expected < 100
    await expect(summary).to_contain_text(f"expected {expected:g} %")
    assert page.problems == []


def _has_anomaly_workflow() -> bool:
    from kgtwin.api.graphql.schema import build_schema

    sdl = str(build_schema())
    return "acknowledgeAnomaly(" in sdl and "resolveAnomaly(" in sdl


@pytest.mark.skipif(
    not _has_anomaly_workflow(), reason="the API has no acknowledgeAnomaly/resolveAnomaly mutations yet"
)
async def test_a_planted_reading_shows_up_in_the_feed_and_is_acknowledged_there(page: Any, twin: Twin) -> None:
    await open_dashboard(page, twin)
    feed = page.get_by_test_id("anomalies")
    open_card = page.get_by_test_id("kpi-anomalies")
    await expect(open_card).to_have_text(re.compile(r"^\d+$"))
    before = int(await open_card.inner_text())
    point = await twin.gql("query($id: ID!) { point(id: $id) { uid name } }", {"id": twin.sensor_id("103")})
    planted = time.monotonic()
    await twin.ingest([{"sensor_id": twin.sensor_id("103"), "value": LIMITS[1] + 30}])

    item = feed.get_by_test_id("anomaly").filter(has_text=point["point"]["name"])
    await expect(item).to_have_count(1, timeout=5_000)
    seen = time.monotonic() - planted
    await expect(item.get_by_test_id("anomaly-state")).to_have_text("open")
    uid = await item.get_attribute("data-uid")
    assert seen < 5, f"the anomaly took {seen:.1f} s to reach the page"
    await expect(open_card).to_have_text(str(before + 1))  # the KPIs follow the feed

    await item.get_by_test_id("acknowledge").click()
    await expect(item.get_by_test_id("anomaly-state")).to_have_text("acknowledged")
    rows = await twin.store.run("MATCH (a:Anomaly {uid: $uid}) RETURN a.state AS state", {"uid": uid})
    assert rows == [{"state": "acknowledged"}]

    await item.get_by_test_id("resolve").click()
    await expect(item.get_by_test_id("anomaly-state")).to_have_text("resolved")
    rows = await twin.store.run("MATCH (a:Anomaly {uid: $uid}) RETURN a.state AS state", {"uid": uid})
    assert rows == [{"state": "resolved"}]
    await expect(open_card).to_have_text(str(before))
    assert page.problems == []
