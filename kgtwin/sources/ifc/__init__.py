"""IFC models into the graph: read with ifcopenshell, write in one transaction, reload in place."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from kgtwin.sources.ifc.reader import IfcLoadError, Progress, ReadResult, read_ifc
from kgtwin.sources.writer import WriteSummary, write_model
from kgtwin.store import GraphStore

__all__ = ["IfcLoadError", "LoadResult", "load_ifc", "read_ifc"]


@dataclass
class LoadResult:
    read: ReadResult
    written: WriteSummary

    @property
    def model(self) -> str:
        return self.read.graph.model


async def load_ifc(
    store: GraphStore, path: Path, model: str | None = None, progress: Progress | None = None
) -> LoadResult:
    """Load (or reload) an IFC file as model `model`; the graph changes all at once or not at all."""
    read = await asyncio.to_thread(read_ifc, Path(path), model, progress)
    props = {
        "name": read.project_name,
        "schema": read.schema,
        "file": Path(path).name,
        "sha256": read.sha256,
        "elements": read.graph.count("Element"),
    }
    written = await write_model(store, read.graph, props, progress)
    return LoadResult(read=read, written=written)
