"""`kgtwin serve`, `kgtwin schema` and `kgtwin keys`: the API service, its schema, and who may use it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgtwin.cli.common import Format, app, out, print_rows, settings_of
from kgtwin.errors import ConfigError

keys_app = typer.Typer(no_args_is_help=True, help="API keys: who may read, change and analyse the twin.")
app.add_typer(keys_app, name="keys")


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (KGTWIN_API_HOST; loopback by default).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (KGTWIN_API_PORT, 8080).")] = None,
    dev: Annotated[bool, typer.Option("--dev", help="Serve GraphiQL at /graphql (KGTWIN_DEV=1).")] = False,
    ingest: Annotated[bool, typer.Option(help="Run the ingestion pipeline (POST /ingest, postObservations).")] = True,
    detect: Annotated[
        bool, typer.Option("--detect/--no-detect", help="Check what is ingested for anomalies (KGTWIN_DETECTORS).")
    ] = True,
    mqtt: Annotated[
        str | None, typer.Option(help="Also ingest from this broker: mqtt://host:port[/topic-filter] (KGTWIN_MQTT).")
    ] = None,
) -> None:
    """Serve the GraphQL API, ingestion and time-series endpoints, health and metrics."""
    import uvicorn

    from kgtwin.api.app import create_app
    from kgtwin.api.logs import configure

    settings = settings_of(ctx).with_overrides(api_host=host, api_port=port, mqtt=mqtt)
    if dev:
        settings = settings.with_overrides(dev_mode=True)
    if settings.mqtt and not ingest:
        raise ConfigError("--mqtt needs ingestion; drop --no-ingest")
    configure()
    application = create_app(settings, ingest=ingest, detect=detect)
    base = f"http://{settings.api_host}:{settings.api_port}"
    out.print(f"kgtwin API on {base}/graphql; dashboard at {base}/#key=<an API key>", highlight=False)
    uvicorn.run(application, host=settings.api_host, port=settings.api_port, log_config=None, ws="websockets-sansio")


@app.command("schema")
def schema(
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the SDL here instead of printing it.")] = None,
) -> None:
    """Print the GraphQL schema (SDL), for front-end developers' client generators."""
    from kgtwin.api.graphql.schema import build_schema

    sdl = str(build_schema()) + "\n"
    if out_file:
        out_file.write_text(sdl, encoding="utf-8")
        out.print(f"wrote {out_file}")
    else:
        typer.echo(sdl, nl=False)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who the key is for (shown in logs instead of the key).")],
    role: Annotated[list[str], typer.Option(help="viewer, operator, analyst or admin; repeatable.")] = ["viewer"],  # noqa: B006
    model: Annotated[str | None, typer.Option(help="Scope the key to one model.")] = None,
    building: Annotated[str | None, typer.Option(help="... and to one building of it (its uid).")] = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from kgtwin.api.auth import create_key

    settings = settings_of(ctx)
    key = create_key(settings.key_file, name, role, model, building)
    out.print(f"key for {name} ({', '.join(role)}), stored as a hash in {settings.key_file}:", highlight=False)
    typer.echo(key)


@keys_app.command("list")
def keys_list(ctx: typer.Context, fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """List the keys: names, roles and scopes (never the keys)."""
    from kgtwin.api.auth import read_key_file

    path = settings_of(ctx).key_file
    entries = read_key_file(path) if path.exists() else []
    rows = [{"name": e.name, "roles": ", ".join(e.roles), "model": e.model, "building": e.building} for e in entries]
    print_rows(rows, fmt)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, name: str) -> None:
    """Remove a key; a running service stops accepting it when it restarts."""
    from kgtwin.api.auth import revoke_key

    if not revoke_key(settings_of(ctx).key_file, name):
        raise ConfigError(f"no key named {name!r}")
    out.print(f"revoked {name}")
