"""DTDL v3 interfaces for a model's element types (IFC classes), spaces and point classes (Brick), so
the twin can be mirrored into Azure Digital Twins.

The limits below are DTDL v3's (Azure/opendigitaltwins-dtdl, DTDL/v3/DTDL.v3.md: "Interface",
"Digital Twin Model Identifier", and the name rules of Telemetry/Property/Relationship).

Brick's classes form a graph of multiple inheritance (in Brick 1.4, 183 point and 42 equipment
classes have two or more parents; the deepest point class is 6 levels below brick:Point, with at
most 14 point classes in its ancestry). In DTDL that is at most 9 levels (kgtwin's Twin and Point
interfaces above Brick's, an IFC class beside it), and DTDL v3 allows several `extends` per
interface within 10 levels and 1,024 interfaces per hierarchy, so each Brick class becomes an
interface that extends its Brick parents, and only the classes the model uses and the classes above
them are written. Each property, property set and relationship is declared once, on the most
specific interface that every twin having it extends (a point's settings and latest value on the
Point interface), so no interface inherits one name from two places, whichever paths lead to it.
Where a class's hierarchy would exceed the limits (none of Brick 1.4's does), it keeps only the
parent on its longest path to the root, then skips levels. An IFC sensor that is also a Brick point
is one twin with one model: an interface of its own extends the IFC class and the Brick class.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kgtwin.config import Settings
from kgtwin.errors import KgtwinError
from kgtwin.export.rdf import EXPORT_LABELS, PAGE, UnknownModel
from kgtwin.model.brick import brick
from kgtwin.sources.rdf import TIME_KEYS, vocabulary_for
from kgtwin.store import GraphStore, Row

DTDL_CONTEXT = "dtmi:dtdl:context;3"
INTERFACE_ID_MAX = 128  # "The maximum length of a DTMI for an Interface is 128 characters."
EXTENDS_DEPTH_MAX = 10  # extends: "max depth of 10 levels"
EXTENDS_HIERARCHY_MAX = 1024  # extends: "max 1024 Interfaces in hierarchy"
CONTENTS_MAX = 100_000  # contents: "max 100,000 elements in hierarchy, including those imported via extends"
NAME_MAX = 512
DISPLAY_NAME_MAX = 64
DESCRIPTION_MAX = 512
SCHEMA_DEPTH_MAX = 5  # "the maximum depth of nested complex schemas is 5 levels"
NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")
DTMI = re.compile(
    r"^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*"
    r"(?:;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?)?$"
)
PRIMITIVES = frozenset(
    {"boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time"}
)
DTMI_ROOT = "dtmi:dev:kgtwin"  # reversed domain of kgtwin.dev

# Properties of every twin, of every element and of every point (the rest is read from the model).
TWIN_KEYS = {"name": "string", "description": "string", "uid": "string"}
ELEMENT_KEYS = {"globalId": "string", "ifcClass": "string", "status": "string"}
POINT_KEYS = {
    "pointId": "string",
    "unit": "string",
    "lastValue": "double",
    "lastTime": "dateTime",
    "lastQuality": "string",
    "expectedInterval": "double",
    "minLimit": "double",
    "maxLimit": "double",
}
SKIPPED_KEYS = frozenset({"model", "fingerprint", "loadId", "source", "brickClass", "recClass", "building", "storey"})
SKIPPED_KEYS |= {"space"}
KINDS = ("Site", "Building", "Storey", "Space", "Zone")
TWIN_LABELS = frozenset({*KINDS, "Element", "Point", "Equipment"})  # projects, types and the schedule are not twins


class DtdlError(KgtwinError):
    """The interfaces would break a DTDL v3 rule (a bug: kgtwin keeps within the limits)."""


def segment(text: str) -> str:
    """A DTMI path segment (letters, digits, underscores; a letter first, no underscore last)."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x" + cleaned
    return cleaned


def element_name(text: str) -> str:
    """A DTDL content name: the same rule as a segment, within 512 characters."""
    return segment(text)[:NAME_MAX].rstrip("_")


def _fit(prefix: str, last: str, version: int) -> str:
    """`prefix:last;version` within 128 characters: a long last segment keeps a digest of itself."""
    dtmi = f"{prefix}:{last};{version}"
    if len(dtmi) <= INTERFACE_ID_MAX:
        return dtmi
    digest = hashlib.blake2b(last.encode(), digest_size=4).hexdigest()
    room = INTERFACE_ID_MAX - len(prefix) - len(f";{version}") - len(digest) - 2
    return f"{prefix}:{last[:room].rstrip('_')}_{digest};{version}"


def schema_of(values: Iterable[Any], key: str = "") -> str | dict[str, Any]:
    """The DTDL schema that holds every value seen (numbers widen to double, mixes to string)."""
    kinds: set[str] = set()
    items: list[Any] = []
    for value in values:
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("dateTime" if key in TIME_KEYS or key.endswith(".time") else "long")
        elif isinstance(value, float):
            kinds.add("double" if math.isfinite(value) else "string")
        elif isinstance(value, list):
            kinds.add("array")
            items += value
        else:
            kinds.add("string")
    if kinds == {"array"}:
        element = schema_of(items, key)
        return {"@type": "Array", "elementSchema": element if isinstance(element, str) else "string"}
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {"long", "double"}:
        return "double"
    return "string"


@dataclass
class Interface:
    id: str
    display_name: str
    extends: list[str] = field(default_factory=list)
    description: str = ""
    contents: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@context": DTDL_CONTEXT,
            "@id": self.id,
            "@type": "Interface",
            "displayName": self.display_name[:DISPLAY_NAME_MAX],
        }
        if self.description:
            doc["description"] = self.description[:DESCRIPTION_MAX]
        if self.extends:
            doc["extends"] = sorted(self.extends)
        if self.contents:
            doc["contents"] = sorted(self.contents, key=lambda c: (c["@type"], c["name"]))
        return doc


@dataclass
class _Usage:
    """A property, property set or relationship as the model's nodes use it."""

    kind: str  # "Property", "Object" (a property set), "Relationship"
    interfaces: set[str] = field(default_factory=set)  # the interfaces of the twins that have it
    values: list[Any] = field(default_factory=list)
    fields: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    targets: set[str] = field(default_factory=set)


class DtdlModel:
    """The interfaces of one model, gathered from its nodes page by page.

    Each property, property set and relationship is declared once, on the most specific interface
    that every twin using it extends, so no interface inherits one name from two places.
    """

    def __init__(self, model: str, version: int = 1) -> None:
        self.version = version
        model_segment = segment(model)
        if len(model_segment) > 32:
            digest = hashlib.blake2b(model.encode(), digest_size=3).hexdigest()
            model_segment = f"{model_segment[:24].rstrip('_')}_{digest}"
        self.prefix = f"{DTMI_ROOT}:{model_segment}"
        self.interfaces: dict[str, Interface] = {}
        self.usage: dict[str, _Usage] = {}
        self.twin = self._interface("Twin", "Twin", [], "What every twin of the model has.")
        self.element = self._interface("bot:Element", "Element", [self.twin.id], "BOT element (an IFC element).")
        self.point = self._interface(
            "brick:Point",
            "Point",
            [self.twin.id],
            "Brick Point: the latest value as properties, readings as telemetry.",
        )
        self.equipment = self._interface("brick:Equipment", "Equipment", [self.twin.id], "Brick Equipment.")
        for base, keys in ((self.twin, TWIN_KEYS), (self.element, ELEMENT_KEYS), (self.point, POINT_KEYS)):
            base.contents += [{"@type": "Property", "name": name, "schema": schema} for name, schema in keys.items()]
        self.point.contents.append({"@type": "Telemetry", "name": "value", "schema": "double"})
        self.fixed = {c["name"] for i in self.interfaces.values() for c in i.contents}

    def id_of(self, key: str) -> str:
        *space, last = key.split(":")
        return _fit(":".join([self.prefix, *(segment(s) for s in space)]), segment(last), self.version)

    def _interface(self, key: str, display: str, extends: list[str], description: str) -> Interface:
        dtmi = self.id_of(key)
        if dtmi not in self.interfaces:
            self.interfaces[dtmi] = Interface(dtmi, display, extends, description)
        return self.interfaces[dtmi]

    def brick_class(self, name: str) -> Interface:
        """A Brick class and the classes above it, each extending its Brick parents."""
        tree = brick()
        root = tree.root_of(name)
        base = self.point if root == "Point" else self.equipment
        if name in ("Point", "Equipment") or root not in ("Point", "Equipment"):
            return base
        parents = [p for p in tree.parents.get(name, ()) if tree.root_of(p) == root]
        extends = [self.brick_class(p).id for p in parents] or [base.id]
        return self._interface(
            f"brick:{name}",
            name.replace("_", " "),
            extends,
            f"Brick {name} (https://brickschema.org/schema/Brick#{name}).",
        )

    def interface_of(self, labels: list[str], props: dict[str, Any]) -> Interface:
        """The one interface a node's twin is an instance of."""
        ifc_class, brick_class = props.get("ifcClass"), props.get("brickClass")
        is_point_or_equipment = "Point" in labels or "Equipment" in labels
        if "Element" in labels and ifc_class:
            element = self._interface(f"ifc:{ifc_class}", ifc_class, [self.element.id], f"IFC {ifc_class}.")
            if not is_point_or_equipment:
                return element
            brick_interface = self.brick_class(brick_class or ("Point" if "Point" in labels else "Equipment"))
            return self._interface(
                f"ifc:{ifc_class}:{brick_interface.id.split(':')[-1].split(';')[0]}",
                f"{ifc_class} {brick_interface.display_name}",
                [element.id, brick_interface.id],
                f"IFC {ifc_class} that is a {brick_interface.description or 'Brick entity.'}",
            )
        if is_point_or_equipment:
            return self.brick_class(brick_class or ("Point" if "Point" in labels else "Equipment"))
        kind = next((k for k in KINDS if k in labels), None)
        if kind is None:
            return self.twin
        return self._interface(f"bot:{kind}", kind, [self.twin.id], f"BOT {kind}.")

    def _use(self, name: str, kind: str, interface: str) -> _Usage:
        """The usage of a content name; a name already used for another kind gets a suffix."""
        while name in self.usage and self.usage[name].kind != kind:
            name = f"{name}_{kind.lower()}"
        usage = self.usage.setdefault(name, _Usage(kind))
        usage.interfaces.add(interface)
        return usage

    def add(self, row: Row) -> str:
        """Note what a node's twin has; returns the id of its interface."""
        labels, props = row["labels"], row["props"]
        interface = self.interface_of(labels, props).id
        for key, value in props.items():
            if value is None or key in SKIPPED_KEYS or key.startswith("unit.") or key in self.fixed:
                continue
            if key.startswith("pset."):
                set_name, _, prop = key[5:].partition(".")
                self._use(element_name(set_name), "Object", interface).fields[element_name(prop or set_name)].append(
                    value
                )
            else:
                self._use(element_name(key), "Property", interface).values.append(value)
        return interface

    def relate(self, start: str, name: str, end: str) -> None:
        self._use(element_name(name), "Relationship", start).targets.add(end)

    def ancestors(self, dtmi: str) -> set[str]:
        found, stack = {dtmi}, [dtmi]
        while stack:
            for parent in self.interfaces[stack.pop()].extends:
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    def depth(self, dtmi: str) -> int:
        return 1 + max((self.depth(p) for p in self.interfaces[dtmi].extends), default=0)

    def shared(self, interfaces: Iterable[str], prefer: str) -> Interface:
        """The most specific interface that all these interfaces extend (or are); between two as
        specific (an IFC sensor is an IfcSensor and a Brick sensor), the one whose id has `prefer`."""
        common = set.intersection(*(self.ancestors(i) for i in interfaces))
        return self.interfaces[max(common, key=lambda i: (self.depth(i), f":{prefer}:" in i, i))]

    def declare(self) -> None:
        for name, usage in sorted(self.usage.items()):
            owner = self.shared(usage.interfaces, prefer="ifc")  # what IFC elements have is IFC's
            if usage.kind == "Property":
                owner.contents.append({"@type": "Property", "name": name, "schema": schema_of(usage.values, name)})
            elif usage.kind == "Object":
                fields = [{"name": f, "schema": schema_of(v)} for f, v in sorted(usage.fields.items())]
                owner.contents.append(
                    {"@type": "Property", "name": name, "schema": {"@type": "Object", "fields": fields}}
                )
            else:
                relationship = {
                    "@type": "Relationship",
                    "name": name,
                    "target": self.shared(usage.targets, prefer="brick").id,
                }
                owner.contents.append(relationship)

    def fit_limits(self) -> None:
        """Keep every hierarchy within DTDL's depth and size limits: one parent (on the longest path),
        then fewer levels. Brick 1.4 needs neither; a deeper release would."""
        for interface in sorted(self.interfaces.values(), key=lambda i: i.id):
            while interface.extends and (
                self.depth(interface.id) > EXTENDS_DEPTH_MAX
                or len(self.ancestors(interface.id)) > EXTENDS_HIERARCHY_MAX
            ):
                if len(interface.extends) > 1:
                    interface.extends = [max(interface.extends, key=lambda p: (self.depth(p), p))]
                else:
                    interface.extends = list(self.interfaces[interface.extends[0]].extends)

    def documents(self) -> list[dict[str, Any]]:
        self.fit_limits()
        self.declare()
        return [interface.document() for interface in sorted(self.interfaces.values(), key=lambda i: i.id)]


async def dtdl_interfaces(store: GraphStore, model: str, settings: Settings, version: int = 1) -> list[dict[str, Any]]:
    """The DTDL v3 interfaces of a model: one per IFC element class, spatial kind and Brick class used."""
    if not 1 <= version <= 999_999_999:
        raise KgtwinError(f"DTDL version {version} is not between 1 and 999999999")
    if not await store.execute("export/model", {"model": model}):
        raise UnknownModel(f"no model {model!r} in the graph; `kgtwin query run store/models` lists them")
    vocab = vocabulary_for(settings)
    dtdl = DtdlModel(model, version)
    interface_of_uid: dict[str, str] = {}
    links: list[tuple[str, str, str]] = []
    types = [t for t in vocab.predicate if t != "HAS_TYPE"]  # element types are not twins
    for label, skip in EXPORT_LABELS:
        if label not in TWIN_LABELS:
            continue
        after = ""
        while True:
            params = {"model": model, "after": after, "limit": PAGE, "skip": list(skip), "types": types}
            rows = await store.execute("export/nodes", params, label=label)
            for row in rows:
                interface_of_uid[row["uid"]] = dtdl.add(row)
                links += [(row["uid"], link["type"], link["to"]) for link in row["links"]]
            if rows:
                after = rows[-1]["uid"]
            if len(rows) < PAGE:
                break
    for start, rel_type, end in links:
        if start in interface_of_uid and end in interface_of_uid:
            name = re.split(r"[#/]", str(vocab.predicate[rel_type]))[-1]
            dtdl.relate(interface_of_uid[start], name, interface_of_uid[end])
    docs = dtdl.documents()
    problems = check_dtdl(docs)
    if problems:
        raise DtdlError(f"the DTDL for {model!r} breaks DTDL v3: {problems[0]}")
    return docs


def dtdl_json(docs: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(docs, option=orjson.OPT_INDENT_2) + b"\n"


def check_dtdl(docs: list[dict[str, Any]]) -> list[str]:
    """Every DTDL v3 rule kgtwin's interfaces could break: ids, names, schemas, extends limits."""
    problems: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for doc in docs:
        dtmi = doc.get("@id", "")
        if dtmi in by_id:
            problems.append(f"{dtmi}: defined twice")
        by_id[dtmi] = doc
        if doc.get("@context") != DTDL_CONTEXT or doc.get("@type") != "Interface":
            problems.append(f"{dtmi}: not a DTDL v3 Interface")
        if not DTMI.match(dtmi) or ";" not in dtmi:
            problems.append(f"{dtmi}: not a versioned DTMI")
        if len(dtmi) > INTERFACE_ID_MAX:
            problems.append(f"{dtmi}: longer than {INTERFACE_ID_MAX} characters")
        if any(part.startswith("_") for part in dtmi.split(";")[0].split(":")) or dtmi.startswith(
            ("dtmi:dtdl:", "dtmi:standard:")
        ):
            problems.append(f"{dtmi}: a system or reserved DTMI")
        if len(doc.get("displayName", "")) > DISPLAY_NAME_MAX:
            problems.append(f"{dtmi}: displayName longer than {DISPLAY_NAME_MAX}")
        if len(doc.get("description", "")) > DESCRIPTION_MAX:
            problems.append(f"{dtmi}: description longer than {DESCRIPTION_MAX}")
        for element in doc.get("contents", []):
            problems += _check_element(dtmi, element)
    for dtmi, doc in by_id.items():
        missing = [p for p in doc.get("extends", []) if p not in by_id]
        if missing:
            problems.append(f"{dtmi}: extends {missing[0]}, which is not defined")
            continue
        depth, hierarchy = _hierarchy(dtmi, by_id)
        if depth > EXTENDS_DEPTH_MAX:
            problems.append(f"{dtmi}: extends {depth} levels deep (DTDL v3: at most {EXTENDS_DEPTH_MAX})")
        if len(hierarchy) > EXTENDS_HIERARCHY_MAX:
            problems.append(f"{dtmi}: {len(hierarchy)} interfaces in its hierarchy (at most {EXTENDS_HIERARCHY_MAX})")
        names: dict[str, str] = {}
        count = 0
        for ancestor in sorted(hierarchy | {dtmi}):
            for element in by_id[ancestor].get("contents", []):
                count += 1 + _nested(element)
                if element["name"] in names and names[element["name"]] != ancestor:
                    problems.append(
                        f"{dtmi}: content {element['name']!r} from both {names[element['name']]} and {ancestor}"
                    )
                names.setdefault(element["name"], ancestor)
        if count > CONTENTS_MAX:
            problems.append(f"{dtmi}: {count} content elements (at most {CONTENTS_MAX})")
    return problems


def _hierarchy(dtmi: str, by_id: dict[str, dict[str, Any]]) -> tuple[int, set[str]]:
    def depth(node: str) -> int:
        return 1 + max((depth(p) for p in by_id[node].get("extends", []) if p in by_id), default=0)

    found, stack = {dtmi}, [dtmi]
    while stack:
        for parent in by_id[stack.pop()].get("extends", []):
            if parent in by_id and parent not in found:
                found.add(parent)
                stack.append(parent)
    return depth(dtmi) - 1, found - {dtmi}


def _check_element(dtmi: str, element: dict[str, Any]) -> list[str]:
    problems = []
    kind, name = element.get("@type"), element.get("name", "")
    if kind not in ("Property", "Telemetry", "Relationship", "Command", "Component"):
        problems.append(f"{dtmi}: content of unknown type {kind!r}")
    if not NAME.match(name) or len(name) > NAME_MAX:
        problems.append(f"{dtmi}: content name {name!r} breaks DTDL's name rule")
    if kind in ("Property", "Telemetry"):
        problems += _check_schema(f"{dtmi}/{name}", element.get("schema"), 1)
    if kind == "Relationship" and "target" in element and not DTMI.match(element["target"]):
        problems.append(f"{dtmi}/{name}: target {element['target']!r} is not a DTMI")
    return problems


def _check_schema(where: str, schema: Any, depth: int) -> list[str]:
    if isinstance(schema, str):
        return [] if schema in PRIMITIVES else [f"{where}: schema {schema!r} is not a DTDL primitive"]
    if not isinstance(schema, dict):
        return [f"{where}: no schema"]
    if depth > SCHEMA_DEPTH_MAX:
        return [f"{where}: complex schemas nested deeper than {SCHEMA_DEPTH_MAX}"]
    if schema.get("@type") == "Array":
        return _check_schema(where, schema.get("elementSchema"), depth + 1)
    if schema.get("@type") == "Object":
        problems, seen = [], set()
        for item in schema.get("fields", []):
            name = item.get("name", "")
            if not NAME.match(name) or name in seen:
                problems.append(f"{where}: field name {name!r} is not a unique DTDL name")
            seen.add(name)
            problems += _check_schema(f"{where}.{name}", item.get("schema"), depth + 1)
        return problems
    return [f"{where}: unknown complex schema {schema.get('@type')!r}"]


def _nested(element: dict[str, Any]) -> int:
    schema = element.get("schema")
    if isinstance(schema, dict):
        return (
            1
            + sum(1 + _nested(f) for f in schema.get("fields", []))
            + (_nested({"schema": schema["elementSchema"]}) if "elementSchema" in schema else 0)
        )
    return 0
