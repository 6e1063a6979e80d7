"""`kgtwin db`: run the local graph engines and set up the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from kgtwin.cli.common import (
    Engine,
    app,
    err,
    out,
    run_with_store,
    settings_of,
)
from kgtwin.config import ENGINES_LOCAL, Settings
from kgtwin.model.schema import INDEXES
from kgtwin.store import GraphStore, local

db_app = typer.Typer(no_args_is_help=True, help="Run the local graph engines (embedded FalkorDB, local Neo4j).")
app.add_typer(db_app, name="db")


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
