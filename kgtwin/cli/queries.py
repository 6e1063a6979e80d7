"""`kgtwin cypher` and `kgtwin query`: Cypher against the graph, and the named queries in queries/."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kgtwin.cli.common import (
    Format,
    app,
    parse_params,
    print_rows,
    run_with_store,
    settings_of,
)
from kgtwin.errors import ConfigError
from kgtwin.store.queries import catalogue, named

query_app = typer.Typer(no_args_is_help=True, help="The named Cypher queries in queries/.")
app.add_typer(query_app, name="query")


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
