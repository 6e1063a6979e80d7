"""Schedule performance on both engines: CPM on a network worked out by hand, earned value on a worked
example, the public IFC4X3 4D schedule's critical path, roll-ups by storey, and time travel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ifcopenshell
import orjson
import pytest

from kgtwin.analytics.schedule import critical_path, schedule_report
from kgtwin.analytics.timetravel import state_as_of
from kgtwin.events import EventLog
from kgtwin.sources.field import set_status
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.schedule import ScheduleError, import_schedule, record_progress
from kgtwin.store import GraphStore
from tests.conftest import SHARED_DATA, run_cli


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# Six activities on 8-hour working days (Mon-Fri 08:00-16:00), from Monday 2026-03-02. Day n below
# is the n-th working day from that Monday at 08:00 (day 5 is Monday 03-09: the weekend does not count).
HAND_NETWORK = {
    "id": "hand",
    "calendar": "1-5 08:00-16:00",
    "activities": [
        {"id": "A", "name": "Excavation", "start": "2026-03-02", "duration": "3d"},
        {"id": "B", "name": "Foundations", "duration": "2d", "predecessors": ["A"]},
        {"id": "C", "name": "Drainage", "duration": "4d", "predecessors": ["ASS+1d"]},
        {"id": "D", "name": "Ground slab", "duration": "2d", "predecessors": ["BFS+1d"]},
        {"id": "E", "name": "Blinding check", "duration": "1d", "predecessors": ["C", "D"]},
        {"id": "F", "name": "Backfill", "duration": "2d", "predecessors": ["CFF+2d"]},
    ],
}


async def load_hand_network(store: GraphStore, tmp_path: Path) -> None:
    write_sample(tmp_path / "b.ifc", SampleSpec(storeys=1, spaces_per_storey=1))
    await load_ifc(store, tmp_path / "b.ifc", model="hand")
    (tmp_path / "hand.json").write_bytes(orjson.dumps(HAND_NETWORK))
    await import_schedule(store, tmp_path / "hand.json", "hand")


async def test_cpm_on_a_network_worked_out_by_hand(store: GraphStore, tmp_path: Path) -> None:
    await load_hand_network(store, tmp_path)
    result = await critical_path(store, "hand", schedule="hand")
    # Forward pass (early start ES, early finish EF, in working days):
    #   A: ES 0, EF 0+3 = 3
    #   B: FS A        -> ES 3,             EF 3+2 = 5
    #   C: SS A +1d    -> ES 0+1 = 1,       EF 1+4 = 5
    #   D: FS B +1d    -> ES 5+1 = 6,       EF 6+2 = 8
    #   E: FS C, FS D  -> ES max(5, 8) = 8, EF 8+1 = 9
    #   F: FF C +2d    -> EF 5+2 = 7,       ES 7-2 = 5
    # Project finish = max EF = 9. Backward pass (late finish LF, late start LS):
    #   E: LF 9, LS 8;  F: no successor, LF 9, LS 7
    #   D: FS E        -> LF 8, LS 6
    #   B: FS D +1d    -> LF 6-1 = 5, LS 3
    #   C: FS E, FF F +2d -> LF min(8, 9-2) = 7, LS 3
    #   A: FS B, SS C +1d -> LF min(3, (LS_C - 1) + 3 = 5) = 3, LS 0
    # Total float = LS - ES: A 0, B 0, C 3-1 = 2 d, D 0, E 0, F 7-5 = 2 d; critical A-B-D-E.
    day = {
        n: ms(d)
        for n, d in enumerate(
            [
                "2026-03-02",
                "2026-03-03",
                "2026-03-04",
                "2026-03-05",
                "2026-03-06",
                "2026-03-09",
                "2026-03-10",
                "2026-03-11",
                "2026-03-12",
                "2026-03-13",
            ]
        )
    }
    hour = 3_600_000

    def start(n: int) -> int:  # 08:00 of day n
        return day[n] + 8 * hour

    def end(n: int) -> int:  # 16:00 of the day before day n: where work of n days from day 0 ends
        return day[n - 1] + 16 * hour

    got = {a.identification: a for a in result.activities}
    expected = {  # ES, EF, LS, LF (days), total float (hours)
        "A": (0, 3, 0, 3, 0.0),
        "B": (3, 5, 3, 5, 0.0),
        "C": (1, 5, 3, 7, 16.0),
        "D": (6, 8, 6, 8, 0.0),
        "E": (8, 9, 8, 9, 0.0),
        "F": (5, 7, 7, 9, 16.0),
    }
    for ident, (es, ef, ls, lf, total_float) in expected.items():
        a = got[ident]
        assert (a.early_start, a.early_finish, a.late_start, a.late_finish) == (
            start(es),
            end(ef),
            start(ls),
            end(lf),
        ), ident
        assert a.total_float_hours == total_float and a.total_float_days == total_float / 8, ident
    assert [
        got_id for got_id in (next(a.identification for a in result.activities if a.uid == u) for u in result.path)
    ] == [
        "A",
        "B",
        "D",
        "E",
    ]
    assert (result.project_start, result.project_finish, result.duration_hours) == (start(0), end(9), 72.0)
    assert result.day_hours == 8.0 and "1-5 08:00-16:00" in result.time_basis


async def test_earned_value_on_a_worked_example(store: GraphStore, tmp_path: Path) -> None:
    await load_hand_network(store, tmp_path)
    log = EventLog(store)
    await record_progress(
        store, log, "A", 100, model="hand", actual_start=at("2026-03-02T08:00"), actual_finish=at("2026-03-04T16:00")
    )
    await record_progress(store, log, "C", 50, model="hand", actual_start=at("2026-03-03T08:00"))
    report = await schedule_report(store, "hand", at("2026-03-05T12:00"), schedule="hand")
    # Weights are planned working hours: A 24, B 16, C 32, D 16, E 8, F 16; BAC = 112 h.
    # At Thu 03-05 12:00 (3.5 working days in), planned shares: A 100 %, B 4/16 = 25 %, C 20/32 = 62.5 %,
    # D, E, F 0 %. PV = 24 + 4 + 20 = 48 h. EV = 24 x 100 % + 32 x 50 % = 40 h.
    project = report.project
    assert report.basis == "hours" and project.budget == 112.0
    assert (project.planned_value, project.earned_value) == (48.0, 40.0)
    assert project.spi == pytest.approx(40 / 48) and project.schedule_variance == -8.0
    # Earned schedule: PV grows 8 h/day on day 0 (A) and 16 h/day on days 1-2 (A and C): it reaches
    # 40 h at the end of Wednesday. Thursday 08:00-12:00 later is 4 working hours: SV = -0.5 days.
    assert project.schedule_variance_days == -0.5
    assert project.expected_percent == pytest.approx(100 * 48 / 112)
    assert project.actual_percent == pytest.approx(100 * 40 / 112)
    assert project.status == "behind"  # -7.1 points, beyond the 5-point tolerance
    rows = {a.identification: a for a in report.activities}
    assert {k: (r.expected_percent, r.status) for k, r in rows.items()} == {
        "A": (100.0, "on_track"),
        "B": (25.0, "behind"),
        "C": (62.5, "behind"),
        "D": (0.0, "on_track"),
        "E": (0.0, "on_track"),
        "F": (0.0, "on_track"),
    }
    assert rows["A"].start_variance_days == rows["A"].finish_variance_days == 0.0
    # Forecasts: C has done 50 % in 20 working hours (Tue, Wed, Thu morning): 20 more hours end Monday
    # 03-09 16:00. B cannot start before the data date: Thu 12:00 + 16 h = Mon 12:00. D waits 1 day
    # after B: Tue 12:00 + 16 h = Thu 03-12 12:00. E follows D: Fri 03-13 12:00. F: C's finish + 2 days.
    assert {k: r.forecast_finish for k, r in rows.items()} == {
        "A": ms("2026-03-04T16:00"),
        "B": ms("2026-03-09T12:00"),
        "C": ms("2026-03-09T16:00"),
        "D": ms("2026-03-12T12:00"),
        "E": ms("2026-03-13T12:00"),
        "F": ms("2026-03-11T16:00"),
    }
    assert report.forecast_finish == ms("2026-03-13T12:00") and project.finish_variance_days == 0.5
    # By SPI: 72 planned working hours / (40/48) = 86.4 h = 10 days and 6.4 h: Monday 03-16 14:24.
    assert report.forecast_finish_by_spi == ms("2026-03-16T14:24")


async def test_the_public_4d_schedule_critical_path_and_float(store: GraphStore) -> None:
    path = SHARED_DATA / "ifc" / "construction-scheduling-task.ifc"
    ifc = ifcopenshell.open(str(path))
    await load_ifc(store, path, model="4d")
    result = await critical_path(store, "4d")
    got = {a.name: a for a in result.activities}
    # The leaf tasks: Slab #1 (8 h), then Wall #1 -> #2 -> #3 -> #4 (8 h each) in sequence, every wall also
    # after the slab. One chain of 40 working hours, Mon 2010-09-20 08:00 to Fri 09-24 16:00: no float.
    assert sorted(got) == ["Slab #1", "Wall #1", "Wall #2", "Wall #3", "Wall #4"]
    assert [got_name for got_name in (a.name for a in result.activities if a.critical)] == [
        "Slab #1",
        "Wall #1",
        "Wall #2",
        "Wall #3",
        "Wall #4",
    ]
    assert all(a.total_float_hours == 0.0 for a in result.activities)
    assert (result.project_start, result.project_finish, result.duration_hours) == (
        ms("2010-09-20T08:00"),
        ms("2010-09-24T16:00"),
        40.0,
    )
    # The file states its authoring tool's late dates and critical flags too; they agree.
    for task in ifc.by_type("IfcTask"):
        if task.Name in got:
            time = task.TaskTime
            assert (got[task.Name].late_start, got[task.Name].late_finish) == (ms(time.LateStart), ms(time.LateFinish))
            assert time.IsCritical is True


async def test_figures_roll_up_by_storey_and_building(store: GraphStore, tmp_path: Path) -> None:
    write_sample(tmp_path / "b.ifc", SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, tmp_path / "b.ifc", model="site")
    ifc = ifcopenshell.open(str(tmp_path / "b.ifc"))
    task = {t.Name: f"site:{t.GlobalId}" for t in ifc.by_type("IfcTask")}
    log = EventLog(store)
    await record_progress(
        store, log, task["Columns L0"], 100, actual_start=at("2026-03-02T08:00"), actual_finish=at("2026-03-02T16:00")
    )
    await record_progress(store, log, task["Slab L0"], 50, actual_start=at("2026-03-03T08:00"))
    report = await schedule_report(store, "site", at("2026-03-03T12:00"), "storey")
    # Each storey: columns 8 h, slab 16 h, walls 8 h, doors and windows 8 h, sensors 8 h = 48 h.
    # Level 0 at Tue 12:00: PV = columns 8 + slab 4/16 x 16 = 12 h; EV = 8 + 50 % x 16 = 16 h.
    # Level 1 starts on Friday: PV = EV = 0.
    groups = {g.name: g for g in report.groups}
    assert sorted(groups) == ["Level 0", "Level 1"]
    assert (groups["Level 0"].budget, groups["Level 0"].planned_value, groups["Level 0"].earned_value) == (
        48.0,
        12.0,
        16.0,
    )
    assert groups["Level 0"].spi == pytest.approx(16 / 12) and groups["Level 0"].status == "ahead"
    assert (groups["Level 1"].planned_value, groups["Level 1"].earned_value, groups["Level 1"].spi) == (0.0, 0.0, None)
    assert groups["Level 1"].status == "on_track" and groups["Level 1"].schedule_variance_days == 0.0
    assert (report.project.budget, report.project.planned_value, report.project.earned_value) == (96.0, 12.0, 16.0)
    assert sum(g.budget for g in report.groups) == report.project.budget
    by_building = await schedule_report(store, "site", at("2026-03-03T12:00"), "building")
    assert [(g.level, g.budget, g.earned_value) for g in by_building.groups] == [("building", 96.0, 16.0)]
    assert report.critical_path and report.project.planned_finish == ms("2026-03-13T16:00")


async def test_a_storey_as_planned_beside_as_built_on_any_date(store: GraphStore, tmp_path: Path) -> None:
    write_sample(tmp_path / "b.ifc", SampleSpec(storeys=2, spaces_per_storey=2))
    await load_ifc(store, tmp_path / "b.ifc", model="site")
    ifc = ifcopenshell.open(str(tmp_path / "b.ifc"))
    task = {t.Name: f"site:{t.GlobalId}" for t in ifc.by_type("IfcTask")}
    storey = {s.Name: f"site:{s.GlobalId}" for s in ifc.by_type("IfcBuildingStorey")}
    log = EventLog(store)
    # Site reports: columns L0 done on Monday (finished 15:00), slab L0 started Tuesday 09:00 (reported
    # Wednesday), and a wall flagged by an inspector on Wednesday 10:00.
    await record_progress(
        store, log, task["Columns L0"], 100, actual_start=at("2026-03-02T08:00"), actual_finish=at("2026-03-02T15:00")
    )
    await record_progress(
        store, log, task["Slab L0"], 50, actual_start=at("2026-03-03T09:00"), when=ms("2026-03-04T12:00")
    )
    wall = f"site:{next(w.GlobalId for w in ifc.by_type('IfcWall'))}"
    await set_status(store, log, [wall], "issue", "field:inspector", when=ms("2026-03-04T10:00"))

    def counts(state) -> dict[str, tuple[int, int]]:
        return {c.status: (c.planned, c.built) for c in state.counts if c.planned or c.built}

    # Tuesday noon: the plan has L0's 4 columns done and its slab under way; so has the site.
    # Walls (4), doors and windows (4), sensors (8 room sensors + 2 slab sensors + 1 thermostat) are
    # planned; the 4 openings are built by no activity (unscheduled as planned, planned as built).
    tuesday = await state_as_of(store, "site", storey["Level 0"], at("2026-03-03T12:00"))
    assert tuesday.level == "Storey" and tuesday.name == "Level 0" and tuesday.schedule == "ifc"
    assert counts(tuesday) == {"planned": (19, 23), "in_progress": (1, 1), "completed": (4, 4), "unscheduled": (4, 0)}
    slab = next(e for e in tuesday.elements if e.ifc_class == "IfcSlab")
    assert (slab.planned, slab.built) == ("in_progress", "in_progress")
    # Wednesday 11:00: the wall's issue is in the history; the plan has the slab finishing at 16:00.
    wednesday = await state_as_of(store, "site", storey["Level 0"], at("2026-03-04T11:00"))
    assert next(e.built for e in wednesday.elements if e.uid == wall) == "issue"
    assert counts(wednesday)["issue"] == (0, 1)
    # Before the works began, everything was planned; Level 1 is untouched on Tuesday either way.
    before = await state_as_of(store, "site", storey["Level 0"], at("2026-03-01T00:00"))
    assert counts(before) == {"planned": (24, 28), "unscheduled": (4, 0)}
    upstairs = await state_as_of(store, "site", storey["Level 1"], at("2026-03-03T12:00"))
    assert counts(upstairs) == {"planned": (24, 28), "unscheduled": (4, 0)}
    whole = await state_as_of(store, "site", "site", at("2026-03-03T12:00"))
    assert whole.level == "Model" and len(whole.elements) == len(tuesday.elements) + len(upstairs.elements)
    one = await state_as_of(store, "site", wall, at("2026-03-05T12:00"))
    assert (one.level, [(e.planned, e.built, e.current) for e in one.elements]) == (
        "Element",
        [("in_progress", "issue", "issue")],
    )
    with pytest.raises(ScheduleError, match="is not the model id nor a building"):
        await state_as_of(store, "site", "site:nowhere", at("2026-03-03T12:00"))


async def test_the_commands_report_the_schedule(tmp_path: Path, data_dir: Path, falkordb_store: GraphStore) -> None:
    write_sample(tmp_path / "b.ifc", SampleSpec(storeys=1, spaces_per_storey=1))
    await load_ifc(falkordb_store, tmp_path / "b.ifc", model="cli")  # the graph the commands below open
    (tmp_path / "hand.json").write_bytes(orjson.dumps(HAND_NETWORK))
    done = run_cli("schedule", "import", str(tmp_path / "hand.json"), "--model", "cli", data_dir=data_dir)
    assert done.returncode == 0 and "6 activities (6 added" in done.stdout, done.stderr
    done = run_cli(
        "schedule",
        "progress",
        "A",
        "--percent",
        "100",
        "--actual-start",
        "2026-03-02T08:00",
        "--actual-finish",
        "2026-03-04T16:00",
        "--model",
        "cli",
        data_dir=data_dir,
    )
    assert done.returncode == 0 and "Excavation: 100 %" in done.stdout, done.stderr
    several = run_cli("schedule", "critical-path", "--model", "cli", data_dir=data_dir)
    assert several.returncode == 2 and "choose one with --schedule" in several.stderr
    cpm = run_cli("schedule", "critical-path", "--model", "cli", "--schedule", "hand", "-f", "json", data_dir=data_dir)
    assert [a["identification"] for a in orjson.loads(cpm.stdout)["activities"] if a["critical"]] == [
        "A",
        "B",
        "D",
        "E",
    ]
    report = run_cli(
        "schedule",
        "report",
        "--model",
        "cli",
        "--schedule",
        "hand",
        "--as-of",
        "2026-03-05T12:00",
        "--by",
        "storey",
        "-f",
        "json",
        data_dir=data_dir,
    )
    figures = orjson.loads(report.stdout)
    assert (figures["project"]["planned_value"], figures["project"]["earned_value"]) == (48.0, 24.0)
    assert [g["level"] for g in figures["groups"]] == ["unassigned"]
    table = run_cli(
        *("schedule", "report", "--model", "cli", "--schedule", "hand", "--as-of", "2026-03-05T12:00", "--activities"),
        data_dir=data_dir,
        env={"COLUMNS": "200"},
    )
    assert table.returncode == 0 and "behind" in table.stdout and "days are 8 h" in table.stdout
    travel = run_cli(
        "schedule",
        "as-of",
        "2026-03-02",
        "--scope",
        "cli",
        "--model",
        "cli",
        "--schedule",
        "ifc",
        "-f",
        "csv",
        data_dir=data_dir,
    )
    assert travel.returncode == 0 and travel.stdout.splitlines()[0] == "status,planned,built", travel.stderr
    bad = run_cli(
        "schedule",
        "progress",
        "A",
        "--percent",
        "50",
        "--actual-finish",
        "2026-03-04",
        "--model",
        "cli",
        data_dir=data_dir,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "an actual finish means 100 %" in bad.stderr
