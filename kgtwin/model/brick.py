"""Brick's class tree, read from the Brick release that the brickschema package bundles (offline).

Points carry their own Brick class in `brickClass`; a question about a class ("every
Temperature_Sensor") means that class and every subclass of it, which this module answers
with the names as query parameters. Reading Brick.ttl takes seconds, so the tree is kept as a
small JSON file in the user's cache, keyed by the brickschema version.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata, resources
from pathlib import Path

import orjson

from kgtwin.errors import KgtwinError

BRICK_VERSION = "1.4"
BRICK_NS = "https://brickschema.org/schema/Brick#"
ROOTS = ("Point", "Equipment", "Location")


class UnknownBrickClass(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class BrickTree:
    parents: dict[str, tuple[str, ...]]  # class -> direct superclasses (Brick classes only)
    deprecated: dict[str, str | None]  # deprecated class -> the class that replaces it, when Brick says
    children: dict[str, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        children: dict[str, list[str]] = defaultdict(list)
        for child, parents in self.parents.items():
            for parent in parents:
                children[parent].append(child)
        object.__setattr__(self, "children", dict(children))

    def is_class(self, name: str) -> bool:
        return name in self.parents

    def superclasses(self, name: str) -> frozenset[str]:
        """The class and every class above it."""
        found, stack = {name}, [name]
        while stack:
            for parent in self.parents.get(stack.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return frozenset(found)

    def subclasses(self, name: str) -> frozenset[str]:
        """The class and every class below it."""
        found, stack = {name}, [name]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return frozenset(found)

    def root_of(self, name: str) -> str | None:
        """Point, Equipment or Location: what kind of thing a class describes."""
        above = self.superclasses(name)
        return next((root for root in ROOTS if root in above), None)

    def require(self, name: str) -> str:
        if not self.is_class(name):
            raise UnknownBrickClass(
                f"{name!r} is not a Brick {BRICK_VERSION} class (names are like Air_Temperature_Sensor)"
            )
        return name


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kgtwin" / f"brick-{BRICK_VERSION}-brickschema-{metadata.version('brickschema')}.json"


def _read_brick() -> BrickTree:
    import rdflib
    from rdflib.namespace import OWL, RDF, RDFS

    source = resources.files("brickschema") / "ontologies" / BRICK_VERSION / "Brick.ttl"
    graph = rdflib.Graph()
    with resources.as_file(source) as path:
        graph.parse(path, format="turtle")
    replaced_by = rdflib.URIRef(BRICK_NS + "isReplacedBy")

    def local(term: rdflib.term.Node) -> str | None:
        text = str(term)
        return text[len(BRICK_NS) :] if text.startswith(BRICK_NS) else None

    parents: dict[str, set[str]] = defaultdict(set)
    for cls in graph.subjects(RDF.type, OWL.Class):
        name = local(cls)
        if name is None:
            continue
        parents[name]
        for parent in graph.objects(cls, RDFS.subClassOf):
            parent_name = local(parent)
            if parent_name:
                parents[name].add(parent_name)
    deprecated: dict[str, str | None] = {}
    for cls in graph.subjects(OWL.deprecated, rdflib.Literal(True)):
        name = local(cls)
        if name:
            replacement = next(iter(graph.objects(cls, replaced_by)), None)
            deprecated[name] = local(replacement) if replacement is not None else None
    return BrickTree({k: tuple(sorted(v)) for k, v in parents.items()}, deprecated)


@cache
def brick() -> BrickTree:
    """Brick's class tree (read once per process; from the cache file when it is there)."""
    path = _cache_file()
    try:
        data = orjson.loads(path.read_bytes())
        return BrickTree({k: tuple(v) for k, v in data["parents"].items()}, data["deprecated"])
    except (OSError, ValueError, KeyError):
        pass
    tree = _read_brick()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps({"parents": tree.parents, "deprecated": tree.deprecated}))
        temporary.replace(path)
    except OSError:
        pass  # a read-only home: the tree is read again next time, nothing else changes
    return tree
