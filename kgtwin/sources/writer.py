"""Writes a ModelGraph into the store in one transaction, updating a loaded model in place.

Nodes are matched by uid (model id + GlobalId). What the file says is replaced; what the field
wrote (status, latest values, bindings, observations) is kept. Nodes and relationships the new
file no longer has are removed, except points holding observations: those are kept and flagged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kgtwin.model.graph import ModelGraph, is_file_key
from kgtwin.model.schema import INDEXES, MODEL_LABELS
from kgtwin.store import GraphStore
from kgtwin.store.base import Transaction, split_removals
from kgtwin.store.queries import named

BATCH = 2000
Progress = Callable[[str, int, int], None]


@dataclass
class LabelDiff:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class WriteSummary:
    model: str
    diff: dict[str, LabelDiff] = field(default_factory=dict)
    relationships: int = 0
    write_seconds: float = 0.0

    def total(self, attribute: str) -> int:
        return sum(getattr(d, attribute) for d in self.diff.values())


async def write_model(
    store: GraphStore, graph: ModelGraph, model_props: dict[str, Any], progress: Progress | None = None
) -> WriteSummary:
    progress = progress or (lambda *_: None)
    began = time.perf_counter()
    await store.ensure_schema(INDEXES)
    previous: dict[str, str | None] = {}
    label_of_previous: dict[str, str] = {}
    for label in MODEL_LABELS:
        for row in await store.execute("ifc/fingerprints", {"model": graph.model}, label=label):
            previous[row["uid"]] = row["fingerprint"]
            label_of_previous[row["uid"]] = label
    fingerprints = graph.fingerprints()
    current_keys = await _keys_of_changed(store, graph, previous, fingerprints)
    summary = WriteSummary(model=graph.model)
    load = uuid.uuid4().hex
    upsert, create, link = named("ifc/upsert_nodes"), named("ifc/create_nodes"), named("ifc/link")
    total_rows = sum(len(r) for r in graph.nodes.values()) + sum(len(r) for r in graph.rels.values())
    written = 0

    async def send(tx: Transaction, statement: str, payload: list[dict[str, Any]], **params: Any) -> None:
        nonlocal written
        for start in range(0, len(payload), BATCH):
            batch = payload[start : start + BATCH]
            await tx.run(statement, {"rows": batch, "load": load, **params})
            written += len(batch)
            progress("writing", written, total_rows)

    async with store.transaction() as tx:
        for (label, extra), rows in graph.nodes.items():
            diff = summary.diff.setdefault(label, LabelDiff())
            new_status = "planned" if label == "Element" else None
            fresh, existing = [], []
            for row in rows:
                uid, digest = row["uid"], fingerprints[row["uid"]]
                if uid not in previous:
                    diff.added += 1
                    fresh.append({"uid": uid, "props": {**row["props"], "fingerprint": digest}})
                elif previous[uid] == digest:
                    diff.unchanged += 1
                    existing.append({"uid": uid, "props": {}})
                else:
                    diff.changed += 1
                    props = {**row["props"], "fingerprint": digest}
                    # keys the file no longer states are removed (a null in += deletes them)
                    props.update({k: None for k in current_keys[uid] if is_file_key(k) and k not in row["props"]})
                    existing.append({"uid": uid, "props": props})
            # New nodes are created whole: one write per node instead of a merge, a property
            # update and a label update, each of which FalkorDB re-indexes the node for.
            await send(tx, create.render(labels=[label, *extra]), fresh, model=graph.model, newStatus=new_status)
            existing, removals = split_removals(existing)
            await send(tx, upsert.render(label=label, labels=list(extra)), existing, newStatus=new_status)
            await send(tx, named("graph/remove_keys").render(label=label), removals)
        for (rel_type, start_label, end_label), rows in graph.rels.items():
            await send(tx, link.render(start=start_label, end=end_label, type=rel_type), rows)
            summary.relationships += len(rows)
        now = int(time.time() * 1000)
        for label in MODEL_LABELS:
            await tx.run(named("ifc/sweep_links").render(label=label), {"model": graph.model, "load": load})
            scope = {"model": graph.model, "load": load}
            await tx.run(named("ifc/remove_nodes").render(label=label), scope)
            await tx.run(named("ifc/retire_nodes").render(label=label), {**scope, "now": now})
        await tx.run(named("ifc/upsert_model").text, {"model": graph.model, "props": {**model_props, "loadedAt": now}})
    new_uids = set(fingerprints)
    for uid, label in label_of_previous.items():
        if uid not in new_uids:
            summary.diff.setdefault(label, LabelDiff()).removed += 1
    summary.write_seconds = time.perf_counter() - began
    return summary


async def _keys_of_changed(
    store: GraphStore, graph: ModelGraph, previous: dict[str, str | None], fingerprints: dict[str, str]
) -> dict[str, list[str]]:
    """Current property keys of the nodes whose file content changed (usually few)."""
    changed: dict[str, list[str]] = {}
    for (label, _), rows in graph.nodes.items():
        uids = [r["uid"] for r in rows if r["uid"] in previous and previous[r["uid"]] != fingerprints[r["uid"]]]
        for start in range(0, len(uids), BATCH):
            found = await store.execute("ifc/property_keys", {"uids": uids[start : start + BATCH]}, label=label)
            changed.update({row["uid"]: row["keys"] for row in found})
    return changed
