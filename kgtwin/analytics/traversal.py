"""Walking the graph from a node: its neighbourhood to any depth, and the shortest path to another node.

Both are breadth-first walks, one round trip per step (`api/expand` moves a whole frontier at
once), so they run on either engine without variable-length patterns, whose cost grows with the
number of paths rather than the number of nodes. What bounds a walk is a budget of nodes, not a
number of hops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kgtwin.errors import KgtwinError
from kgtwin.store import GraphStore


class WalkError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class Reached:
    """A node reached by a walk: how far, and by which relationship from which node."""

    uid: str | None
    labels: list[str]
    name: str | None
    model: str | None
    building: str | None
    distance: int
    via: str | None = None  # relationship type of the last step
    outgoing: bool | None = None  # whether that step followed the relationship's direction
    from_uid: str | None = None


@dataclass
class Walk:
    start: Reached
    reached: list[Reached] = field(default_factory=list)
    truncated: bool = False  # the node budget ran out before the depth did


async def _start(store: GraphStore, uid: str) -> tuple[int, Reached]:
    rows = await store.execute("api/start_ids", {"uid": uid})
    if not rows:
        raise WalkError(f"no node with uid {uid!r}")
    r = rows[0]
    return r["id"], Reached(r["uid"], r["labels"], r["name"], r["model"], r["building"], 0)


async def neighbourhood(
    store: GraphStore,
    uid: str,
    depth: int,
    *,
    types: Sequence[str] | None = None,
    budget: int = 10_000,
    visible: Callable[[Reached], bool] = lambda _: True,
) -> Walk:
    """Every node within `depth` steps of `uid` (either direction), nearest first, up to `budget` nodes."""
    if depth < 1:
        raise WalkError("depth must be at least 1")
    start_id, start = await _start(store, uid)
    walk = Walk(start)
    seen = {start_id}
    uid_of = {start_id: start.uid}
    frontier = [start_id]
    for distance in range(1, depth + 1):
        if not frontier:
            break
        rows = await store.execute("api/expand", {"ids": frontier, "types": list(types) if types else None})
        next_frontier = []
        for row in rows:
            target = row["target"]
            if target in seen:
                continue
            seen.add(target)
            reached = Reached(
                row["uid"],
                row["labels"],
                row["name"],
                row["model"],
                row["building"],
                distance,
                row["type"],
                row["outgoing"],
                uid_of.get(row["source"]),
            )
            if not visible(reached):
                continue
            uid_of[target] = row["uid"]
            walk.reached.append(reached)
            next_frontier.append(target)
            if len(walk.reached) >= budget:
                walk.truncated = True
                return walk
        frontier = next_frontier
    return walk


@dataclass(frozen=True)
class Step:
    node: Reached
    via: str | None  # relationship type from the previous node
    outgoing: bool | None


async def shortest_path(
    store: GraphStore,
    source: str,
    target: str,
    *,
    max_hops: int = 50,
    budget: int = 100_000,
    types: Sequence[str] | None = None,
) -> list[Step] | None:
    """The nodes on a shortest path between two nodes (either direction), or None within the bounds."""
    start_id, start = await _start(store, source)
    if source == target:
        return [Step(start, None, None)]
    parent: dict[int, tuple[int | None, Reached, str | None, bool | None]] = {start_id: (None, start, None, None)}
    frontier = [start_id]
    for _ in range(max_hops):
        if not frontier:
            return None
        rows = await store.execute("api/expand", {"ids": frontier, "types": list(types) if types else None})
        next_frontier = []
        for row in rows:
            node_id = row["target"]
            if node_id in parent:
                continue
            reached = Reached(row["uid"], row["labels"], row["name"], row["model"], row["building"], 0)
            parent[node_id] = (row["source"], reached, row["type"], row["outgoing"])
            if row["uid"] == target:
                return _unwind(parent, node_id)
            next_frontier.append(node_id)
            if len(parent) > budget:
                raise WalkError(f"no path within {budget} nodes; narrow it with relationship types")
        frontier = next_frontier
    return None


def _unwind(parent: dict[int, tuple[int | None, Reached, str | None, bool | None]], last: int) -> list[Step]:
    steps: list[Step] = []
    current: int | None = last
    while current is not None:
        previous, node, via, outgoing = parent[current]
        steps.append(Step(node, via, outgoing))
        current = previous
    steps.reverse()
    return [Step(replace(s.node, distance=i), s.via, s.outgoing) for i, s in enumerate(steps)]


def as_row(reached: Reached) -> dict[str, Any]:
    return {
        "labels": reached.labels,
        "props": {"uid": reached.uid, "name": reached.name, "model": reached.model, "building": reached.building},
    }
