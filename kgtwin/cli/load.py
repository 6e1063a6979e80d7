"""`kgtwin load` and `kgtwin sample`: models and registries into the graph, sample buildings out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kgtwin.cli.common import (
    Format,
    app,
    err,
    out,
    print_rows,
    progress_bar,
    run_with_store,
    settings_of,
)
from kgtwin.errors import ConfigError

load_app = typer.Typer(no_args_is_help=True, help="Load models and data into the graph.")
sample_app = typer.Typer(no_args_is_help=True, help="Generate sample inputs (IFC buildings).")
app.add_typer(sample_app, name="sample")
app.add_typer(load_app, name="load")


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
