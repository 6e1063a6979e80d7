"""A model as the loaders build it before writing: nodes grouped by labels, relationships by type."""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson

# Keys a model file states about a node; everything else on a node (status, latest values,
# bindings) was written by the field or by users and survives a reload.
FILE_KEY_PREFIXES = ("pset.", "unit.")
FILE_KEYS = frozenset(
    {
        "globalId",
        "name",
        "description",
        "ifcClass",
        "longName",
        "objectType",
        "tag",
        "predefinedType",
        "compositionType",
        "materials",
        "classification",
        "elevation",
        "footprint",  # [min x, min y, max x, max y] in metres, world coordinates (spaces, storeys)
        "brickClass",
        "phase",
        "schema",
        "identification",
        "isMilestone",
        "durationType",
        "durationHours",
        "scheduleStart",
        "scheduleFinish",
        "datesDerived",
        "actualStart",
        "actualFinish",
        "percentComplete",
        "summary",
        "startTime",
        "finishTime",
        "calendar",
        "elementType",  # uid of the element's type, so KPIs can be scoped to a type by a property
        # where a node is: uids of its building, storey and space (see LOCATION_KEYS)
        "building",
        "storey",
        "space",
    }
)
# Denormalised location: scoped API keys, subscriptions and roll-ups filter on a property
# instead of walking the spatial tree for every node.
LOCATION_KEYS = ("building", "storey", "space")


def is_file_key(key: str) -> bool:
    return key in FILE_KEYS or key.startswith(FILE_KEY_PREFIXES)


NodeKey = tuple[str, tuple[str, ...]]  # (the keyed label carrying uid, extra labels)
RelKey = tuple[str, str, str]  # (type, start label, end label)


@dataclass
class ModelGraph:
    model: str
    nodes: dict[NodeKey, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    rels: dict[RelKey, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    label_of: dict[str, str] = field(default_factory=dict)  # uid -> keyed label
    props_of: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> the row's properties
    _rel_seen: set[tuple[str, str, str]] = field(default_factory=set)

    def uid(self, local_id: str) -> str:
        return f"{self.model}:{local_id}"

    def add_node(self, label: str, uid: str, props: dict[str, Any], extra_labels: tuple[str, ...]) -> None:
        """`extra_labels` says what the node is besides its keyed label (its IFC class at least)."""
        if not extra_labels:
            raise ValueError(f"node {uid} needs at least one label besides {label}")
        if uid in self.label_of:
            return  # the same entity reached twice (e.g. through two relationships)
        self.label_of[uid] = label
        props = {k: v for k, v in props.items() if v is not None and v != [] and v != ""}
        stray = [k for k in props if not is_file_key(k)]
        if stray:
            raise ValueError(f"node {uid}: {stray} are not keys a model file states (see FILE_KEYS)")
        props["model"] = self.model
        self.props_of[uid] = props
        self.nodes[(label, tuple(sorted(set(extra_labels) - {label})))].append({"uid": uid, "props": props})

    def add_rel(self, rel_type: str, start: str, end: str, props: dict[str, Any] | None = None) -> bool:
        """Link two nodes already added; False (and nothing added) when either is unknown."""
        if start not in self.label_of or end not in self.label_of:
            return False
        if (rel_type, start, end) in self._rel_seen:
            return True
        self._rel_seen.add((rel_type, start, end))
        key = (rel_type, self.label_of[start], self.label_of[end])
        self.rels[key].append({"start": start, "end": end, "props": props or {}})
        return True

    def locate(self) -> None:
        """Give every node under a building the uids of its building, storey and space.

        Walks down the spatial tree and containment (parts, points, openings and what fills them
        follow their host); the first place a node is reached from wins, so an element both
        contained in a storey and a part of something elsewhere is located once.
        """
        down: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for (rel_type, _, _), rows in self.rels.items():
            if rel_type in ("HAS_STOREY", "HAS_SPACE", "CONTAINS_ELEMENT", "HAS_SUB_ELEMENT", "HAS_POINT"):
                for row in rows:
                    down[row["start"]].append((rel_type, row["end"]))
            elif rel_type in ("VOIDS", "FILLS"):  # an opening is where its wall is, a door where its opening is
                for row in rows:
                    down[row["end"]].append((rel_type, row["start"]))
        roots = [uid for uid, label in self.label_of.items() if label == "Building"]
        seen = set(roots)
        queue = deque((uid, {"building": uid}) for uid in roots)
        while queue:
            uid, where = queue.popleft()
            for _, child in down.get(uid, ()):
                if child in seen:
                    continue
                seen.add(child)
                place = dict(where)
                self.props_of[child].update(place)
                label = self.label_of[child]
                if label == "Storey":
                    place = {"building": place["building"], "storey": child}
                elif label == "Space":
                    place = {**place, "space": child}
                queue.append((child, place))

    def count(self, label: str) -> int:
        return sum(len(rows) for (key, extra), rows in self.nodes.items() if label == key or label in extra)

    def count_rels(self, rel_type: str) -> int:
        return sum(len(rows) for (t, _, _), rows in self.rels.items() if t == rel_type)

    def fingerprints(self) -> dict[str, str]:
        """A digest per node of what the file says about it (properties, labels, outgoing links)."""
        outgoing: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for (rel_type, _, _), rows in self.rels.items():
            for row in rows:
                outgoing[row["start"]].append((rel_type, row["end"]))
        digests = {}
        for (label, extra), rows in self.nodes.items():
            for row in rows:
                payload = orjson.dumps(
                    [label, extra, row["props"], sorted(outgoing.get(row["uid"], []))],
                    option=orjson.OPT_SORT_KEYS,
                )
                digests[row["uid"]] = hashlib.blake2b(payload, digest_size=12).hexdigest()
        return digests
