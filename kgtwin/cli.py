"""The `kgtwin` command: parses arguments, calls the library, prints. Errors become one line and an exit code."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from kgtwin.config import ENGINES_LOCAL, Settings
from kgtwin.errors import ConfigError, KgtwinError
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, Row, local, open_store
from kgtwin.store.queries import catalogue, named

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="kgtwin: a twin knowledge graph for buildings.",
)
db_app = typer.Typer(no_args_is_help=True, help="Run the local graph engines (embedded FalkorDB, local Neo4j).")
query_app = typer.Typer(no_args_is_help=True, help="The named Cypher queries in queries/.")
load_app = typer.Typer(no_args_is_help=True, help="Load models and data into the graph.")
sample_app = typer.Typer(no_args_is_help=True, help="Generate sample inputs (IFC buildings).")
ingest_app = typer.Typer(no_args_is_help=True, help="Keep the twin live: observations from the field.")
deadletter_app = typer.Typer(no_args_is_help=True, help="Rejected messages, with their reasons.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(deadletter_app, name="deadletter")
app.add_typer(sample_app, name="sample")
app.add_typer(db_app, name="db")
app.add_typer(query_app, name="query")
app.add_typer(load_app, name="load")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


class Engine(StrEnum):
    falkordb = "falkordb"
    neo4j = "neo4j"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]  # type: ignore[no-any-return]


@app.callback()
def main(
    ctx: typer.Context,
    graph: Annotated[
        str | None,
        typer.Option(help="Graph to use (KGTWIN_GRAPH): embedded, local-neo4j, bolt://…, neo4j://…, falkordb://…"),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Data directory of the local engines (KGTWIN_DATA).")] = None,
) -> None:
    settings = Settings.from_env().with_overrides(graph=graph, data_dir=data)
    ctx.ensure_object(dict)["settings"] = settings


def run_with_store(settings: Settings, work: Callable[[GraphStore], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await open_store(settings, report=lambda line: err.print(line, style="dim"))
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`-p name=value`: the value is read as JSON when it parses (numbers, lists, null), else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigError(f"parameter {pair!r} is not name=value")
        try:
            params[name] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[name] = raw
    return params


def print_rows(rows: list[Row], fmt: Format) -> None:
    if fmt is Format.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    columns = list(rows[0]) if rows else []
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    if fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows(cells)
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(*columns, show_lines=False)
    for line in cells:
        table.add_row(*(Text(cell) for cell in line))  # values are data, never markup
    out.print(table)
    out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _engine_of(settings: Settings, engine: Engine | None) -> str:
    if engine is not None:
        return engine.value
    return ENGINES_LOCAL.get(settings.graph, "falkordb")


# --- db ---------------------------------------------------------------------------------------


@db_app.command("start")
def db_start(
    ctx: typer.Context,
    engine: Annotated[
        Engine | None, typer.Option(help="falkordb (embedded, default) or neo4j (needs a JDK 17+ and Maven).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Loopback port to serve on (KGTWIN_DB_PORT); 0 picks a free one.")
    ] = None,
) -> None:
    """Start a local engine that stays up until `kgtwin db stop`."""
    settings = settings_of(ctx).with_overrides(db_port=port)
    name = _engine_of(settings, engine)
    info, _ = local.start(settings, name, persistent=True, report=lambda line: err.print(line, style="dim"))
    use = "local-neo4j" if name == "neo4j" else "embedded"
    out.print(f"{name} is running at {info.address} (loopback only), supervisor pid {info.supervisor_pid}")
    user = "user neo4j, " if name == "neo4j" else ""
    out.print(f"  {user}password in {info.password_file}")
    out.print(f"  kgtwin uses it with KGTWIN_GRAPH={use}; stop it with `kgtwin db stop --engine {name}`")


@db_app.command("stop")
def db_stop(ctx: typer.Context, engine: Annotated[Engine | None, typer.Option()] = None) -> None:
    """Stop a local engine cleanly (its data stays in the data directory)."""
    settings = settings_of(ctx)
    name = _engine_of(settings, engine)
    if local.stop(settings, name):
        out.print(f"{name} stopped")
    else:
        out.print(f"{name} was not running")


@db_app.command("status")
def db_status(ctx: typer.Context, engine: Annotated[Engine | None, typer.Option()] = None) -> None:
    """Say whether a local engine runs, where, and who started it. Exit code 1 when it is down."""
    settings = settings_of(ctx)
    name = _engine_of(settings, engine)
    info = local.status(settings, name)
    if info is None:
        out.print(f"{name} is not running (data in {settings.data_dir.resolve() / name})")
        raise typer.Exit(1)
    mode = "until `kgtwin db stop`" if info.persistent else "while kgtwin processes use it"
    out.print(
        f"{name} is running at {info.address}, supervisor pid {info.supervisor_pid}, "
        f"server pid {info.server_pid}, {mode}"
    )


@db_app.command("init")
def db_init(ctx: typer.Context) -> None:
    """Create the indexes and uniqueness constraints of the graph model (safe to repeat)."""
    settings = settings_of(ctx)

    async def work(store: GraphStore) -> None:
        await store.ensure_schema(INDEXES)

    run_with_store(settings, work)
    out.print(f"schema ready: {len(INDEXES)} indexes ({sum(i.unique for i in INDEXES)} unique)")


# --- cypher and named queries -----------------------------------------------------------------


@app.command("cypher")
def cypher(
    ctx: typer.Context,
    statement: Annotated[str, typer.Argument(help="A Cypher statement; '-' reads it from standard input.")],
    param: Annotated[
        list[str], typer.Option("--param", "-p", help="name=value (JSON values allowed); repeatable.")
    ] = [],  # noqa: B006
    write: Annotated[bool, typer.Option("--write", help="Allow the statement to change the graph.")] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Run Cypher against the graph. Read-only unless --write: the engine itself refuses writes."""
    text = sys.stdin.read() if statement == "-" else statement
    params = parse_params(param)
    rows = run_with_store(settings_of(ctx), lambda store: store.run(text, params, write=write))
    print_rows(rows, fmt)


@query_app.command("list")
def query_list(fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """List the named queries with their parameters and purpose."""
    rows = [
        {"name": q.name, "mode": q.mode, "params": ", ".join(q.example_params), "purpose": q.purpose}
        for q in catalogue().values()
    ]
    print_rows(rows, fmt)


@query_app.command("run")
def query_run(
    ctx: typer.Context,
    name: str,
    param: Annotated[list[str], typer.Option("--param", "-p")] = [],  # noqa: B006
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Run a named query; every parameter in its header must be given (null is a value)."""
    query = named(name)
    params = parse_params(param)
    missing = [p for p in query.example_params if p not in params]
    if missing:
        raise ConfigError(f"query {name} needs -p {' -p '.join(f'{m}=…' for m in missing)}")
    rows = run_with_store(settings_of(ctx), lambda store: store.execute(name, params))
    print_rows(rows, fmt)


# --- load -------------------------------------------------------------------------------------


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on a terminal; silence elsewhere (logs, pipes, CI)."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield report


@load_app.command("ifc")
def load_ifc_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An IFC2X3, IFC4 or IFC4X3 file (.ifc).")],
    model: Annotated[str | None, typer.Option(help="Model id (default: from the file name).")] = None,
) -> None:
    """Load an IFC model, or update a loaded one in place by GlobalId, keeping what the field wrote."""
    from kgtwin.sources.ifc import load_ifc

    with progress_bar(err.is_terminal) as report:
        result = run_with_store(settings_of(ctx), lambda store: load_ifc(store, file, model, report))
    read, written = result.read, result.written
    out.print(
        f"model {result.model} ({read.schema}, {read.project_name or 'unnamed project'}): "
        f"{written.total('added')} added, {written.total('changed')} changed, "
        f"{written.total('removed')} removed, {written.total('unchanged')} unchanged"
    )
    rows = [
        {
            "label": label,
            "nodes": d.added + d.changed + d.unchanged,
            "added": d.added,
            "changed": d.changed,
            "removed": d.removed,
        }
        for label, d in sorted(written.diff.items())
    ]
    print_rows(rows, Format.table)
    skipped = ", ".join(f"{n} {cls}" for cls, n in sorted(read.skipped.items()))
    out.print(
        f"{written.relationships} relationships; parse {read.parse_seconds:.2f} s, extract "
        f"{read.extract_seconds:.2f} s, write {written.write_seconds:.2f} s"
        + (f"; not elements, not loaded: {skipped}" if skipped else "")
    )


@load_app.command("sensors")
def load_sensors_command(
    ctx: typer.Context, file: Annotated[Path, typer.Argument(help="A sensor registry, YAML or CSV.")]
) -> None:
    """Declare points (class, unit, interval, limits) and bind them to element or space properties."""
    from kgtwin.sources.sensors import load_registry, read_registry

    specs = read_registry(file)
    result = run_with_store(settings_of(ctx), lambda store: load_registry(store, specs))
    out.print(f"{result.points} points declared, {result.aliased} IFC points named, {result.bound} bindings")
    for problem in result.problems:
        err.print(f"warning: {problem}", markup=False)
    if result.problems:
        raise typer.Exit(1)


def deadletter_store(settings: Settings) -> DeadLetterStore:
    from kgtwin.ingest.deadletter import DeadLetterStore

    return DeadLetterStore(settings.data_dir / "deadletter.sqlite")


@ingest_app.command("mqtt")
def ingest_mqtt(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="MQTT broker host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MQTT broker port.")] = 1883,
    topic: Annotated[list[str], typer.Option(help="Topic filter; repeatable.")] = ["kgtwin/observations/#"],  # noqa: B006
    share_group: Annotated[str | None, typer.Option(help="Split the stream with other workers of this group.")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id (the broker keeps its session).")] = "kgtwin-ingest",
    raw_retention: Annotated[
        str | None, typer.Option(help="Roll up raw observations older than this (e.g. 7d).")
    ] = None,
) -> None:
    """Consume observations from MQTT (JSON objects or arrays) until interrupted."""
    import os

    from kgtwin.ingest.mqtt import MqttSettings, run_mqtt
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.pipeline import IngestSettings, Pipeline

    settings = settings_of(ctx)
    mqtt = MqttSettings(
        host=host,
        port=port,
        topics=tuple(topic),
        share_group=share_group,
        client_id=client_id,
        username=os.environ.get("KGTWIN_MQTT_USER"),
        password=os.environ.get("KGTWIN_MQTT_PASSWORD"),
    )
    deadletters = deadletter_store(settings)

    retention_ms = duration_ms(raw_retention, "--raw-retention") if raw_retention else None

    async def work(store: GraphStore) -> None:
        from kgtwin.ingest.observations import now_ms
        from kgtwin.ingest.retention import compact

        registry = await Registry.load(store)

        async def keep_compacting() -> None:
            while retention_ms:
                await compact(store, now_ms() - retention_ms, 60_000)
                await asyncio.sleep(600)

        compactor = asyncio.create_task(keep_compacting())
        async with Pipeline(store, registry, deadletters, IngestSettings(raw_retention_ms=retention_ms)) as pipeline:
            err.print(f"ingesting from mqtt://{host}:{port} {', '.join(topic)} for {len(registry.points)} point ids")
            try:
                await run_mqtt(pipeline, mqtt)
            finally:
                compactor.cancel()

    run_with_store(settings, work)


@app.command("history")
def history(
    ctx: typer.Context,
    point: Annotated[str, typer.Argument(help="Point id (the field's) or uid.")],
    since: Annotated[str, typer.Option("--from", help="Start: ISO 8601 or epoch ms.")],
    until: Annotated[str | None, typer.Option("--to", help="End (default: now).")] = None,
    every: Annotated[str | None, typer.Option(help="Downsample: an interval such as 5min, 1h.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """A point's observations over a time range, raw or as min/max/avg/count per interval."""
    from kgtwin.ingest.history import downsample, raw_series
    from kgtwin.ingest.observations import now_ms, parse_time

    start, end = parse_time(since, 0), parse_time(until, now_ms()) if until else now_ms()
    if not start or end is None or end <= start:
        raise ConfigError(f"--from {since!r} and --to {until!r} must be times with --from before --to")
    series = run_with_store(settings_of(ctx), lambda store: raw_series(store, point, start, end))
    if every is None:
        rows = [{"ts": int(t), "value": float(v)} for t, v in zip(series.ts, series.values, strict=True)]
    else:
        every_ms = duration_ms(every, "--every")
        d = downsample(series, every_ms)
        rows = [
            {"start": int(s), "count": int(c), "min": float(lo), "max": float(hi), "avg": float(a)}
            for s, c, lo, hi, a in zip(d.start, d.count, d.min, d.max, d.avg, strict=True)
        ]
    print_rows(rows, fmt)


def duration_ms(text: str, option: str) -> int:
    from kgtwin.sources.sensors import units

    try:
        value = int(units.Quantity(text).to("ms").magnitude)
    except Exception:
        raise ConfigError(f"{option} {text!r} is not a duration such as 15min, 1h or 7d") from None
    if value <= 0:
        raise ConfigError(f"{option} must be longer than zero")
    return value


@app.command("compact")
def compact_command(
    ctx: typer.Context,
    older_than: Annotated[str, typer.Option(help="Roll up raw observations older than this (e.g. 7d).")],
    every: Annotated[str, typer.Option(help="Roll-up interval.")] = "1min",
) -> None:
    """Retention: turn old raw buckets into count/min/max/avg per interval."""
    from kgtwin.ingest.observations import now_ms
    from kgtwin.ingest.retention import compact

    before = now_ms() - duration_ms(older_than, "--older-than")
    every_ms = duration_ms(every, "--every")
    rolled = run_with_store(settings_of(ctx), lambda store: compact(store, before, every_ms))
    out.print(f"{rolled} buckets rolled up to {every} intervals")


@deadletter_app.command("list")
def deadletter_list(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only letters whose reason contains this text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """List rejected messages with their reasons, oldest first."""
    import datetime as dt

    store = deadletter_store(settings_of(ctx))
    rows = [
        {
            "id": d.id,
            "received": dt.datetime.fromtimestamp(d.received_at / 1000, dt.UTC).isoformat(timespec="seconds"),
            "source": d.source,
            "topic": d.topic,
            "reason": d.reason,
            "payload": d.payload[:200].decode(errors="replace"),
        }
        for d in store.list(reason, limit)
    ]
    print_rows(rows, fmt)


@deadletter_app.command("replay")
def deadletter_replay(
    ctx: typer.Context,
    ids: Annotated[list[int] | None, typer.Argument(help="Letter ids (default: all).")] = None,
) -> None:
    """Send rejected messages through the pipeline again (after fixing the registry, say).

    Letters that now go through are removed; the others stay with their current reason.
    """
    from kgtwin.ingest.observations import Registry
    from kgtwin.ingest.payloads import readings_from_json
    from kgtwin.ingest.pipeline import Pipeline

    settings = settings_of(ctx)
    letters_store = deadletter_store(settings)

    async def work(store: GraphStore) -> tuple[int, int]:
        registry = await Registry.load(store)
        replayed = still = 0
        async with Pipeline(store, registry, letters_store) as pipeline:
            for letter in letters_store.iter_all(ids):
                outcome = await pipeline.submit(
                    "replay",
                    letter.topic,
                    letter.payload,
                    lambda raw, t=letter.topic: readings_from_json(raw, t.rsplit("/", 1)[-1]),
                    record_rejections=False,
                )
                if outcome.durable is not None:
                    await outcome.durable
                if outcome.rejected:
                    still += 1
                else:
                    letters_store.remove(letter.id)
                    replayed += 1
        return replayed, still

    replayed, still = run_with_store(settings, work)
    out.print(f"{replayed} replayed into the graph, {still} still rejected")


@sample_app.command("ifc")
def sample_ifc(
    out_file: Annotated[Path, typer.Argument(help="Where to write the IFC4 file.")],
    storeys: Annotated[int, typer.Option(min=1, help="Number of storeys.")] = 3,
    spaces_per_storey: Annotated[int, typer.Option(min=1, help="Rooms on each storey.")] = 6,
    seed: Annotated[int, typer.Option(help="Same seed, same GlobalIds.")] = 1,
) -> None:
    """Write a synthetic IFC4 building: rooms, walls with doors and windows, slabs, sensors, a schedule."""
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample

    if not out_file.resolve().parent.is_dir():
        raise ConfigError(f"cannot write {out_file}: the folder {out_file.parent} does not exist")
    try:
        stats = write_sample(out_file, SampleSpec(storeys=storeys, spaces_per_storey=spaces_per_storey, seed=seed))
    except OSError as exc:
        raise ConfigError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    if not out_file.exists():  # ifcopenshell reports no error when it cannot write
        raise ConfigError(f"cannot write {out_file}")
    out.print(
        f"wrote {out_file}: {stats.storeys} storeys, {stats.spaces} spaces, {stats.elements} elements "
        f"({stats.sensors} sensors), {stats.tasks} tasks"
    )


# --- demo -------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    ctx: typer.Context,
    storeys: Annotated[int, typer.Option(min=1, help="Storeys of the sample building.")] = 4,
    spaces_per_storey: Annotated[int, typer.Option(min=1, help="Rooms on each storey.")] = 8,
) -> None:
    """Generate a sample building, load it into the embedded engine and show what the graph holds."""
    from kgtwin.sources.ifc import load_ifc
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample

    settings = settings_of(ctx).with_overrides(graph="embedded")
    info, _ = local.start(settings, "falkordb", persistent=True, report=lambda line: err.print(line, style="dim"))
    model_file = settings.data_dir / "demo-building.ifc"
    stats = write_sample(model_file, SampleSpec(storeys=storeys, spaces_per_storey=spaces_per_storey))
    out.print(f"Generated {model_file}: {stats.storeys} storeys, {stats.spaces} rooms, {stats.elements} elements")

    async def work(store: GraphStore) -> list[Row]:
        await store.ensure_schema(INDEXES)
        await load_ifc(store, model_file, model="demo")
        return await store.execute("ifc/model_summary", {"model": "demo"})

    rows = run_with_store(settings, work)
    out.print(f"Loaded it as model 'demo' into the embedded graph at {info.address}:")
    print_rows(rows, Format.table)
    out.print(
        "Try:  kgtwin cypher \"MATCH (s:Storey {model: 'demo'})-[:HAS_SPACE]->(r)-[:HAS_POINT]->(p:Temperature_Sensor) "
        'RETURN s.name AS storey, count(p) AS sensors"'
    )
    out.print("      kgtwin query list")
    out.print("Stop: kgtwin db stop")


def quiet_driver_logs() -> None:
    # The Neo4j driver logs each failed connection attempt itself; the CLI reports the outcome
    # once, as its own one-line error, so the driver's copies would only repeat it.
    driver_log = logging.getLogger("neo4j")
    driver_log.addHandler(logging.NullHandler())
    driver_log.propagate = False


def run() -> None:
    """Entry point: user errors print one line on stderr and exit non-zero, never a traceback."""
    quiet_driver_logs()
    try:
        code = app(standalone_mode=False)
    except KgtwinError as exc:
        err.print(f"error: {exc}", style="red", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors and the like
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
