"""The demo twin: a generated building with its schedule and sensors, live readings with planted faults,
and the API and dashboard on loopback — what `kgtwin demo` (the README's first command) runs.

Everything goes through the product's own paths: the IFC loader, a sensor registry, the ingestion
pipeline (the simulator's readings are submitted as a connector's would be), the anomaly monitor
and the API service. No broker is needed: the simulator feeds the service's pipeline directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kgtwin.api.auth import create_key, read_key_file, revoke_key
from kgtwin.config import Settings
from kgtwin.events import EventLog
from kgtwin.ingest.observations import now_ms
from kgtwin.ingest.simulate import DAY, HOUR, Pace, Simulator, load_points, paced, plan_faults
from kgtwin.model.schema import INDEXES
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.schedule.progress import record_progress
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore

MODEL = "demo"
KEY_NAME = "demo"
# What each kind of room sensor keeps up to date in its room, with limits the detectors watch.
ROOM_BINDINGS = {
    "Temperature_Sensor": ("temperature", "airTemperature", "degC", (16.0, 28.0)),
    "Humidity_Sensor": ("humidity", "relativeHumidity", "percent", (20.0, 70.0)),
    "CO2_Sensor": ("co2", "co2", "ppm", (None, 1200.0)),
    "Motion_Sensor": ("occupancy", "occupied", "dimensionless", (None, None)),
}
INTERVAL_S = 60.0


@dataclass(frozen=True)
class DemoModel:
    ifc: Path
    elements: int
    points: int
    key: str


def sensor_registry(rows: list[dict[str, object]]) -> list[PointSpec]:
    """Field ids, units, limits and bindings for the sample building's IFC sensors."""
    specs = []
    for row in rows:
        brick_class, space, host = str(row["brickClass"]), row["space"], row["host"]
        name = str(row["name"] or row["uid"]).replace(" ", "-").lower()
        if row["hostClass"] == "IfcSlab":  # concrete maturity sensors poured with their slab
            specs.append(
                PointSpec(
                    id=name,
                    brick_class=brick_class,
                    unit="degC",
                    model=MODEL,
                    interval_s=INTERVAL_S,
                    max_limit=70.0,
                    ifc=str(row["globalId"]),
                    element=str(host).split(":", 1)[1],
                    property="concreteTemperature",
                )
            )
            continue
        kind = ROOM_BINDINGS.get(brick_class)
        if kind is None or space is None:
            continue
        suffix, prop, unit, (low, high) = kind
        room = str(row["spaceName"] or space).lower()
        specs.append(
            PointSpec(
                id=f"r{room}-{suffix}",
                brick_class=brick_class,
                unit=unit,
                model=MODEL,
                interval_s=INTERVAL_S,
                min_limit=low,
                max_limit=high,
                ifc=str(row["globalId"]),
                space=str(space).split(":", 1)[1],
                property=prop,
            )
        )
    return specs


async def prepare(store: GraphStore, settings: Settings, storeys: int, rooms: int) -> DemoModel:
    """Generate and load the building (again, in place, on a rerun), declare its sensors, make a key."""
    await store.ensure_schema(INDEXES)
    path = settings.data_dir / "demo-building.ifc"
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=today.weekday() + 7)  # the Monday a week before this one: work under way
    write_sample(path, SampleSpec(storeys=storeys, spaces_per_storey=rooms, start=start))
    loaded = await load_ifc(store, path, model=MODEL)
    await report_site_progress(store)
    rows = await store.execute("demo/sensors", {"model": MODEL})
    specs = sensor_registry(rows)
    await load_registry(store, specs)
    if any(e.name == KEY_NAME for e in (read_key_file(settings.key_file) if settings.key_file.exists() else [])):
        revoke_key(settings.key_file, KEY_NAME)  # a new key each run: the old one was printed to a terminal
    key = create_key(settings.key_file, KEY_NAME, ["operator", "analyst"], model=MODEL)
    return DemoModel(path, loaded.read.graph.count("Element"), len(specs), key)


async def report_site_progress(store: GraphStore) -> None:
    """Progress as a site would report it: finished work done, work under way a little behind its plan."""
    log = EventLog(store)
    now = now_ms()
    rows = await store.run(
        "MATCH (a:Activity {model: $model}) WHERE NOT coalesce(a.summary, false) AND a.scheduleStart < $now "
        "RETURN a.uid AS uid, a.scheduleStart AS start, a.scheduleFinish AS finish ORDER BY start",
        {"model": MODEL, "now": now},
    )
    for row in rows:
        if row["finish"] <= now:
            await record_progress(
                store, log, row["uid"], 100.0, actual_start=row["start"], actual_finish=row["finish"], source="demo"
            )
        else:
            planned = 100.0 * (now - row["start"]) / max(row["finish"] - row["start"], 1)
            await record_progress(
                store, log, row["uid"], round(0.7 * planned, 1), actual_start=row["start"], source="demo"
            )


async def feed(
    twin: object,
    store: GraphStore,
    *,
    backfill_hours: float = 6.0,
    faults: int = 4,
    seed: int = 7,
    report: Callable[[str], None] = lambda _: None,
) -> None:
    """Readings for every sensor: the last hours quickly, then live, with faults planted along the way."""
    pipeline = twin.pipeline  # type: ignore[attr-defined]
    points = await load_points(store, MODEL)
    start = int(now_ms() - backfill_hours * HOUR)
    span = int(backfill_hours * HOUR + DAY)
    plan = plan_faults(points, [], faults, start, span, seed)
    for fault in plan:
        report(f"planted fault: {fault.kind} on {fault.point} from {fault.as_row()['startIso']}")
    simulator = Simulator(points, start, seed=seed, faults=plan)
    async for batch in paced(simulator, Pace(speed=3600.0)):
        outcome = await pipeline.submit_readings("simulate", "demo", batch)
        if outcome.durable is not None:
            await outcome.durable


async def serve(settings: Settings, demo: DemoModel, store: GraphStore, report: Callable[[str], None]) -> None:
    """The API and dashboard on loopback with the simulated feed running inside, until interrupted."""
    import uvicorn

    from kgtwin.api.app import create_app

    app = create_app(settings, store)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_config=None, ws="websockets-sansio")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # the port is taken, say: the error goes to the user
            return
        await asyncio.sleep(0.05)
    base = f"http://{settings.api_host}:{settings.api_port}"
    report(f"Dashboard:  {base}/#key={demo.key}")
    report(f"GraphQL:    {base}/graphql   (Authorization: Bearer {demo.key})")
    report("Stop with Ctrl-C.")
    feeding = asyncio.create_task(feed(app.state.twin, store, report=report))
    try:
        await asyncio.wait({serving, feeding}, return_when=asyncio.FIRST_COMPLETED)
        if feeding.done() and feeding.exception():
            raise feeding.exception()  # type: ignore[misc]
    finally:
        feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await feeding
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
