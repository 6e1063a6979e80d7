"""What every `kgtwin` command shares: the app, settings, the store, output formats, errors as one line."""

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

from kgtwin.config import Settings
from kgtwin.errors import ConfigError, KgtwinError
from kgtwin.ingest.deadletter import DeadLetterStore
from kgtwin.store import GraphStore, Row, open_store

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="kgtwin: a twin knowledge graph for buildings.",
)

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


def deadletter_store(settings: Settings) -> DeadLetterStore:
    from kgtwin.ingest.deadletter import DeadLetterStore

    return DeadLetterStore(settings.data_dir / "deadletter.sqlite")


def duration_ms(text: str, option: str) -> int:
    from kgtwin.sources.sensors import units

    try:
        value = int(units.Quantity(text).to("ms").magnitude)
    except Exception:
        raise ConfigError(f"{option} {text!r} is not a duration such as 15min, 1h or 7d") from None
    if value <= 0:
        raise ConfigError(f"{option} must be longer than zero")
    return value


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
