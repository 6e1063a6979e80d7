"""Schedule files (the seed's JSON, CSV, MS Project XML) into the graph beside a loaded building, on both
engines: activities, nesting, typed and lagged links, CONSTRUCTS to elements, in-place re-imports,
one-line errors for bad files, and progress driving element status."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element
import orjson
import pytest

from kgtwin.events import EventLog
from kgtwin.sources.field import set_status
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.schedule import ScheduleError, import_schedule, read_schedule, record_progress
from kgtwin.sources.schedule.mspdi import NAMESPACE, write_mspdi
from kgtwin.store import GraphStore
from tests.conftest import run_cli


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def by_storey(ifc: ifcopenshell.file, ifc_class: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for element in ifc.by_type(ifc_class):
        found.setdefault(ifcopenshell.util.element.get_container(element).Name, []).append(element.GlobalId)
    return found


async def sample_site(store: GraphStore, tmp_path: Path) -> ifcopenshell.file:
    path = tmp_path / "site.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, path, model="site")
    return ifcopenshell.open(str(path))


def seed_schedule(ifc: ifcopenshell.file) -> list[dict]:
    """The seed's JSON form, with predecessors: slabs then walls, storey by storey."""
    slabs, walls = by_storey(ifc, "IfcSlab"), by_storey(ifc, "IfcWall")
    return [
        {"id": "S0", "name": "Slab L0", "start": "2026-03-02", "end": "2026-03-03", "elements": slabs["Level 0"]},
        {
            "id": "W0",
            "name": "Walls L0",
            "start": "2026-03-04",
            "end": "2026-03-06",
            "elements": walls["Level 0"],
            "predecessors": ["S0"],
        },
        {
            "id": "S1",
            "name": "Slab L1",
            "start": "2026-03-05",
            "end": "2026-03-06",
            "elements": slabs["Level 1"],
            "predecessors": ["W0SS+1d"],
        },
        {"id": "W1", "name": "Walls L1", "duration": "3d", "elements": walls["Level 1"], "predecessors": ["S1FS+2d"]},
    ]


async def activities(store: GraphStore, model: str = "site") -> dict[str, dict]:
    rows = await store.run(
        "MATCH (a:Activity {model: $model}) WHERE a.source = 'schedule' "
        "RETURN a.identification AS id, properties(a) AS p",
        {"model": model},
    )
    return {r["id"]: r["p"] for r in rows}


async def links(store: GraphStore, rel: str) -> list[tuple]:
    rows = await store.run(
        f"MATCH (a {{model: 'site'}})-[r:{rel}]->(b) WHERE r.source = 'schedule' "
        "RETURN coalesce(a.identification, a.uid) AS a, b.identification AS b, b.globalId AS g, "
        "r.type AS type, r.lagHours AS lag"
    )
    return sorted((r["a"], r["b"] or r["g"], r["type"], r["lag"]) for r in rows)


async def test_the_seed_json_form_lands_with_links_elements_and_derived_dates(
    store: GraphStore, tmp_path: Path
) -> None:
    ifc = await sample_site(store, tmp_path)
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps(seed_schedule(ifc)))
    summary = await import_schedule(store, path, "site")
    assert (summary.added, summary.links, summary.constructs, summary.unknown_elements) == (4, 3, 10, [])

    found = await activities(store)
    # No calendar in the file: elapsed time. A date alone starts at 00:00; an end date is inclusive.
    assert (found["S0"]["scheduleStart"], found["S0"]["scheduleFinish"]) == (ms("2026-03-02"), ms("2026-03-04"))
    assert found["S0"]["durationHours"] == 48.0
    # W1 has only a duration: it starts 2 days (48 h elapsed) after S1 finishes (end of 03-06).
    assert (found["W1"]["scheduleStart"], found["W1"]["scheduleFinish"]) == (ms("2026-03-09"), ms("2026-03-12"))
    assert await links(store, "PRECEDES") == [
        ("S0", "W0", "FINISH_START", 0.0),
        ("S1", "W1", "FINISH_START", 48.0),
        ("W0", "S1", "START_START", 24.0),
    ]
    walls = by_storey(ifc, "IfcWall")
    constructs = await links(store, "CONSTRUCTS")
    assert sorted(g for a, g, _, _ in constructs if a == "W1") == sorted(walls["Level 1"])
    rows = await store.run(
        "MATCH (s:WorkSchedule {model: 'site'})-[:HAS_ACTIVITY]->(a:Activity) WHERE s.source = 'schedule' "
        "RETURN s.uid AS s, s.name AS name, count(a) AS n"
    )
    assert rows == [{"s": "site:schedule:plan", "name": "plan", "n": 4}]


async def test_a_reimport_updates_in_place_and_keeps_the_progress_reported_since(
    store: GraphStore, tmp_path: Path
) -> None:
    ifc = await sample_site(store, tmp_path)
    plan = seed_schedule(ifc)
    plan[0]["cost"] = 1200.0
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps({"id": "main", "name": "Main plan", "activities": plan}))
    await import_schedule(store, path, "site")
    log = EventLog(store)
    await record_progress(
        store, log, "S0", 60, model="site", actual_start=ms("2026-03-02T07:00"), when=ms("2026-03-03")
    )

    # the next version: S0 renamed and a day later, W1 dropped, a new activity; the file states progress too
    plan[0] = {**plan[0], "name": "Slab L0 (pour 1)", "end": "2026-03-04", "percentComplete": 10, "cost": None}
    plan[3] = {"id": "R1", "name": "Roof", "duration": "1d", "predecessors": ["S1"], "percentComplete": 0}
    path.write_bytes(orjson.dumps({"id": "main", "name": "Main plan", "activities": plan}))
    summary = await import_schedule(store, path, "site")
    assert (summary.added, summary.updated, summary.removed, summary.progress_kept) == (1, 3, 1, 1)
    found = await activities(store)
    assert sorted(found) == ["R1", "S0", "S1", "W0"]
    assert found["S0"]["name"] == "Slab L0 (pour 1)" and found["S0"]["scheduleFinish"] == ms("2026-03-05")
    assert found["S0"]["percentComplete"] == 60.0 and found["S0"]["actualStart"] == ms("2026-03-02T07:00")
    assert "cost" not in found["S0"] and found["S0"]["progressSource"] == "progress"
    assert found["R1"]["percentComplete"] == 0.0
    assert [link for link in await links(store, "PRECEDES") if link[1] == "R1"] == [("S1", "R1", "FINISH_START", 0.0)]
    assert await store.run("MATCH (a:Activity {identification: 'W1'}) RETURN a.uid AS uid") == []
    again = await import_schedule(store, path, "site")
    assert (again.added, again.updated, again.removed) == (0, 4, 0)
    assert len(await links(store, "PRECEDES")) == 3


async def test_csv_with_a_working_calendar_and_typed_lagged_predecessors(store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample_site(store, tmp_path)
    columns = by_storey(ifc, "IfcColumn")
    path = tmp_path / "plan.csv"
    path.write_text(
        "id,name,start,end,duration,elements,predecessors\n"
        f"A10,Columns L0,2026-03-02,,2d,{';'.join(columns['Level 0'])},\n"
        "A20,Formwork L0,,,1d,,A10SS+4h\n"
        f"A30,Columns L1,,,2d,{';'.join(columns['Level 1'])},A10FS+2d;A20SS\n"
        "A40,Handover,,,0d,,A30FF\n"
    )
    from kgtwin.sources.schedule import parse_calendar_spec

    await import_schedule(store, path, "site", calendar=parse_calendar_spec("1-5 08:00-16:00"))
    found = await activities(store)
    # 8-hour working days, Monday to Friday: A10 runs Mon-Tue; A20 starts 4 working hours after A10;
    # A30 waits for A10's finish (Tue 16:00) plus 2 working days (Wed, Thu): it runs Friday and Monday.
    assert (found["A10"]["scheduleStart"], found["A10"]["scheduleFinish"]) == (
        ms("2026-03-02T08:00"),
        ms("2026-03-03T16:00"),
    )
    assert found["A20"]["scheduleStart"] == ms("2026-03-02T12:00")
    assert (found["A30"]["scheduleStart"], found["A30"]["scheduleFinish"]) == (
        ms("2026-03-06T08:00"),
        ms("2026-03-09T16:00"),
    )
    assert found["A40"]["scheduleFinish"] == ms("2026-03-09T16:00") and found["A40"]["isMilestone"]
    assert await links(store, "PRECEDES") == [
        ("A10", "A20", "START_START", 4.0),
        ("A10", "A30", "FINISH_START", 16.0),
        ("A20", "A30", "START_START", 0.0),
        ("A30", "A40", "FINISH_FINISH", 0.0),
    ]
    assert found["A10"]["calendar"] == '{"weekdays":[1,2,3,4,5],"periods":[["08:00","16:00"]]}'


async def test_ms_project_xml_with_summary_tasks_links_and_global_ids(store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample_site(store, tmp_path)
    source = tmp_path / "plan.json"
    activities_json = [
        {"id": "L0", "name": "Level 0"},
        *({**a, "parent": "L0"} for a in seed_schedule(ifc)[:2]),
        {"id": "L1", "name": "Level 1"},
        *({**a, "parent": "L1"} for a in seed_schedule(ifc)[2:]),
    ]
    activities_json[4]["percentComplete"] = 25
    activities_json[4]["actualStart"] = "2026-03-05T08:00"
    source.write_bytes(
        orjson.dumps(
            {
                "name": "Tower A",
                "calendar": {"weekdays": [1, 2, 3, 4, 5], "periods": [["08:00", "12:00"], ["13:00", "17:00"]]},
                "activities": activities_json,
            }
        )
    )
    xml = tmp_path / "tower.xml"
    write_mspdi(xml, read_schedule(source))
    # The file says what Project writes: links by UID with FS = 1 and SS = 3, lags in tenths of a minute.
    ns = {"p": NAMESPACE}
    root = ET.parse(xml).getroot()
    lags = [
        (x.findtext("p:Type", namespaces=ns), x.findtext("p:LinkLag", namespaces=ns))
        for x in root.iter(f"{{{NAMESPACE}}}PredecessorLink")
    ]
    assert lags == [("1", "0"), ("3", "4800"), ("1", "9600")]  # 1 d and 2 d of 8 working hours

    summary = await import_schedule(store, xml, "site")
    assert (summary.format, summary.activities, summary.links, summary.constructs) == ("mspdi", 6, 3, 10)
    found = {p["name"]: p for p in (await activities(store)).values()}
    assert found["Level 0"]["summary"] and not found["Slab L0"]["summary"]
    # Two periods a day (08-12, 13-17): "Walls L1" waits 2 working days after "Slab L1" ends on Friday.
    assert found["Walls L1"]["scheduleStart"] == ms("2026-03-11T08:00")
    assert found["Level 1"]["scheduleFinish"] == found["Walls L1"]["scheduleFinish"] == ms("2026-03-13T17:00")
    assert found["Slab L1"]["percentComplete"] == 25.0
    rows = await store.run(
        "MATCH (p:Activity {model: 'site'})-[:HAS_SUB_ACTIVITY]->(c:Activity) WHERE c.source = 'schedule' "
        "RETURN p.name AS p, c.name AS c ORDER BY c"
    )
    assert [(r["p"], r["c"]) for r in rows] == [
        ("Level 0", "Slab L0"),
        ("Level 1", "Slab L1"),
        ("Level 0", "Walls L0"),
        ("Level 1", "Walls L1"),
    ]
    # progress the file states drives status too, dated when the work started
    slab = by_storey(ifc, "IfcSlab")["Level 1"][0]
    rows = await store.run(
        "MATCH (e:Element {uid: $uid}) RETURN e.status AS s, e.statusTime AS t", {"uid": f"site:{slab}"}
    )
    assert rows == [{"s": "in_progress", "t": ms("2026-03-05T08:00")}]


async def test_progress_drives_status_and_an_element_flagged_issue_keeps_it(store: GraphStore, tmp_path: Path) -> None:
    ifc = await sample_site(store, tmp_path)
    path = tmp_path / "plan.json"
    path.write_bytes(orjson.dumps(seed_schedule(ifc)))
    await import_schedule(store, path, "site")
    log = EventLog(store)
    walls = [f"site:{g}" for g in by_storey(ifc, "IfcWall")["Level 0"]]
    await set_status(store, log, walls[:1], "issue", "field:inspector", when=ms("2026-03-04T09:00"))

    async def statuses() -> dict[str, str]:
        rows = await store.run(
            "MATCH (e:Element) WHERE e.uid IN $uids RETURN e.uid AS uid, e.status AS s", {"uids": walls}
        )
        return {r["uid"]: r["s"] for r in rows}

    result = await record_progress(store, log, "W0", 40, model="site", when=ms("2026-03-04T10:00"))
    assert sorted(c.uid for c in result.changes) == sorted(walls[1:]) and result.kept_issue == walls[:1]
    assert await statuses() == {walls[0]: "issue", **{w: "in_progress" for w in walls[1:]}}
    assert result.actual_start == ms("2026-03-04")  # under way, so taken to have started as planned

    result = await record_progress(store, log, "W0", actual_finish=ms("2026-03-06T15:00"), model="site")
    assert result.percent_complete == 100.0
    assert await statuses() == {walls[0]: "issue", **{w: "completed" for w in walls[1:]}}
    rows = await store.run(
        "MATCH (e:Event {kind: 'status_change', subject: $uid}) RETURN e.time AS t, e.details AS d ORDER BY t",
        {"uid": walls[1]},
    )
    assert [(r["t"], orjson.loads(r["d"])["to"]) for r in rows] == [
        (ms("2026-03-04"), "in_progress"),
        (ms("2026-03-06T15:00"), "completed"),  # dated by the actual finish, not by when it was reported
    ]
    rows = await store.run(
        "MATCH (e:Event {kind: 'progress_update'})-[:ABOUT]->(a:Activity) RETURN a.identification AS a, count(e) AS n"
    )
    assert rows == [{"a": "W0", "n": 2}]

    result = await record_progress(store, log, "W0", 0, model="site")
    assert await statuses() == {walls[0]: "issue", **{w: "planned" for w in walls[1:]}}
    assert (result.actual_start, result.actual_finish) == (None, None)
    stored = (await activities(store))["W0"]
    assert (stored["percentComplete"], stored.get("actualStart"), stored.get("actualFinish")) == (0.0, None, None)
    assert stored["progressSource"] == "progress"
    with pytest.raises(ScheduleError, match="an actual finish means 100 %"):
        await record_progress(store, log, "W0", 50, model="site", actual_finish=ms("2026-03-06T15:00"))
    with pytest.raises(ScheduleError, match="no activity 'X9' in model 'site'"):
        await record_progress(store, log, "X9", 50, model="site")


ONE_DAY = '"start": "2026-03-02", "end": "2026-03-03"'
BAD_FILES = {
    "notes.json": ("these are notes", "not JSON"),
    "parent.json": (f'[{{"id": "A", {ONE_DAY}, "parent": "P"}}]', "its parent 'P' is not in the file"),
    "nodates.json": ('[{"id": "A", "duration": "1d"}]', "no activity has a start date"),
    "calendar.json": (f'{{"calendar": "weekends", "activities": [{{"id": "A", {ONE_DAY}}}]}}', "is not like '1-5"),
    "object.json": ('{"activities": 3}', "expected a list of activities"),
    "dup.json": (
        f'[{{"id": "A", {ONE_DAY}}}, {{"id": "A", {ONE_DAY}}}]',
        "appears twice",
    ),
    "pred.json": (
        '[{"id": "A", "start": "2026-03-02", "end": "2026-03-03", "predecessors": ["Z"]}]',
        "its predecessor 'Z' is not in the file",
    ),
    "loop.json": (
        '[{"id": "A", "start": "2026-03-02", "duration": "1d", "predecessors": ["B"]}, '
        '{"id": "B", "duration": "1d", "predecessors": ["A"]}]',
        "loop through activity",
    ),
    "backwards.json": ('[{"id": "A", "start": "2026-03-05", "end": "2026-03-02"}]', "ends before it starts"),
    "date.json": ('[{"id": "A", "start": "next tuesday", "end": "2026-03-02"}]', "'next tuesday' is not a date"),
    "lag.csv": (
        "id,name,start,end,predecessors\nA,a,2026-03-02,2026-03-03,\nB,b,2026-03-02,2026-03-03,AFS+soon\n",
        "is not like A10",
    ),
    "nocolumn.csv": ("name,start\nx,2026-03-02\n", "no 'id' column"),
    "percent.csv": ("id,start,end,percentComplete\nA,2026-03-02,2026-03-03,140\n", "is not between 0 and 100"),
    "broken.xml": ("<Project><Tasks><Task>", "not XML"),
    "other.xml": ("<Workbook/>", "not Microsoft Project XML"),
    "plan.txt": ("id,name\n", "cannot tell the format"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_one_line_that_says_why(tmp_path: Path, name: str) -> None:
    content, says = BAD_FILES[name]
    (tmp_path / name).write_text(content)
    with pytest.raises(ScheduleError) as refused:
        read_schedule(tmp_path / name)
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert str(refused.value).startswith(str(tmp_path / name))  # where


def test_the_command_refuses_bad_files_in_one_line_and_changes_nothing(
    tmp_path: Path, data_dir: Path, falkordb_store: GraphStore
) -> None:
    write_sample(tmp_path / "b.ifc", SampleSpec(storeys=1, spaces_per_storey=1))
    assert run_cli("load", "ifc", str(tmp_path / "b.ifc"), "--model", "bad", data_dir=data_dir).returncode == 0
    before = run_cli("cypher", "-f", "json", "MATCH (n) RETURN count(n) AS c", data_dir=data_dir).stdout
    for name in ("notes.json", "loop.json", "broken.xml"):
        (tmp_path / name).write_text(BAD_FILES[name][0])
        result = run_cli("schedule", "import", str(tmp_path / name), "--model", "bad", data_dir=data_dir)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.strip().count("\n") == 0 and BAD_FILES[name][1] in result.stderr
        assert "Traceback" not in result.stderr
    good = tmp_path / "good.json"
    good.write_text('[{"id": "A", "start": "2026-03-02", "end": "2026-03-03"}]')
    result = run_cli("schedule", "import", str(good), "--model", "nobody", data_dir=data_dir)
    assert result.returncode == 2 and "model 'nobody' is not loaded" in result.stderr
    assert run_cli("cypher", "-f", "json", "MATCH (n) RETURN count(n) AS c", data_dir=data_dir).stdout == before
