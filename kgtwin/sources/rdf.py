"""Brick and BOT models in RDF into the graph, and the RDF vocabulary that the export shares with it.

One mapping serves both directions, read from `ontology/alignment.yaml`: graph labels are BOT,
RealEstateCore and Brick classes, relationship types are predicates, units are QUDT units, and
node properties are literals. Instances are named `<KGTWIN_RDF_BASE><model>/<GlobalId>`, so an
export read back names the same nodes, and a Brick model that names kgtwin's IRIs (or an IFC
GlobalId through Brick's `ref:IFCReference`) binds to the spaces and elements already loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.term import Node

from kgtwin.config import Settings
from kgtwin.errors import KgtwinError
from kgtwin.model.alignment import Alignment, alignment
from kgtwin.model.brick import BRICK_NS, BRICK_VERSION, brick
from kgtwin.model.schema import INDEXES, MODEL_LABELS
from kgtwin.sources.sensors import units as unit_registry
from kgtwin.store import GraphStore
from kgtwin.store.queries import named as named_query

Triple = tuple[Node, Node, Node]
# The labels of what Brick lets have points: equipment and locations.
HAS_POINTS = frozenset({"Equipment", "Site", "Building", "Storey", "Space", "Zone"})

# Node properties that are not literals of their own: identity, where a node is (derived again
# from the relationships on import), loader bookkeeping, and what the classes already say.
NOT_LITERALS = frozenset(
    {"uid", "model", "fingerprint", "loadId", "source", "building", "storey", "space", "brickClass", "ifcClass"}
    | {"recClass", "globalId", "name", "description", "unit"}
    # a box as four ordered numbers (the API's footprint): repeated literals would lose the order
    | {"footprint"}
)
# Epoch-millisecond properties, written as xsd:dateTime (and bound properties' `<name>.time`).
TIME_KEYS = frozenset(
    {"lastTime", "scheduleStart", "scheduleFinish", "actualStart", "actualFinish", "startTime", "finishTime"}
    | {"removedAt", "loadedAt", "importedAt", "statusTime"}
)
LIST_KEYS = frozenset({"materials", "classification"})
# Relationships whose properties say something a user relies on: each such link is also written
# as a node of its own (`<start>#<type>-<end id>`) carrying them.
QUALIFIED = {"HAS_POINT": ("property", "unit", "scale", "offset"), "PRECEDES": ("type", "lagHours")}


class RdfImportError(KgtwinError):
    """The file cannot be read as RDF; nothing was written."""

    exit_code = 2


def epoch_ms_to_literal(value: int) -> Literal:
    moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    return Literal(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), datatype=XSD.dateTime)


def literal_to_epoch_ms(value: Literal) -> int | None:
    moment = value.toPython()
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return round(moment.timestamp() * 1000)
    return None


def unit_key(text: str) -> str:
    """A unit as written (degC, °C, degree_Celsius) in one spelling, so that equal units compare equal."""
    try:
        return str(unit_registry.Unit(text))
    except Exception:  # IFC property sets write m2 and m3, which pint does not read
        return text


class Vocabulary:
    """kgtwin's graph as RDF terms, both ways: labels and classes, types and predicates, units."""

    def __init__(self, align: Alignment, rdf_base: str, public_url: str) -> None:
        self.align = align
        self.base = rdf_base
        self.public_url = public_url.rstrip("/")
        ns = {prefix: rdflib.Namespace(iri) for prefix, iri in align.namespaces.items()}
        self.ns = ns
        self.bot, self.brick, self.rec = ns["bot"], ns["brick"], ns["rec"]
        self.ref, self.ifc, self.unit, self.kgtwin = ns["ref"], ns["ifc"], ns["unit"], ns["kgtwin"]
        self.label_class = {label: URIRef(align.expand(spec["class"])) for label, spec in align.labels.items()}
        self.label_rec_class = {
            label: URIRef(align.expand(spec["brick"])) for label, spec in align.labels.items() if "brick" in spec
        }
        self.predicate = {rel: URIRef(align.expand(spec["predicate"])) for rel, spec in align.relationships.items()}
        # one predicate may stand for two types (containment and reference are both containsElement):
        # read back, it is the first type the alignment lists for it
        self.type_of: dict[URIRef, str] = {}
        self.inverse_type_of: dict[URIRef, str] = {}
        for rel, spec in align.relationships.items():
            self.type_of.setdefault(self.predicate[rel], rel)
            if "inverse" in spec:
                self.inverse_type_of[URIRef(align.expand(spec["inverse"]))] = rel
        # a point of something Brick does not let have points (neither equipment nor a location)
        self.hosts = URIRef(align.expand(align.element_points["predicate"]))
        self.type_of[self.hosts] = "HAS_POINT"
        self.inverse_type_of[URIRef(align.expand(align.element_points["inverse"]))] = "HAS_POINT"
        self.qudt_of: dict[str, URIRef] = {}
        self.unit_of: dict[URIRef, str] = {}
        for qudt, written in align.qudt_units.items():
            self.qudt_of.setdefault(unit_key(written), self.unit[qudt])
            self.unit_of[self.unit[qudt]] = written

    # --- names -----------------------------------------------------------------------------------

    def model_iri(self, model: str) -> str:
        return f"{self.base}{quote(model, safe='')}/"

    def node_iri(self, model: str, uid: str) -> URIRef:
        """`<base><model>/<GlobalId>`; a uid not scoped to the model (a registry point) as `.../uid/<uid>`."""
        prefix = f"{model}:"
        if uid.startswith(prefix):
            return URIRef(self.model_iri(model) + quote(uid[len(prefix) :], safe=""))
        return URIRef(self.model_iri(model) + "uid/" + quote(uid, safe=""))

    def uid_of(self, iri: str, model: str) -> str | None:
        """The uid an IRI of kgtwin's names in `model` (whatever model it was exported from), else None."""
        if not iri.startswith(self.base) or "#" in iri:
            return None
        _, slash, local = iri[len(self.base) :].partition("/")
        if not slash or not local:
            return None
        if local.startswith("uid/"):
            return unquote(local[4:])
        return None if "/" in local else f"{model}:{unquote(local)}"

    def timeseries_url(self, uid: str) -> str:
        return f"{self.public_url}/timeseries/{quote(uid, safe='')}"

    def property_predicate(self, key: str) -> URIRef:
        return self.kgtwin[quote(key, safe="._-")]

    def property_key(self, predicate: URIRef) -> str | None:
        text = str(predicate)
        return unquote(text[len(str(self.kgtwin)) :]) if text.startswith(str(self.kgtwin)) else None

    # --- values ----------------------------------------------------------------------------------

    def literal(self, key: str, value: Any) -> Literal | None:
        if isinstance(value, bool):
            return Literal(value)
        if isinstance(value, int) and (key in TIME_KEYS or key.endswith(".time")):
            return epoch_ms_to_literal(value)
        if isinstance(value, float) and not math.isfinite(value):
            return None  # RDF has no literal every reader takes for NaN or infinity
        if isinstance(value, (int, float)):
            return Literal(value)
        return Literal(str(value))

    def value_of(self, key: str, literal: Literal) -> Any:
        if literal.datatype == XSD.dateTime:
            return literal_to_epoch_ms(literal)
        value = literal.toPython()
        return str(value) if isinstance(value, (Literal, dt.date, dt.time)) else value

    def qudt(self, written: str | None) -> URIRef | None:
        return self.qudt_of.get(unit_key(written)) if written else None


@cache
def vocabulary(rdf_base: str, public_url: str) -> Vocabulary:
    return Vocabulary(alignment(), rdf_base, public_url)


def vocabulary_for(settings: Settings) -> Vocabulary:
    return vocabulary(settings.rdf_base, settings.public_url)


# --- reading RDF -----------------------------------------------------------------------------------

RDF_FORMATS = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".ntriples": "nt",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
    ".n3": "n3",
}


def read_rdf(path: Path) -> rdflib.Graph:
    """Parse an RDF file by its suffix, with one line for every way that can fail."""
    path = Path(path)
    if not path.exists():
        raise RdfImportError(f"{path}: no such file")
    if path.is_dir():
        raise RdfImportError(f"{path}: is a folder, not an RDF file")
    fmt = RDF_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise RdfImportError(f"{path}: unknown RDF format; name the file .ttl, .nt, .jsonld or .rdf")
    graph = rdflib.Graph()
    try:
        graph.parse(path, format=fmt)
    except Exception as exc:  # rdflib's parsers raise many kinds of errors, all with a message
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RdfImportError(f"{path}: not valid {fmt} ({message}); nothing was imported") from None
    return graph


# --- Brick and RealEstateCore classes --------------------------------------------------------------

KEYED_ORDER = (*MODEL_LABELS, "Point", "Equipment")
LOCATION_LABELS = ("Site", "Building", "Storey", "Space", "Zone")


@dataclass(frozen=True)
class RecTree:
    """RealEstateCore's classes as the bundled Brick carries them, and the rec class that replaces
    each deprecated Brick location class (brick:Floor -> rec:Level)."""

    parents: dict[str, tuple[str, ...]]
    replaced_by: dict[str, str]

    def above(self, name: str) -> list[str]:
        """The class and the classes above it, nearest first."""
        found, queue = [name], deque([name])
        while queue:
            for parent in self.parents.get(queue.popleft(), ()):
                if parent not in found:
                    found.append(parent)
                    queue.append(parent)
        return found


@cache
def rec_tree() -> RecTree:
    from importlib import metadata

    import orjson

    cache_dir = Path.home() / ".cache" / "kgtwin"
    path = cache_dir / f"rec-{BRICK_VERSION}-brickschema-{metadata.version('brickschema')}.json"
    try:
        data = orjson.loads(path.read_bytes())
        return RecTree({k: tuple(v) for k, v in data["parents"].items()}, data["replaced_by"])
    except (OSError, ValueError, KeyError):
        pass
    rec = alignment().namespaces["rec"]
    graph = rdflib.Graph()
    with resources.as_file(resources.files("brickschema") / "ontologies" / BRICK_VERSION / "Brick.ttl") as source:
        graph.parse(source, format="turtle")
    parents: dict[str, list[str]] = defaultdict(list)
    for child, parent in graph.subject_objects(RDFS.subClassOf):
        if str(child).startswith(rec) and str(parent).startswith(rec):
            parents[str(child)[len(rec) :]].append(str(parent)[len(rec) :])
    replaced_by = {
        str(old)[len(BRICK_NS) :]: str(new)[len(rec) :]
        for old, new in graph.subject_objects(URIRef(BRICK_NS + "isReplacedBy"))
        if str(old).startswith(BRICK_NS) and str(new).startswith(rec)
    }
    tree = RecTree({k: tuple(sorted(v)) for k, v in parents.items()}, replaced_by)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps({"parents": tree.parents, "replaced_by": tree.replaced_by}))
        temporary.replace(path)
    except OSError:
        pass  # a read-only home: read again next time
    return tree


# Brick's namespace, and the versioned ones of Brick 1.0 (https://brickschema.org/schema/1.0.2/Brick#)
_BRICK_CLASS = re.compile(r"^https?://brickschema\.org/schema/(?:\d+(?:\.\d+)*/)?Brick#(\w+)$")


def brick_class_name(iri: str) -> str | None:
    match = _BRICK_CLASS.match(iri)
    return match.group(1) if match else None


def brick_class_for(name: str, aliases: dict[str, str]) -> tuple[str | None, str]:
    """The Brick 1.4 class a class name of any Brick release stands for, and how it was found:
    'as is', 'alias' (the alignment's table), 'replaced' (Brick's isReplacedBy) or 'broader'
    (the nearest Brick class that ends the name). (None, 'unknown') when there is none."""
    tree, how, seen = brick(), "as is", set()
    while name not in seen:
        seen.add(name)
        if name in aliases:
            name, how = aliases[name], "alias"
        elif tree.is_class(name) and tree.deprecated.get(name):
            name, how = tree.deprecated[name] or name, "replaced"
        elif tree.is_class(name):
            return name, how
    words = name.split("_")
    for start in range(1, len(words)):
        broader = "_".join(words[start:])
        if tree.is_class(broader) and broader not in tree.deprecated and tree.root_of(broader):
            return broader, "broader"
    return None, "unknown"


# --- import ----------------------------------------------------------------------------------------

EXAMPLES = 5


@dataclass
class Unmapped:
    """One kind of thing an import could not bring in: how many, and a few of them."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class ImportReport:
    model: str
    file: str
    triples: int = 0
    nodes: Counter[str] = field(default_factory=Counter)  # new or updated, by label
    bound: Counter[str] = field(default_factory=Counter)  # resources naming nodes the graph holds, by label
    links: Counter[str] = field(default_factory=Counter)  # by relationship type
    classes: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (class, Brick 1.4 class, how)
    repaired: dict[str, Unmapped] = field(default_factory=dict)  # mapped, but not as the file said
    unmapped: dict[str, Unmapped] = field(default_factory=dict)
    seconds: float = 0.0

    def note(self, kind: str, example: str, *, repaired: bool = False) -> None:
        (self.repaired if repaired else self.unmapped).setdefault(kind, Unmapped()).add(example)


@dataclass
class _Resource:
    """A resource of the file that becomes (or names) a node of the graph."""

    uid: str
    label: str
    extra: tuple[str, ...]
    props: dict[str, Any]
    existing: bool = False


class RdfModelReader:
    """Turns an RDF graph into the nodes and relationships of one graph model, reporting the rest."""

    def __init__(self, graph: rdflib.Graph, model: str, vocab: Vocabulary, report: ImportReport) -> None:
        self.graph = graph
        self.model = model
        self.v = vocab
        self.report = report
        self.align = vocab.align
        self.class_label = {cls: label for label, cls in vocab.label_class.items()}
        self.resources: dict[Node, _Resource] = {}
        self.links: dict[tuple[str, str, str], dict[str, Any]] = {}  # (type, start uid, end uid) -> props
        self._local_uids: dict[str, Node] = {}
        self.namespaces = sorted((str(ns) for _, ns in graph.namespaces() if str(ns)[-1:] in "#/"), key=len)[::-1]
        ref = vocab.ref
        # statements read with the node, reference or link they belong to
        self.read_with_node = {RDF.type, RDFS.label, RDFS.comment, vocab.brick.hasUnit, ref.hasExternalReference}
        self.read_with_node |= {ref.ifcGlobalID, ref.ifcProjectID, ref.ifcFileLocation, ref.hasIfcProjectReference}
        self.read_with_node |= {ref.hasTimeseriesId, ref.storedAt}

    # classes ------------------------------------------------------------------------------------

    def location_label(self, rec_class: str) -> str | None:
        for above in rec_tree().above(rec_class):
            label = self.align.locations.get(f"rec:{above}")
            if label:
                return label
        return None

    def classify(self, subject: Node) -> tuple[str, tuple[str, ...], dict[str, Any]] | None:
        """The keyed label, the other labels and the class properties of a typed resource."""
        v, labels, props = self.v, set(), {}
        for cls in sorted(self.graph.objects(subject, RDF.type), key=str):
            text = str(cls)
            if cls in self.class_label and self.class_label[cls] not in ("Point", "Equipment"):
                labels.add(self.class_label[cls])
            elif text.startswith(str(v.ifc)):
                props["ifcClass"] = text[len(str(v.ifc)) :]
            elif text.startswith(str(v.rec)):
                self._add_location(text[len(str(v.rec)) :], labels, props)
            elif (brick_name := brick_class_name(text)) is not None:
                self._add_brick(subject, brick_name, labels, props)
        keyed = next((label for label in KEYED_ORDER if label in labels), None)
        if keyed is None:
            return None
        extra = {label for label in labels if label != keyed and label in ("Point", "Equipment")}
        extra |= {props[k] for k in ("ifcClass", "brickClass") if props.get(k)}
        return keyed, (keyed, *sorted(extra)), props

    def _add_location(self, rec_class: str, labels: set[str], props: dict[str, Any]) -> None:
        label = self.location_label(rec_class)
        if label is None:
            return
        labels.add(label)
        if rec_class != self.v.label_rec_class[label].split("#")[-1]:
            props["recClass"] = rec_class

    def _add_brick(self, subject: Node, name: str, labels: set[str], props: dict[str, Any]) -> None:
        found, how = brick_class_for(name, self.align.brick_aliases)
        if found is None:
            self.report.note("class not in Brick 1.4", f"{subject} a brick:{name}")
            return
        root = brick().root_of(found)
        if root == "Location":  # Brick 1.4 replaced every location class by a RealEstateCore one
            rec_class = rec_tree().replaced_by.get(found)
            if rec_class is None:
                self.report.note("class not in Brick 1.4", f"{subject} a brick:{name}")
                return
            self._add_location(rec_class, labels, props)
            self.report.classes[(name, f"rec:{rec_class}", "replaced")] += 1
            return
        if root not in ("Point", "Equipment"):
            self.report.note("not a point, equipment or location", f"{subject} a brick:{name}")
            return
        labels.add(root)
        if props.get("brickClass") and props["brickClass"] != found:
            self.report.note("two Brick classes (the first is kept)", f"{subject}: {props['brickClass']}, {found}")
            return
        props["brickClass"] = found
        if how != "as is":
            self.report.classes[(name, found, how)] += 1

    # identity -----------------------------------------------------------------------------------

    def global_id(self, subject: Node) -> str | None:
        for reference in self.graph.objects(subject, self.v.ref.hasExternalReference):
            found = self.graph.value(reference, self.v.ref.ifcGlobalID)
            if found is not None:
                return str(found)
        found = self.graph.value(subject, self.v.property_predicate("globalId"))
        return str(found) if found is not None else None

    def uid_for(self, subject: Node) -> str | None:
        """kgtwin's own IRIs name their node; an IFC GlobalId names the IFC node; else the IRI's local name."""
        if not isinstance(subject, URIRef):
            return None
        ours = self.v.uid_of(str(subject), self.model)
        if ours is not None:
            return ours
        global_id = self.global_id(subject)
        if global_id is not None:
            return f"{self.model}:{global_id}"
        text = str(subject)
        uid = f"{self.model}:{self.local_name(text)}"
        owner = self._local_uids.setdefault(uid, subject)
        if owner != subject:  # two namespaces with the same local name: the second keeps its IRI's digest
            uid = f"{uid}~{hashlib.blake2b(text.encode(), digest_size=4).hexdigest()}"
        return uid

    def local_name(self, iri: str) -> str:
        """What names a resource within its file: the IRI after the longest namespace the file binds
        (a local name may hold '/'), else after its last '#' or '/'."""
        for namespace in self.namespaces:
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return unquote(iri[len(namespace) :])
        return unquote(re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri)

    # reading ------------------------------------------------------------------------------------

    def read(self) -> None:
        aux_types = {self.v.ref.TimeseriesReference, self.v.ref.IFCReference, self.v.kgtwin.Link}
        for subject in sorted(set(self.graph.subjects(RDF.type, None)), key=str):
            types = set(self.graph.objects(subject, RDF.type))
            if types & aux_types:
                continue  # read with the node or link they describe
            classified = self.classify(subject)
            if classified is None:
                if not any(brick_class_name(str(t)) for t in types):
                    self.report.note("typed with no Brick, BOT or RealEstateCore class", str(subject))
                continue
            uid = self.uid_for(subject)
            if uid is None:
                self.report.note("blank node (no IRI to name it by)", f"{subject} a {sorted(map(str, types))[0]}")
                continue
            label, extra, props = classified
            props.update(self.literals(subject))
            self.resources[subject] = _Resource(uid, label, extra, props)
        self._ours_untyped()
        self._read_links()
        self._read_qualified_links()

    def _ours_untyped(self) -> None:
        """Untyped resources may still name nodes the graph holds: by a kgtwin IRI, or by an IFC
        GlobalId through Brick's ref:IFCReference."""
        candidates = {t for t in self.graph.all_nodes() if isinstance(t, URIRef) and self.v.uid_of(str(t), self.model)}
        candidates |= {s for s in self.graph.subjects(self.v.ref.hasExternalReference, None) if self.global_id(s)}
        for term in sorted(candidates - set(self.resources), key=str):
            uid = self.uid_for(term)
            if uid is not None:
                self.resources[term] = _Resource(uid, "", (), {}, existing=True)

    def literals(self, subject: Node) -> dict[str, Any]:
        v, props = self.v, {}
        values: dict[str, list[Any]] = defaultdict(list)
        for predicate, obj in self.graph.predicate_objects(subject):
            if predicate == RDFS.label and isinstance(obj, Literal):
                values["name"].append(str(obj))
            elif predicate == RDFS.comment and isinstance(obj, Literal):
                values["description"].append(str(obj))
            elif predicate == v.brick.hasUnit:
                written = v.unit_of.get(obj)  # type: ignore[call-overload]
                if written is None:
                    self.report.note("unit not in the alignment's qudt_units", f"{subject} brick:hasUnit {obj}")
                    written = f"qudt:{str(obj).rsplit('/', 1)[-1]}"
                values["unit"].append(written)
            elif predicate == v.ref.ifcGlobalID or predicate == v.ref.ifcProjectID:
                values["globalId"].append(str(obj))
            elif (key := v.property_key(predicate)) is not None and key not in ("linkType", "linkFrom", "linkTo"):
                if isinstance(obj, Literal):
                    values[key].append(v.value_of(key, obj))
                elif key.startswith("unit.") and obj in v.unit_of:
                    values[key].append(v.unit_of[obj])  # type: ignore[index]
        global_id = self.global_id(subject)
        if global_id is not None:
            values["globalId"] = [global_id]
        for key, found in values.items():
            found = sorted(found, key=str)
            props[key] = found if key in LIST_KEYS or len(found) > 1 else found[0]
        return props

    def _read_links(self) -> None:
        v = self.v
        for subject, predicate, obj in self.graph:
            if predicate in v.type_of:
                start, end, rel_type = subject, obj, v.type_of[predicate]  # type: ignore[index]
            elif predicate in v.inverse_type_of:
                start, end, rel_type = obj, subject, v.inverse_type_of[predicate]  # type: ignore[index]
            else:
                if predicate not in self.read_with_node and v.property_key(predicate) is None:
                    name = self.name(predicate)
                    self.report.note(f"statements with {name} not imported", f"{subject} {name} {obj}")
                continue
            self._add_link(rel_type, start, end, f"{subject} {self.name(predicate)} {obj}")

    def name(self, term: Node) -> str:
        return term.n3(self.graph.namespace_manager)

    def _add_link(
        self, rel_type: str, start: Node, end: Node, stated: str, props: dict[str, Any] | None = None
    ) -> None:
        """A link from start to end; `stated` is the statement as the file has it, for the report."""
        a, b = self.resources.get(start), self.resources.get(end)
        if a is None or b is None:
            missing = end if a is not None else start
            where = "untyped" if not any(self.graph.objects(missing, RDF.type)) else "not imported"
            self.report.note(f"link to a resource that is {where}", stated)
            return
        if rel_type == "HAS_LOCATION" and "Point" in a.extra:
            # Brick: points cannot have locations; a point's location is what it is a point of
            rel_type, a, b = "HAS_POINT", b, a
            self.report.note("point location read as isPointOf", f"{start} -> {end}", repaired=True)
        elif rel_type == "HAS_PART" and a.label in LOCATION_LABELS and b.label in LOCATION_LABELS:
            rel_type = self.align.location_parts.get((a.label, b.label), rel_type)
        self.links.setdefault((rel_type, a.uid, b.uid), {}).update(props or {})

    def _read_qualified_links(self) -> None:
        v = self.v
        for link in self.graph.subjects(RDF.type, v.kgtwin.Link):
            rel_type = str(self.graph.value(link, v.kgtwin.linkType) or "")
            start, end = self.graph.value(link, v.kgtwin.linkFrom), self.graph.value(link, v.kgtwin.linkTo)
            if rel_type not in v.predicate or start is None or end is None:
                self.report.note("incomplete kgtwin:Link", str(link))
                continue
            props = {
                key: v.value_of(key, obj)
                for predicate, obj in self.graph.predicate_objects(link)
                if isinstance(obj, Literal) and (key := v.property_key(predicate)) not in (None, "linkType")
            }
            self._add_link(rel_type, start, end, f"{link} (a kgtwin:Link)", props)


def locate(
    resources: Iterable[_Resource], links: Iterable[tuple[str, str, str]], placed: dict[str, dict[str, str]]
) -> None:
    """Give new nodes the uids of the building, storey and space they are in, from the links that
    say so (spatial structure, containment, parts, points, Brick locations) and from the place of
    nodes already in the graph (`placed`)."""
    down: dict[str, list[str]] = defaultdict(list)
    for rel_type, start, end in sorted(links):
        if rel_type in ("HAS_STOREY", "HAS_SPACE", "CONTAINS_ELEMENT", "HAS_SUB_ELEMENT", "HAS_POINT", "HAS_PART"):
            down[start].append(end)
        elif rel_type == "HAS_LOCATION":
            down[end].append(start)
    by_uid = {r.uid: r for r in resources}
    queue: deque[tuple[str, dict[str, str]]] = deque()
    for uid, resource in sorted(by_uid.items()):
        if resource.label == "Building" and not resource.existing:
            queue.append((uid, {"building": uid}))
    for uid, place in sorted(placed.items()):
        queue.append((uid, place))
    seen = {uid for uid, _ in queue}
    while queue:
        uid, place = queue.popleft()
        for child in down.get(uid, ()):
            resource = by_uid.get(child)
            if child in seen or resource is None or resource.existing:
                continue
            seen.add(child)
            resource.props.update(place)
            inner = dict(place)
            if resource.label == "Storey":
                inner = {"building": place.get("building", ""), "storey": child}
            elif resource.label == "Space":
                inner = {**place, "space": child}
            queue.append((child, {k: v for k, v in inner.items() if v}))


BATCH = 2000


async def import_rdf(store: GraphStore, path: Path, model: str, settings: Settings) -> ImportReport:
    """Import a Brick (or kgtwin) RDF model into graph model `model`, in one transaction."""
    began = time.perf_counter()
    graph = read_rdf(path)
    report = ImportReport(model=model, file=Path(path).name, triples=len(graph))
    reader = RdfModelReader(graph, model, vocabulary_for(settings), report)
    reader.read()
    resources = list(reader.resources.values())
    existing = await _existing(store, [r.uid for r in resources])
    placed: dict[str, dict[str, str]] = {}
    for resource in resources:
        found = existing.get(resource.uid)
        if found is not None:
            resource.existing = True
            resource.label = next(label for label in KEYED_ORDER if label in found["labels"])
            report.bound[resource.label] += 1
            place = {k: found[k] for k in ("building", "storey", "space") if found.get(k)}
            if resource.label in ("Building", "Storey", "Space"):
                place[resource.label.lower()] = resource.uid
            placed[resource.uid] = place
        elif resource.existing:  # a kgtwin IRI the graph does not hold
            report.note("names a node the graph does not hold", resource.uid)
    label_of = {r.uid: r.label for r in resources if r.label}
    links = {key: props for key, props in reader.links.items() if key[1] in label_of and key[2] in label_of}
    locate(resources, links, placed)
    await store.ensure_schema(INDEXES)
    async with store.transaction() as tx:
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for resource in resources:
            if not resource.existing:
                groups[(resource.label, resource.extra)].append({"uid": resource.uid, "props": resource.props})
                report.nodes[resource.label] += 1
        statement = None
        for (label, extra), rows in sorted(groups.items()):
            statement = named_query("rdf/upsert_nodes").render(label=label, labels=list(extra))
            for start in range(0, len(rows), BATCH):
                await tx.run(statement, {"rows": rows[start : start + BATCH], "model": model})
        by_type: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for (rel_type, start_uid, end_uid), props in sorted(links.items()):
            by_type[(rel_type, label_of[start_uid], label_of[end_uid])].append(
                {"start": start_uid, "end": end_uid, "props": props}
            )
            report.links[rel_type] += 1
        for (rel_type, start_label, end_label), rows in sorted(by_type.items()):
            statement = named_query("rdf/link").render(start=start_label, end=end_label, type=rel_type)
            for start in range(0, len(rows), BATCH):
                await tx.run(statement, {"rows": rows[start : start + BATCH]})
        ifc_file = next((str(o) for o in graph.objects(None, reader.v.ref.ifcFileLocation)), None)
        params = {"model": model, "file": report.file, "ifcFile": ifc_file, "now": int(time.time() * 1000)}
        await tx.run(named_query("rdf/upsert_model").text, params)
    report.seconds = time.perf_counter() - began
    return report


async def _existing(store: GraphStore, uids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for label in KEYED_ORDER:
        for start in range(0, len(uids), BATCH):
            for row in await store.execute("rdf/existing", {"uids": uids[start : start + BATCH]}, label=label):
                found.setdefault(row["uid"], row)
    return found
